namespace RevenueLedger.Domain.Reporting;

/// <summary>An exchange rate as the log holds it: the <see cref="FxRateRecorded"/> at <paramref name="Position"/>.</summary>
public readonly record struct RecordedRate(long Position, string Currency, string QuoteCurrency, DateOnly EffectiveDate, decimal Rate)
{
    public static RecordedRate Of(FxRateRecorded e, long position) => new(position, e.Currency, e.QuoteCurrency, e.EffectiveDate, e.Rate);
}

/// <summary>A rate a report converted with: the pair, the day it was needed on, the rate in force then and where it is in the log.</summary>
public sealed record RateUsed(string Currency, string QuoteCurrency, DateOnly Date, decimal Rate, long Position);

/// <summary>
/// Every recorded rate, by pair (spec §10): the rate of (C, R) in force on day d is the one with the latest
/// (effectiveDate ≤ d, position). Rates are never inverted or chained.
/// </summary>
public sealed class FxRateTable
{
    public static readonly FxRateTable Empty = new([]);

    // Per pair, ordered by (effective date, position).
    private readonly Dictionary<(string, string), RecordedRate[]> _byPair;

    public FxRateTable(IEnumerable<RecordedRate> rates)
    {
        All = rates.OrderBy(r => r.Position).ToList();
        _byPair = All.GroupBy(r => (r.Currency, r.QuoteCurrency))
            .ToDictionary(g => g.Key, g => g.OrderBy(r => r.EffectiveDate).ThenBy(r => r.Position).ToArray());
    }

    /// <summary>In position order.</summary>
    public IReadOnlyList<RecordedRate> All { get; }

    /// <summary>The rate of (<paramref name="currency"/>, <paramref name="quote"/>) in force on <paramref name="day"/>, as known at <paramref name="asOfPosition"/>.</summary>
    public RecordedRate? InForce(string currency, string quote, DateOnly day, long asOfPosition = long.MaxValue)
    {
        if (!_byPair.TryGetValue((currency, quote), out var rates)) return null;
        for (int i = rates.Length - 1; i >= 0; i--)
            if (rates[i].EffectiveDate <= day && rates[i].Position <= asOfPosition) return rates[i];
        return null;
    }
}

/// <summary>A report needs a rate the log does not hold (spec §10: never taken as 1 or 0).</summary>
public sealed class FxRateMissingException(string currency, string quoteCurrency, DateOnly day)
    : Exception($"no {currency}→{quoteCurrency} exchange rate is in force on {Dates.Format(day)}: record one (FxRateRecorded {currency}/{quoteCurrency} effective on or before {Dates.Format(day)}) or report in {currency}")
{
    public string Currency { get; } = currency;

    public string QuoteCurrency { get; } = quoteCurrency;

    public DateOnly Day { get; } = day;
}

/// <summary>A converted total would reach 10^14 reporting units (spec §10): the report fails rather than round.</summary>
public sealed class AmountOverflowException(string what, string currency)
    : Exception($"{what} would reach 10^14 {currency}: the report is refused rather than rounded; report in another currency or a narrower scope");

/// <summary>
/// Spec §10, constant currency at the window's opening rate: every amount of an account in the window's rows is its
/// native amount × r(a), the rate into the reporting currency in force on the window's first day; the bridge's closing
/// MRR is at the rate in force on day <c>to</c>, and the difference is the <c>fxImpact</c> line. Converting the sums
/// per currency is the same as converting each account (the rate is one per currency and day), so read models keep
/// native sums and any reporting currency is a multiplication away. Products and sums are exact decimals.
/// </summary>
public static class Conversion
{
    public const decimal Limit = 100_000_000_000_000m; // 10^14

    /// <param name="parts">
    /// The rows to convert; the others come back empty. The rates needed, and the refusal of a missing one, are those
    /// of the whole report whatever is converted, so every part of one window states the same rates.
    /// </param>
    public static WindowReport ToCurrency(WindowReport native, string reporting, FxRateTable rates, long asOfPosition = long.MaxValue, ReportParts parts = ReportParts.All)
    {
        if (!native.IsNative) throw new ArgumentException($"the report is already in {native.Currency}", nameof(native));
        var (from, to) = (native.Window.From, native.Window.To);
        // Which rates the rows need: on `from` for a currency with any non-zero amount, on `to` for one whose accounts
        // close with MRR (the bridge's closing). Amounts are sums of non-negative parts, so a zero sum is zero parts.
        var needFrom = new SortedSet<string>(StringComparer.Ordinal);
        var needTo = new SortedSet<string>(StringComparer.Ordinal);
        bool Foreign(string c) => c.Length > 0 && c != reporting;
        foreach (var r in native.Nrr)
            if (Foreign(r.Currency) && (r.OpeningMrr != 0 || r.Expansion != 0 || r.Contraction != 0 || r.Churn != 0 || r.Reactivation != 0 || r.ClosingMrr != 0)) needFrom.Add(r.Currency);
        foreach (var r in native.Bridge)
        {
            if (!Foreign(r.Currency)) continue;
            if (r.OpeningMrr != 0 || r.New != 0 || r.Expansion != 0 || r.Contraction != 0 || r.Churn != 0 || r.Reactivation != 0 || r.TransferIn != 0 || r.TransferOut != 0 || r.ClosingMrr != 0)
                needFrom.Add(r.Currency);
            if (r.ClosingMrr != 0) needTo.Add(r.Currency);
        }
        foreach (var r in native.ChurnReasons.Concat(native.ChurnReasonsByOwner))
            if (Foreign(r.Currency) && r.MrrLost != 0) needFrom.Add(r.Currency);

        var used = new List<RateUsed>();
        Dictionary<string, decimal> Lookup(SortedSet<string> currencies, DateOnly day)
        {
            var found = new Dictionary<string, decimal>(StringComparer.Ordinal);
            foreach (var c in currencies)
            {
                var rate = rates.InForce(c, reporting, day, asOfPosition) ?? throw new FxRateMissingException(c, reporting, day);
                found[c] = rate.Rate;
                used.Add(new RateUsed(c, reporting, day, rate.Rate, rate.Position));
            }
            return found;
        }
        var opening = Lookup(needFrom, from);
        var closing = Lookup(needTo, to);
        decimal R(string c) => opening.TryGetValue(c, out var r) ? r : 1m;
        // A currency needs a closing rate only when its accounts close with MRR; otherwise its closing is 0 either way.
        decimal RClose(string c) => closing.TryGetValue(c, out var r) ? r : R(c);

        decimal Check(decimal value, string what) => Math.Abs(value) >= Limit ? throw new AmountOverflowException(what, reporting) : value;
        static IEnumerable<T> ByOwner<T>(IReadOnlyList<T> rows, Func<T, OwnerGroup> owner)
        {
            for (int i = 1; i < rows.Count; i++)
                if (WindowTotals.Owners.Compare(owner(rows[i - 1]), owner(rows[i])) > 0) return rows.OrderBy(owner, WindowTotals.Owners);
            return rows;
        }

        // Native rows come ordered by owner, then currency (each owner's rows together): one pass merges them.
        var nrr = new List<NrrRow>(native.Nrr.Count);
        foreach (var r in (parts & ReportParts.Nrr) != 0 ? ByOwner(native.Nrr, x => x.Owner) : [])
        {
            decimal k = R(r.Currency);
            var row = new NrrRow(r.Owner, Check(r.OpeningMrr * k, "openingMrr"), Check(r.Expansion * k, "expansion"), Check(r.Contraction * k, "contraction"),
                Check(r.Churn * k, "churn"), Check(r.Reactivation * k, "reactivation"), Check(r.ClosingMrr * k, "closingMrr"), r.AccountsOpening, r.AccountsRetained, reporting);
            if (nrr.Count > 0 && nrr[^1].Owner == r.Owner)
            {
                var p = nrr[^1];
                row = new NrrRow(r.Owner, Check(p.OpeningMrr + row.OpeningMrr, "openingMrr"), Check(p.Expansion + row.Expansion, "expansion"),
                    Check(p.Contraction + row.Contraction, "contraction"), Check(p.Churn + row.Churn, "churn"), Check(p.Reactivation + row.Reactivation, "reactivation"),
                    Check(p.ClosingMrr + row.ClosingMrr, "closingMrr"), p.AccountsOpening + row.AccountsOpening, p.AccountsRetained + row.AccountsRetained, reporting);
                nrr[^1] = row;
            }
            else nrr.Add(row);
        }
        var bridge = new List<BridgeRow>(native.Bridge.Count);
        foreach (var r in (parts & ReportParts.Bridge) != 0 ? ByOwner(native.Bridge, x => x.Owner) : [])
        {
            decimal k = R(r.Currency), kClose = RClose(r.Currency);
            var row = new BridgeRow(r.Owner, Check(r.OpeningMrr * k, "openingMrr"), Check(r.New * k, "new"), Check(r.Expansion * k, "expansion"),
                Check(r.Contraction * k, "contraction"), Check(r.Churn * k, "churn"), Check(r.Reactivation * k, "reactivation"), Check(r.TransferIn * k, "transferIn"),
                Check(r.TransferOut * k, "transferOut"), Check(r.ClosingMrr * kClose, "closingMrr"), r.AccountsChurned, Check(r.ClosingMrr * (kClose - k), "fxImpact"), reporting);
            if (bridge.Count > 0 && bridge[^1].Owner == r.Owner)
            {
                var p = bridge[^1];
                row = new BridgeRow(r.Owner, Check(p.OpeningMrr + row.OpeningMrr, "openingMrr"), Check(p.New + row.New, "new"), Check(p.Expansion + row.Expansion, "expansion"),
                    Check(p.Contraction + row.Contraction, "contraction"), Check(p.Churn + row.Churn, "churn"), Check(p.Reactivation + row.Reactivation, "reactivation"),
                    Check(p.TransferIn + row.TransferIn, "transferIn"), Check(p.TransferOut + row.TransferOut, "transferOut"), Check(p.ClosingMrr + row.ClosingMrr, "closingMrr"),
                    p.AccountsChurned + row.AccountsChurned, Check(p.FxImpact + row.FxImpact, "fxImpact"), reporting);
                bridge[^1] = row;
            }
            else bridge.Add(row);
        }
        bridge.RemoveAll(r => r.IsZero);
        // Churn rows are the most numerous (owner × reason × currency): merged through an index, sorted once.
        List<ChurnReasonRow> Churn(IReadOnlyList<ChurnReasonRow> rows)
        {
            var at = new Dictionary<(OwnerGroup, string), int>(rows.Count);
            var merged = new List<ChurnReasonRow>(rows.Count);
            foreach (var r in rows)
            {
                decimal lost = Check(r.MrrLost * R(r.Currency), "mrrLost");
                if (at.TryGetValue((r.Owner, r.Reason), out int i))
                    merged[i] = merged[i] with { MrrLost = Check(merged[i].MrrLost + lost, "mrrLost"), Accounts = merged[i].Accounts + r.Accounts };
                else
                {
                    at[(r.Owner, r.Reason)] = merged.Count;
                    merged.Add(new ChurnReasonRow(r.Owner, r.Reason, lost, r.Accounts, reporting));
                }
            }
            return merged;
        }
        static int ByLoss(ChurnReasonRow a, ChurnReasonRow b) =>
            b.MrrLost != a.MrrLost ? b.MrrLost.CompareTo(a.MrrLost) : string.CompareOrdinal(a.Reason, b.Reason);
        bool churnRows = (parts & ReportParts.ChurnReasons) != 0;
        var churn = Churn(churnRows ? native.ChurnReasons : []);
        churn.Sort(ByLoss);
        var churnByOwner = Churn(churnRows ? native.ChurnReasonsByOwner : []);
        churnByOwner.Sort((a, b) => WindowTotals.Owners.Compare(a.Owner, b.Owner) is var c and not 0 ? c : ByLoss(a, b));
        return new WindowReport(native.Window, nrr, bridge, churn, churnByOwner, reporting, used.OrderBy(u => u.Date).ThenBy(u => u.Currency, StringComparer.Ordinal).ToList());
    }

    /// <summary>Every window in the reporting currency; the first rate missing (in window order, then day, then currency) fails the whole report.</summary>
    public static IReadOnlyList<WindowReport> ToCurrency(IReadOnlyList<WindowReport> native, string reporting, FxRateTable rates, long asOfPosition = long.MaxValue,
        ReportParts parts = ReportParts.All) =>
        native.Select(w => ToCurrency(w, reporting, rates, asOfPosition, parts)).ToList();
}
