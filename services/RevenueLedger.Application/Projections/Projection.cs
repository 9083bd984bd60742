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

    public long Position { get; private set; }

    public int AccountCount => _histories.Count;

    private sealed class AccountFacts(string id)
    {
        public string Id { get; } = id;
        public List<string> EventIds { get; } = [];
        public List<AccountFact> Facts { get; } = [];
    }

    private readonly Dictionary<string, DateOnly> _touched = new(StringComparer.Ordinal); // account → earliest date changed since the last flush

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
            var account = AccountOf(e.AccountId);
            if (e is EventReversed r)
            {
                int i = account.EventIds.IndexOf(r.TargetEventId);
                if (i >= 0) Remove(account, i); // the ledger only accepts reversals of this account's events
            }
            else
            {
                Append(account, e.EventId, _names.ToFact(e));
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
        for (int i = 0; i < batch.Count; i++)
        {
            if (!StoredPayload.TryScan(batch.StoredType(i), batch.Payload(i), out var f))
            {
                Add([new PositionedEvent(batch.Position(i), WireFormat.ParseStored(System.Text.Encoding.UTF8.GetString(batch.StoredType(i)), batch.Payload(i)))]);
                continue;
            }
            Advance(batch.Position(i));
            var account = _accounts.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(StoredPayload.Chars(f.AccountId, chars), out var known)
                ? known
                : AccountOf(StoredPayload.Chars(f.AccountId, chars).ToString());
            if (f.IsReversal)
            {
                var target = StoredPayload.Chars(f.Key, chars);
                for (int at = 0; at < account.EventIds.Count; at++)
                    if (target.SequenceEqual(account.EventIds[at])) { Remove(account, at); break; }
                continue;
            }
            var eventId = StoredPayload.Chars(f.EventId, chars).ToString();
            int key = _names.Index(StoredPayload.Chars(f.Key, chars));
            int reason = f.Reason.IsEmpty ? -1 : _names.Index(StoredPayload.Chars(f.Reason, chars));
            Append(account, eventId, new AccountFact(f.Kind, f.Date, f.Amount, key, reason));
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

    private void Append(AccountFacts account, string eventId, AccountFact fact)
    {
        account.EventIds.Add(eventId);
        account.Facts.Add(fact);
        if (_first is null || fact.Date < _first) _first = fact.Date;
        if (_last is null || fact.Date > _last) _last = fact.Date;
        Touch(account.Id, fact.Date);
    }

    private void Remove(AccountFacts account, int index)
    {
        var date = account.Facts[index].Date;
        account.EventIds.RemoveAt(index);
        account.Facts.RemoveAt(index);
        Touch(account.Id, date);
    }

    private void Touch(string accountId, DateOnly changed) =>
        _touched[accountId] = _touched.TryGetValue(accountId, out var earlier) && earlier < changed ? earlier : changed;

    /// <summary>Rebuilds the histories of the accounts changed since the last flush and updates the window totals.</summary>
    public ProjectionChanges Flush()
    {
        if (_touched.Count == 0) return new ProjectionChanges(Position, [], []);

        // Accounts with a stored history first: ProjectionChanges says how many replace one.
        var rebuilt = new List<(string Id, DateOnly Since, AccountHistory? Old, AccountHistory New)>(_touched.Count);
        foreach (var (id, since) in _touched)
            if (_histories.GetValueOrDefault(id) is { } old) rebuilt.Add((id, since, old, Build(id)));
        int replaced = rebuilt.Count;
        foreach (var (id, since) in _touched)
            if (!_histories.ContainsKey(id)) rebuilt.Add((id, since, null, Build(id)));
        _touched.Clear();
        foreach (var (id, _, _, history) in rebuilt) _histories[id] = history;

        var changedWindows = new HashSet<WindowKey>();
        var newWindows = Horizon().Where(k => !_windows.ContainsKey(k)).ToList();
        bool recomputeAll = _windows.Count == 0 || ResumIsCheaper(rebuilt);
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
            // Only the windows ending after what an account changed: ordered by end, each account starts at its first.
            var byEnd = _windows.OrderBy(w => w.Key.To).ToArray();
            var ends = byEnd.Select(w => w.Key.To).ToArray();
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
        return new ProjectionChanges(Position, windows, rebuilt.Select(x => x.New).ToList(), replaced);
    }

    /// <summary>
    /// Summing every account into every window once costs about (accounts × windows); taking changed accounts out and
    /// putting them back costs one add per window each touches (two when it had a history). A batch of new accounts
    /// dated this year touches a handful of a seven-year book's 120 windows, so it is updated in place even when
    /// there are more of them than accounts before; a catch-up that reaches back years is summed afresh.
    /// </summary>
    private bool ResumIsCheaper(List<(string Id, DateOnly Since, AccountHistory? Old, AccountHistory New)> rebuilt)
    {
        var ends = new DateOnly[_windows.Count];
        int n = 0;
        foreach (var key in _windows.Keys) ends[n++] = key.To;
        Array.Sort(ends);
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
        new(Position, _windows.Select(kv => (kv.Key, kv.Value.ToReport())).ToList(), _histories.Values.ToList());

    public IReadOnlyCollection<AccountHistory> Histories => _histories.Values;

    private IEnumerable<WindowKey> Horizon()
    {
        if (_first is not { } first || _last is not { } last) yield break;
        foreach (var kind in Kinds)
            foreach (var w in Window.Calendar(kind, first, last.AddDays(1)))
                yield return new WindowKey(kind, w.From, w.To);
    }

    private AccountHistory Build(string accountId) =>
        AccountHistory.Build(accountId, CollectionsMarshal.AsSpan(_accounts[accountId].Facts), _names.Names);
}
