namespace RevenueLedger.Domain.Reporting;

/// <summary>A row's owner group: the company-wide row (<c>*</c>), an owner, or the unassigned owner (null id).</summary>
public readonly record struct OwnerGroup(string? Id, bool IsAll)
{
    public static readonly OwnerGroup All = new(null, true);

    public static OwnerGroup Of(string? ownerId) => new(ownerId, false);

    /// <summary>Rows sort company-wide first, then owners by id, the unassigned owner last.</summary>
    public static int Compare(OwnerGroup a, OwnerGroup b) =>
        a.IsAll != b.IsAll ? (a.IsAll ? -1 : 1)
        : a.Id is null != b.Id is null ? (a.Id is null ? 1 : -1)
        : string.CompareOrdinal(a.Id, b.Id);

    public override string ToString() => IsAll ? "*" : Id ?? "(unassigned)";
}

/// <summary>Spec §6: the cohort of accounts active on the window's first day, held by one owner then.</summary>
public sealed record NrrRow(
    OwnerGroup Owner, decimal OpeningMrr, decimal Expansion, decimal Contraction, decimal Churn, decimal Reactivation,
    decimal ClosingMrr, int AccountsOpening, int AccountsRetained, string Currency = "")
{
    public decimal? Nrr => OpeningMrr == 0 ? null : ClosingMrr / OpeningMrr;

    public decimal? Grr => OpeningMrr == 0 ? null : (OpeningMrr - Contraction - Churn) / OpeningMrr;
}

/// <summary>Spec §7: every movement of every account, attributed to the owner during the movement's day.</summary>
public sealed record BridgeRow(
    OwnerGroup Owner, decimal OpeningMrr, decimal New, decimal Expansion, decimal Contraction, decimal Churn, decimal Reactivation,
    decimal TransferIn, decimal TransferOut, decimal ClosingMrr, int AccountsChurned, decimal FxImpact = 0, string Currency = "")
{
    public bool IsZero => OpeningMrr == 0 && New == 0 && Expansion == 0 && Contraction == 0 && Churn == 0 && Reactivation == 0
        && TransferIn == 0 && TransferOut == 0 && ClosingMrr == 0 && AccountsChurned == 0 && FxImpact == 0;
}

/// <summary>Spec §4 churn reasons: MRR lost to a reason, and accounts counted once under their main reason.</summary>
public sealed record ChurnReasonRow(OwnerGroup Owner, string Reason, decimal MrrLost, int Accounts, string Currency = "");

/// <summary>
/// One window's rows. As summed (<see cref="Currency"/> empty), rows are per account currency, each in its native
/// amounts (an account's currency is the row's); <see cref="Conversion.ToCurrency"/> turns that into one row per owner
/// in a reporting currency, with the rates it used.
/// </summary>
public sealed record WindowReport(
    Window Window, IReadOnlyList<NrrRow> Nrr, IReadOnlyList<BridgeRow> Bridge,
    IReadOnlyList<ChurnReasonRow> ChurnReasons, IReadOnlyList<ChurnReasonRow> ChurnReasonsByOwner,
    string Currency = "", IReadOnlyList<RateUsed>? Rates = null)
{
    public bool IsNative => Currency.Length == 0;
}

public static class Reports
{
    /// <summary>
    /// NRR cohort rows, bridge rows and churn reasons for [from, to). NRR rows exist for groups with a non-empty
    /// cohort; bridge rows that are all zero are left out; churn reasons are sorted by MRR lost, then name.
    /// </summary>
    public static WindowReport Compute(IEnumerable<AccountHistory> accounts, Window window, bool byOwner = true, ReportParts parts = ReportParts.All)
    {
        var totals = new WindowTotals(window, byOwner, parts);
        foreach (var account in accounts) totals.Add(account);
        return totals.ToReport();
    }

    /// <summary>The same over a list: each core sums a contiguous share of the accounts, and the shares are merged.</summary>
    public static WindowReport Compute(IReadOnlyList<AccountHistory> accounts, Window window, bool byOwner = true, ReportParts parts = ReportParts.All)
    {
        int shares = Math.Max(1, Math.Min(Environment.ProcessorCount, accounts.Count / 2048));
        var partial = new WindowTotals[shares];
        Parallel.For(0, shares, share =>
        {
            var totals = new WindowTotals(window, byOwner, parts);
            for (int i = share * accounts.Count / shares, end = (share + 1) * accounts.Count / shares; i < end; i++) totals.Add(accounts[i]);
            partial[share] = totals;
        });
        for (int share = 1; share < shares; share++) partial[0].Merge(partial[share]);
        return partial[0].ToReport();
    }
}

/// <summary>Which reports to sum: a caller that shows one skips the work of the others.</summary>
[Flags]
public enum ReportParts
{
    Nrr = 1,
    Bridge = 2,
    ChurnReasons = 4,
    All = Nrr | Bridge | ChurnReasons,
}

/// <summary>
/// The sums behind one window's report, per account currency. Every row is a sum of per-account contributions, so an
/// account's history can be added, or taken out again (sign −1) when a late event changes it: that is how read models
/// stay exact without recomputing every account. Amounts stay native (an account's currency); a report converts them
/// into its reporting currency afterwards, which is linear per currency (spec §10).
/// </summary>
public sealed class WindowTotals(Window window, bool byOwner = true, ReportParts parts = ReportParts.All)
{
    private readonly Dictionary<string, CurrencyTotals> _currencies = new(StringComparer.Ordinal);
    private CurrencyTotals? _last;
    private string? _lastCurrency;

    public Window Window => window;

    public void Add(AccountHistory account, int sign = 1) =>
        Add(account, account.FirstMovementFrom(window.From), account.FirstMovementFrom(window.To), sign);

    /// <summary>
    /// The same, given the account's movements in this window as indexes [first, end): MRR at the window's edges
    /// follows from them (a sweep over consecutive windows finds them without searching).
    /// </summary>
    public void Add(AccountHistory account, int first, int end, int sign) => Of(account.Currency).Add(account, first, end, sign);

    // Currencies are shared strings and a book has few: the last one is kept at hand by reference.
    private CurrencyTotals Of(string currency)
    {
        if (_last is not null && ReferenceEquals(currency, _lastCurrency)) return _last;
        if (!_currencies.TryGetValue(currency, out var totals)) _currencies[currency] = totals = new CurrencyTotals(window, byOwner, parts, currency);
        (_lastCurrency, _last) = (currency, totals);
        return totals;
    }

    /// <summary>Adds another set of sums for the same window (parts of the accounts summed apart, e.g. on several cores).</summary>
    public void Merge(WindowTotals other)
    {
        if (other.Window != window) throw new ArgumentException($"cannot merge {other.Window} into {window}", nameof(other));
        foreach (var (currency, totals) in other._currencies) Of(currency).Merge(totals);
    }

    /// <summary>
    /// Adds every account to consecutive windows (each one's end the next one's start) in one pass over its
    /// movements, instead of searching them once per window.
    /// </summary>
    public static void AddToConsecutive(IReadOnlyList<WindowTotals> windows, IEnumerable<AccountHistory> accounts)
    {
        if (windows.Count == 0) return;
        foreach (var account in accounts)
        {
            int first = account.FirstMovementFrom(windows[0].Window.From);
            var movements = account.MovementSpan;
            foreach (var totals in windows)
            {
                int end = first;
                while (end < movements.Length && movements[end].Day < totals.Window.To) end++;
                totals.Add(account, first, end, 1);
                first = end;
            }
        }
    }

    /// <summary>
    /// Totals of consecutive windows over all the accounts: each core sums a share of the accounts in one sweep per
    /// account, and the shares are merged.
    /// </summary>
    public static WindowTotals[] SumConsecutive(IReadOnlyList<Window> windows, IReadOnlyList<AccountHistory> accounts, bool byOwner = true)
    {
        for (int i = 1; i < windows.Count; i++)
            if (windows[i].From != windows[i - 1].To) throw new ArgumentException("windows must be consecutive", nameof(windows));
        int parts = Math.Max(1, Math.Min(Environment.ProcessorCount, accounts.Count / 256));
        var partial = new WindowTotals[parts][];
        Parallel.For(0, parts, part =>
        {
            var mine = windows.Select(w => new WindowTotals(w, byOwner)).ToArray();
            AddToConsecutive(mine, accounts.Where((_, i) => i % parts == part));
            partial[part] = mine;
        });
        for (int part = 1; part < parts; part++)
            for (int i = 0; i < windows.Count; i++) partial[0][i].Merge(partial[part][i]);
        return partial[0];
    }

    /// <summary>The native report: rows per owner and account currency, ordered by owner, then currency.</summary>
    public WindowReport ToReport()
    {
        var parts = _currencies.Values.OrderBy(c => c.Currency, StringComparer.Ordinal).ToList();
        var nrrRows = parts.SelectMany(c => c.NrrRows()).OrderBy(r => r.Owner, Owners).ThenBy(r => r.Currency, StringComparer.Ordinal).ToList();
        var bridgeRows = parts.SelectMany(c => c.BridgeRows()).OrderBy(r => r.Owner, Owners).ThenBy(r => r.Currency, StringComparer.Ordinal).ToList();
        var churnRows = parts.SelectMany(c => c.ChurnRows())
            .OrderByDescending(r => r.MrrLost).ThenBy(r => r.Reason, StringComparer.Ordinal).ThenBy(r => r.Currency, StringComparer.Ordinal).ToList();
        return new WindowReport(window, nrrRows, bridgeRows,
            churnRows.Where(r => r.Owner.IsAll).ToList(),
            churnRows.Where(r => !r.Owner.IsAll).OrderBy(r => r.Owner, Owners).ToList());
    }

    internal static readonly IComparer<OwnerGroup> Owners = Comparer<OwnerGroup>.Create(OwnerGroup.Compare);
}

/// <summary>One currency's share of a window's sums: its accounts' native amounts.</summary>
internal sealed class CurrencyTotals(Window window, bool byOwner, ReportParts parts, string currency)
{
    public string Currency => currency;

    private readonly Dictionary<OwnerGroup, NrrAcc> _nrr = [];
    private readonly Dictionary<OwnerGroup, BridgeAcc> _bridge = [];
    private readonly Dictionary<(OwnerGroup, string), ChurnAcc> _churn = [];

    public Window Window => window;

    public void Add(AccountHistory account, int first, int end, int sign)
    {
        var (from, to) = (window.From, window.To);
        var movements = account.MovementSpan;
        decimal opening = first > 0 ? movements[first - 1].After : 0;
        decimal closing = end > 0 ? movements[end - 1].After : 0;
        if (opening == 0 && closing == 0 && first == end) return;

        // NRR: the cohort is fixed on day `from`, so every in-window movement goes to that owner's row.
        if (opening > 0 && (parts & ReportParts.Nrr) != 0)
        {
            AddToCohort(_nrrAll ??= Get(_nrr, OwnerGroup.All), account, opening, closing, first, end, sign);
            if (byOwner) AddToCohort(NrrOf(account.OwnerDuring(from)), account, opening, closing, first, end, sign);
        }

        // Bridge: company-wide needs no transfers; per owner, walk the window's days in order.
        if ((parts & ReportParts.Bridge) != 0)
        {
            var all = _bridgeAll ??= Get(_bridge, OwnerGroup.All);
            all.Opening += Signed(opening, sign); all.Closing += Signed(closing, sign);
            for (int i = first; i < end; i++) all.Add(in movements[i], sign);
            if (byOwner) AttributeBridge(account, first, end, opening, closing, sign);
        }

        if ((parts & ReportParts.ChurnReasons) == 0) return;
        for (int i = first; i < end; i++)
        {
            ref readonly var m = ref movements[i];
            if (m.Kind != MovementKind.Churn) continue;
            foreach (var share in m.ChurnShares)
            {
                AddChurn(Get(_churn, (OwnerGroup.All, share.Reason)), share, m, sign);
                if (byOwner) AddChurn(Get(_churn, (OwnerGroup.Of(account.OwnerDuring(m.Day)), share.Reason)), share, m, sign);
            }
        }
    }

    public void Merge(CurrencyTotals other)
    {
        foreach (var (g, o) in other._nrr) Get(_nrr, g).AddAll(o);
        foreach (var (g, o) in other._bridge) Get(_bridge, g).AddAll(o);
        foreach (var (k, o) in other._churn) { var c = Get(_churn, k); c.Mrr += o.Mrr; c.Accounts += o.Accounts; }
    }

    public IEnumerable<NrrRow> NrrRows() => _nrr.Where(kv => kv.Value.Accounts > 0).Select(kv => kv.Value.ToRow(kv.Key, currency));

    public IEnumerable<BridgeRow> BridgeRows() => _bridge.Select(kv => kv.Value.ToRow(kv.Key, currency)).Where(r => !r.IsZero);

    public IEnumerable<ChurnReasonRow> ChurnRows() => _churn.Where(kv => kv.Value.Mrr != 0 || kv.Value.Accounts != 0)
        .Select(kv => new ChurnReasonRow(kv.Key.Item1, kv.Key.Item2, kv.Value.Mrr, kv.Value.Accounts, currency));

    private void AttributeBridge(AccountHistory account, int first, int end, decimal opening, decimal closing, int sign)
    {
        var (from, to) = (window.From, window.To);
        var owner = account.OwnerDuring(from.AddDays(-1));
        var movements = account.MovementSpan;
        var acc = BridgeOf(owner);
        acc.Opening += Signed(opening, sign);
        int mi = first;
        foreach (var day in account.OwnerDaySpan)
        {
            if (day < from) continue;
            if (day >= to) break;
            for (; mi < end && movements[mi].Day < day; mi++) acc.Add(in movements[mi], sign);
            var next = account.OwnerDuring(day);
            if (next != owner)
            {
                // A handover on day d moves MRR(d) before that day's movement.
                var moved = account.MrrAt(day);
                acc.TransferOut += Signed(moved, sign);
                acc = BridgeOf(next);
                acc.TransferIn += Signed(moved, sign);
                owner = next;
            }
        }
        for (; mi < end; mi++) acc.Add(in movements[mi], sign);
        acc.Closing += Signed(closing, sign);
    }

    // Accumulators are only ever added to their table, never replaced or removed, so references to them stay valid.
    // The company-wide ones, and per table the last owner's (by reference: owner ids are shared strings), are kept
    // at hand: summing every account into every window looked owners up several times per account and window.
    private NrrAcc? _nrrAll, _lastNrr;
    private BridgeAcc? _bridgeAll, _lastBridge;
    private string? _lastNrrOwner, _lastBridgeOwner;

    private NrrAcc NrrOf(string? owner)
    {
        if (_lastNrr is null || !ReferenceEquals(owner, _lastNrrOwner)) (_lastNrrOwner, _lastNrr) = (owner, Get(_nrr, OwnerGroup.Of(owner)));
        return _lastNrr;
    }

    private BridgeAcc BridgeOf(string? owner)
    {
        if (_lastBridge is null || !ReferenceEquals(owner, _lastBridgeOwner)) (_lastBridgeOwner, _lastBridge) = (owner, Get(_bridge, OwnerGroup.Of(owner)));
        return _lastBridge;
    }

    private static void AddToCohort(NrrAcc acc, AccountHistory account, decimal opening, decimal closing, int first, int end, int sign)
    {
        acc.Opening += Signed(opening, sign); acc.Closing += Signed(closing, sign); acc.Accounts += sign;
        if (closing > 0) acc.Retained += sign;
        var movements = account.MovementSpan;
        for (int i = first; i < end; i++) acc.Add(in movements[i], sign);
    }

    private static void AddChurn(ChurnAcc acc, ChurnShare share, in Movement m, int sign)
    {
        acc.Mrr += Signed(share.Mrr, sign);
        if (share.Reason == m.ChurnReason) acc.Accounts += sign;
    }

    /// <summary>
    /// <c>sign * value</c> to the bit (a negated zero included) without a decimal multiplication: a sum over every
    /// account and window does millions of these.
    /// </summary>
    private static decimal Signed(decimal value, int sign) => sign switch { 1 => value, -1 => -value, _ => sign * value };

    private static TAcc Get<TKey, TAcc>(Dictionary<TKey, TAcc> d, TKey key) where TKey : notnull where TAcc : new()
    {
        if (!d.TryGetValue(key, out var acc)) d[key] = acc = new TAcc();
        return acc;
    }

    private class MovementSums
    {
        public decimal New, Expansion, Contraction, Churn, Reactivation;
        public int Churned;

        protected void AddSums(MovementSums o)
        {
            New += o.New; Expansion += o.Expansion; Contraction += o.Contraction; Churn += o.Churn; Reactivation += o.Reactivation; Churned += o.Churned;
        }

        public void Add(in Movement m, int sign)
        {
            switch (m.Kind)
            {
                case MovementKind.New: New += Signed(m.Amount, sign); break;
                case MovementKind.Expansion: Expansion += Signed(m.Amount, sign); break;
                case MovementKind.Contraction: Contraction += Signed(m.Amount, sign); break;
                case MovementKind.Churn: Churn += Signed(m.Amount, sign); Churned += sign; break;
                case MovementKind.Reactivation: Reactivation += Signed(m.Amount, sign); break;
            }
        }
    }

    private sealed class NrrAcc : MovementSums
    {
        public decimal Opening, Closing;
        public int Accounts, Retained;

        public NrrRow ToRow(OwnerGroup g, string currency) => new(g, Opening, Expansion, Contraction, Churn, Reactivation, Closing, Accounts, Retained, currency);

        public void AddAll(NrrAcc o)
        {
            AddSums(o);
            Opening += o.Opening; Closing += o.Closing; Accounts += o.Accounts; Retained += o.Retained;
        }
    }

    private sealed class BridgeAcc : MovementSums
    {
        public decimal Opening, Closing, TransferIn, TransferOut;

        public BridgeRow ToRow(OwnerGroup g, string currency) => new(g, Opening, New, Expansion, Contraction, Churn, Reactivation, TransferIn, TransferOut, Closing, Churned, 0, currency);

        public void AddAll(BridgeAcc o)
        {
            AddSums(o);
            Opening += o.Opening; Closing += o.Closing; TransferIn += o.TransferIn; TransferOut += o.TransferOut;
        }
    }

    private sealed class ChurnAcc
    {
        public decimal Mrr;
        public int Accounts;
    }
}
