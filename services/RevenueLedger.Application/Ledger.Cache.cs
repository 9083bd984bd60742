using RevenueLedger.Domain;
using RevenueLedger.EventStore;

namespace RevenueLedger.Application;

/// <summary>
/// The account states the writer decides against, kept in step with the log: which accounts exist (so a new one needs
/// no lookup), the states of recently used ones, and when either must be forgotten because another writer moved the log.
/// </summary>
public sealed partial class Ledger
{
    private readonly AccountCache _accounts = new(maxCachedAccounts);
    private long _cacheHead = -1; // the log position the cached account states reflect
    // Every account with events in the log up to _knownHead, as a 64-bit hash of its id: an account whose hash is not
    // in it has none, so deciding its events needs no lookup (a batch of new accounts cost a query per batch). A hash
    // shared by two ids only costs a lookup that finds nothing; 11–23 bytes an account instead of a string. Kept across
    // invalidations: the log only grows.
    private KnownAccounts? _known;
    private long _knownHead = -1;
    private bool _tooManyAccounts;

    /// <summary>
    /// Brings the cache to the log's head: when the log moved without us (another writer), the accounts it wrote since
    /// are forgotten (their states changed) and learnt as known; a cache that no longer says which position it
    /// reflects is dropped whole.
    /// </summary>
    private async Task SyncCacheAsync(CancellationToken ct)
    {
        var head = (await store.GetHeadAsync(ct)).Position;
        if (_tooManyAccounts)
        {
            if (head != _cacheHead) _accounts.Clear();
            _cacheHead = head;
            return;
        }
        if (head == _cacheHead && head == _knownHead) return;
        if (_known is null || head < _knownHead)
        {
            _accounts.Clear();
            _known = new KnownAccounts();
            if (head > 0) foreach (var account in await store.ReadAccountIdsAsync(0, head, ct)) _known.Add(KnownHash(account));
        }
        else
        {
            var written = head > _knownHead ? await store.ReadAccountIdsAsync(_knownHead, head, ct) : [];
            if (_cacheHead == _knownHead)
                foreach (var account in written) _accounts.Remove(account);
            else
                _accounts.Clear();
            foreach (var account in written) _known.Add(KnownHash(account));
        }
        (_cacheHead, _knownHead) = (head, head);
        if (_known.Count > MaxKnownAccounts) (_known, _knownHead, _tooManyAccounts) = (null, -1, true);
    }

    /// <summary>
    /// 64 bits, so that ids rarely share one: the runtime's string hash (keyed per process, so ids chosen by a client
    /// cannot be made to pile up in one bucket of the set) beside FNV-1a over the id's UTF-16 code units.
    /// </summary>
    private static ulong KnownHash(string accountId)
    {
        uint fnv = 2166136261;
        foreach (char c in accountId) fnv = (fnv ^ c) * 16777619;
        return ((ulong)(uint)accountId.GetHashCode() << 32) | fnv;
    }

    private void Invalidate()
    {
        _accounts.Clear();
        _cacheHead = -1;
        _epoch++;
    }

    // Counts invalidations: a decision made before one must not make the cache valid again when its append settles
    // (a group decided meanwhile may have loaded the states that append was about to change).
    private long _epoch;

    /// <summary>
    /// After an append: the cache stays valid only if our events came right after the position the decisions
    /// reflected (no other writer in between); then it reflects the new head.
    /// </summary>
    private bool AfterCommit(Decided decided, AppendResult? appended)
    {
        if (decided.Epoch != _epoch)
        {
            Invalidate();
            return false;
        }
        if (appended is null) return decided.AtHead == _cacheHead;
        // Stored accounts have events, whatever else happened around the append.
        if (_known is not null) foreach (var (_, e) in decided.AppendOrder) _known.Add(KnownHash(e.Event.AccountId));
        long firstNew = long.MaxValue;
        for (int i = 0; i < appended.Positions.Count; i++)
            if (!appended.Duplicates[i]) firstNew = Math.Min(firstNew, appended.Positions[i]);
        if (decided.AtHead >= 0 && firstNew == decided.AtHead + 1)
        {
            if (_knownHead == decided.AtHead) _knownHead = appended.HeadPosition;
            _cacheHead = appended.HeadPosition;
            return true;
        }
        Invalidate();
        return false;
    }

    private async Task LoadAccountsAsync(IEnumerable<string> accountIds, Decided? inFlight, CancellationToken ct)
    {
        var ids = accountIds.Distinct(StringComparer.Ordinal).ToList();
        if (_accounts.Count + ids.Count > maxCachedAccounts)
        {
            // Evict what was not used lately, but never what the chunk still being stored decided: that is nowhere else yet.
            _accounts.MakeRoom(ids.Count);
            if (inFlight is not null) foreach (var (account, state) in inFlight.Working) _accounts.Set(account, state);
        }
        var missing = ids.Where(a => !_accounts.Contains(a)).ToList();
        if (missing.Count == 0) return;
        if (_known is not null)
        {
            // Not known: the account has no events yet (an append racing another writer's first event for it fails
            // its expected version, so this never hides their events).
            foreach (var id in missing)
                if (!_known.Contains(KnownHash(id))) _accounts.Set(id, AccountState.Initial(id));
            missing.RemoveAll(_accounts.Contains);
            if (missing.Count == 0) return;
        }
        var streams = await store.ReadStreamsAsync(missing, ct);
        foreach (var id in missing)
            _accounts.Set(id, streams.TryGetValue(id, out var events)
                ? AccountDecider.Fold(id, events.Select(e => e.Event))
                : AccountState.Initial(id));
    }
}
