using System.Runtime.InteropServices;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.EventStore;

namespace RevenueLedger.Application.Projections;

/// <summary>A calendar window of one kind, as read models key it.</summary>
public readonly record struct WindowKey(WindowKind Kind, DateOnly From, DateOnly To)
{
    public Window Window => new(From, To);

    public static string KindName(WindowKind kind) => kind.ToString().ToLowerInvariant();
}

/// <summary>
/// What one projection step changed: the rows of these windows and these accounts' histories, up to Position. The
/// first <see cref="Replaced"/> histories replace stored ones; the rest are of accounts that have none stored yet
/// (so a store need not look for an old row to remove).
/// </summary>
public sealed record ProjectionChanges(long Position, IReadOnlyList<(WindowKey Key, WindowReport Report)> Windows, IReadOnlyList<AccountHistory> Accounts, int Replaced)
{
    public ProjectionChanges(long position, IReadOnlyList<(WindowKey Key, WindowReport Report)> windows, IReadOnlyList<AccountHistory> accounts)
        : this(position, windows, accounts, accounts.Count)
    {
    }

    /// <summary>Exchange rates recorded since the last step (rows stay native: a rate changes no stored row).</summary>
    public IReadOnlyList<RecordedRate> Rates { get; init; } = [];
}

/// <summary>
/// The projection engine: folds the log, in position order, into every account's history and the NRR, bridge and
/// churn-reason totals of every calendar month, quarter and year the book spans. A late (back-dated) event or a
/// reversal rebuilds its account's history, and the difference is taken out of and put into exactly the windows
/// it can change (those ending after the earliest date it touches). Deterministic: the same events give the same
/// rows, whichever process folds them, which is what lets two projectors race and crash safely.
/// </summary>
public sealed class Projection
{
    private static readonly WindowKind[] Kinds = [WindowKind.Month, WindowKind.Quarter, WindowKind.Year];

    private readonly Dictionary<string, AccountFacts> _accounts = new(StringComparer.Ordinal);
    private readonly NameTable _names = new();
    private readonly Dictionary<string, AccountHistory> _histories = new(StringComparer.Ordinal);
    private readonly SortedDictionary<WindowKey, WindowTotals> _windows = new(Comparer<WindowKey>.Create(
        (a, b) => a.Kind != b.Kind ? a.Kind.CompareTo(b.Kind) : a.From.CompareTo(b.From)));
    private DateOnly? _first, _last;
    private readonly List<RecordedRate> _rates = [];
    private int _ratesFlushed;

    public long Position { get; private set; }

    /// <summary>Every exchange rate folded so far, in position order.</summary>
    public IReadOnlyList<RecordedRate> Rates => _rates;

    public int AccountCount => _histories.Count;

    /// <summary>
    /// An account's facts in commit order, with their event ids (for reversals) and the earliest date changed since
    /// the last flush. The ids (ASCII by the rules) are bytes in one array, copied as stored: a catch-up holds a
    /// million of them, and as a million strings they were most of what the collector had to trace.
    /// </summary>
    private sealed class AccountFacts(string id)
    {
        private byte[] _ids = new byte[128];
        private int[] _idEnds = new int[4];
        private int _idLength;

        public string Id { get; } = id;
        public List<AccountFact> Facts { get; } = [];
        public DateOnly? ChangedSince { get; set; }

        public void Add(ReadOnlySpan<byte> eventId, AccountFact fact)
        {
            if (_idLength + eventId.Length > _ids.Length) Array.Resize(ref _ids, Math.Max(_ids.Length * 2, _idLength + eventId.Length));
            if (Facts.Count == _idEnds.Length) Array.Resize(ref _idEnds, _idEnds.Length * 2);
            eventId.CopyTo(_ids.AsSpan(_idLength));
            _idEnds[Facts.Count] = _idLength += eventId.Length;
            Facts.Add(fact);
        }

        public int IndexOf(ReadOnlySpan<byte> eventId)
        {
            for (int i = 0, start = 0; i < Facts.Count; start = _idEnds[i++])
                if (_ids.AsSpan(start, _idEnds[i] - start).SequenceEqual(eventId)) return i;
            return -1;
        }

        public void RemoveAt(int index)
        {
            int start = index == 0 ? 0 : _idEnds[index - 1], length = _idEnds[index] - start;
            Array.Copy(_ids, start + length, _ids, start, _idLength - start - length);
            _idLength -= length;
            for (int i = index; i < Facts.Count - 1; i++) _idEnds[i] = _idEnds[i + 1] - length;
            Facts.RemoveAt(index);
        }
    }

    private readonly List<AccountFacts> _touched = []; // accounts changed since the last flush, in the order first changed

    /// <summary>Applies events after <see cref="Position"/>, in position order, and says what changed.</summary>
    public ProjectionChanges Apply(IEnumerable<PositionedEvent> events)
    {
        Add(events);
        return Flush();
    }

    /// <summary>Folds events (after <see cref="Position"/>, in position order) without yet computing what changed.</summary>
    public void Add(IEnumerable<PositionedEvent> events)
    {
        foreach (var (position, e) in events)
        {
            Advance(position);
            if (e is FxRateRecorded fx)
            {
                _rates.Add(RecordedRate.Of(fx, position));
                continue;
            }
            // Signals and the reason catalogue change no MRR: the insights read them from the log.
            if (e is SignalRecorded or ReasonCatalogued) continue;
            var account = AccountOf(e.AccountId);
            if (e is EventReversed r)
            {
                int i = account.IndexOf(System.Text.Encoding.UTF8.GetBytes(r.TargetEventId));
                if (i >= 0) Remove(account, i); // the ledger only accepts reversals of this account's events
            }
            else
            {
                Append(account, System.Text.Encoding.UTF8.GetBytes(e.EventId), _names.ToFact(e));
            }
        }
    }

    /// <summary>
    /// Folds stored rows straight from their canonical bytes — a catch-up's hot path, with no event objects; a row
    /// the scanner does not take goes through the strict parser.
    /// </summary>
    public void Add(RawEventBatch batch)
    {
        Span<char> chars = stackalloc char[StoredPayload.MaxFieldLength];
        var accounts = _accounts.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int i = 0; i < batch.Count; i++)
        {
            if (!StoredPayload.TryScan(batch.StoredType(i), batch.Payload(i), out var f))
            {
                Add([new PositionedEvent(batch.Position(i), WireFormat.ParseStored(System.Text.Encoding.UTF8.GetString(batch.StoredType(i)), batch.Payload(i)))]);
                continue;
            }
            Advance(batch.Position(i));
            var account = accounts.TryGetValue(StoredPayload.Chars(f.AccountId, chars), out var known)
                ? known
                : AccountOf(StoredPayload.Chars(f.AccountId, chars).ToString());
            if (f.IsReversal)
            {
                int at = account.IndexOf(f.Key);
                if (at >= 0) Remove(account, at);
                continue;
            }
            int key = _names.Index(StoredPayload.Chars(f.Key, chars));
            int reason = f.Reason.IsEmpty ? -1 : _names.Index(StoredPayload.Chars(f.Reason, chars));
            int currency = f.Currency.IsEmpty ? -1 : _names.Index(StoredPayload.Chars(f.Currency, chars));
            Append(account, f.EventId, new AccountFact(f.Kind, f.Date, f.Amount, key, reason, currency));
        }
    }

    private void Advance(long position)
    {
        if (position <= Position) throw new InvalidOperationException($"event at position {position} is not after the projection's position {Position}");
        Position = position;
    }

    private AccountFacts AccountOf(string accountId)
    {
        if (!_accounts.TryGetValue(accountId, out var account)) _accounts[accountId] = account = new AccountFacts(accountId);
        return account;
    }

    private void Append(AccountFacts account, ReadOnlySpan<byte> eventId, AccountFact fact)
    {
        account.Add(eventId, fact);
        if (_first is null || fact.Date < _first) _first = fact.Date;
        if (_last is null || fact.Date > _last) _last = fact.Date;
        Touch(account, fact.Date);
    }

    private void Remove(AccountFacts account, int index)
    {
        var date = account.Facts[index].Date;
        account.RemoveAt(index);
        Touch(account, date);
    }

    private void Touch(AccountFacts account, DateOnly changed)
    {
        if (account.ChangedSince is not { } earlier) _touched.Add(account);
        else if (earlier <= changed) return;
        account.ChangedSince = changed;
    }

    /// <summary>Rebuilds the histories of the accounts changed since the last flush and updates the window totals.</summary>
    public ProjectionChanges Flush()
    {
        var rates = _rates.Skip(_ratesFlushed).ToList();
        _ratesFlushed = _rates.Count;
        if (_touched.Count == 0) return new ProjectionChanges(Position, [], []) { Rates = rates };

        // Each account's history depends on its own facts only: built on every core when there are many.
        var touched = _touched.ToArray();
        var built = new AccountHistory[touched.Length];
        if (touched.Length >= 256) Parallel.For(0, touched.Length, i => built[i] = Build(touched[i]));
        else for (int i = 0; i < touched.Length; i++) built[i] = Build(touched[i]);
        _touched.Clear(); // only now: had a build failed, the accounts would still be marked changed

        // Accounts with a stored history first (in the order first changed, as the others): ProjectionChanges says how
        // many replace one.
        var olds = new AccountHistory?[touched.Length];
        for (int i = 0; i < touched.Length; i++) olds[i] = _histories.GetValueOrDefault(touched[i].Id);
        var rebuilt = new List<(string Id, DateOnly Since, AccountHistory? Old, AccountHistory New)>(touched.Length);
        for (int i = 0; i < touched.Length; i++)
            if (olds[i] is not null) rebuilt.Add((touched[i].Id, touched[i].ChangedSince!.Value, olds[i], built[i]));
        int replaced = rebuilt.Count;
        for (int i = 0; i < touched.Length; i++)
            if (olds[i] is null) rebuilt.Add((touched[i].Id, touched[i].ChangedSince!.Value, null, built[i]));
        foreach (var account in touched) account.ChangedSince = null;
        foreach (var (id, _, _, history) in rebuilt) _histories[id] = history;

        var changedWindows = new HashSet<WindowKey>();
        var newWindows = Horizon().Where(k => !_windows.ContainsKey(k)).ToList();
        // The windows by end: an account changed since a day touches those ending after it, a run at the end.
        var byEnd = _windows.OrderBy(w => w.Key.To).ToArray();
        var ends = byEnd.Select(w => w.Key.To).ToArray();
        bool recomputeAll = _windows.Count == 0 || ResumIsCheaper(ends, rebuilt);
        if (recomputeAll)
        {
            // Most accounts changed (a catch-up): summing every account once beats taking out and putting back.
            foreach (var key in newWindows) _windows[key] = new WindowTotals(key.Window);
            var keys = _windows.Keys.ToArray();
            var histories = _histories.Values.ToArray();
            foreach (var kind in Kinds)
            {
                var ofKind = keys.Where(k => k.Kind == kind).ToList();
                var totals = WindowTotals.SumConsecutive(ofKind.Select(k => k.Window).ToList(), histories);
                for (int i = 0; i < ofKind.Count; i++) _windows[ofKind[i]] = totals[i];
            }
            changedWindows.UnionWith(keys);
        }
        else
        {
            // Only the windows ending after what an account changed.
            var changed = new bool[byEnd.Length];
            foreach (var (_, since, old, history) in rebuilt)
                for (int w = FirstEndingAfter(ends, since); w < byEnd.Length; w++)
                {
                    if (old is not null) byEnd[w].Value.Add(old, -1);
                    byEnd[w].Value.Add(history);
                    changed[w] = true;
                }
            for (int w = 0; w < byEnd.Length; w++)
                if (changed[w]) changedWindows.Add(byEnd[w].Key);
            foreach (var key in newWindows)
            {
                var totals = new WindowTotals(key.Window);
                foreach (var h in _histories.Values) totals.Add(h);
                _windows[key] = totals;
                changedWindows.Add(key);
            }
        }
        var windows = changedWindows.Order(_windows.Comparer).Select(k => (k, _windows[k].ToReport())).ToList();
        return new ProjectionChanges(Position, windows, rebuilt.Select(x => x.New).ToList(), replaced) { Rates = rates };
    }

    /// <summary>
    /// Summing every account into every window once costs about (accounts × windows); taking changed accounts out and
    /// putting them back costs one add per window each touches (two when it had a history). A batch of new accounts
    /// dated this year touches a handful of a seven-year book's 120 windows, so it is updated in place even when
    /// there are more of them than accounts before; a catch-up that reaches back years is summed afresh.
    /// </summary>
    private bool ResumIsCheaper(DateOnly[] ends, List<(string Id, DateOnly Since, AccountHistory? Old, AccountHistory New)> rebuilt)
    {
        long incremental = 0, resum = (long)_histories.Count * ends.Length;
        foreach (var (_, since, old, _) in rebuilt)
        {
            incremental += (ends.Length - FirstEndingAfter(ends, since)) * (old is null ? 1 : 2);
            if (incremental > resum) return true;
        }
        return false;
    }

    /// <summary>The index of the first of the ascending <paramref name="ends"/> after <paramref name="day"/>.</summary>
    private static int FirstEndingAfter(DateOnly[] ends, DateOnly day)
    {
        int lo = 0, hi = ends.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (ends[mid] > day) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    /// <summary>Every window's current rows (what a full write of the read model contains).</summary>
    public ProjectionChanges Everything() =>
        new(Position, _windows.Select(kv => (kv.Key, kv.Value.ToReport())).ToList(), _histories.Values.ToList()) { Rates = _rates.ToList() };

    public IReadOnlyCollection<AccountHistory> Histories => _histories.Values;

    private IEnumerable<WindowKey> Horizon()
    {
        if (_first is not { } first || _last is not { } last) yield break;
        foreach (var kind in Kinds)
            foreach (var w in Window.Calendar(kind, first, last.AddDays(1)))
                yield return new WindowKey(kind, w.From, w.To);
    }

    private AccountHistory Build(AccountFacts account) =>
        AccountHistory.Build(account.Id, CollectionsMarshal.AsSpan(account.Facts), _names.Names);
}
