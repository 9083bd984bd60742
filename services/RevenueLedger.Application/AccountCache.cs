using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RevenueLedger.Domain;

namespace RevenueLedger.Application;

/// <summary>
/// The writer's account states, bounded: when full, the least recently used go, so an import streaming through more
/// accounts than fit keeps its busy accounts (a cache cleared whole read every one of them back from the store).
/// Each read or write stamps the entry in place (one hash lookup, as a plain dictionary); nothing is evicted except by
/// <see cref="MakeRoom"/>, which callers run before a load, so states a chunk still being stored decided can be put
/// back right after it.
/// </summary>
internal sealed class AccountCache(int limit)
{
    private struct Entry
    {
        public AccountState State;
        public long LastUse;
    }

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _clock;

    public int Count => _entries.Count;

    public AccountState? Get(string accountId)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(_entries, accountId);
        if (Unsafe.IsNullRef(ref entry)) return null;
        entry.LastUse = ++_clock;
        return entry.State;
    }

    public bool Contains(string accountId) => Get(accountId) is not null;

    public void Set(string accountId, AccountState state)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_entries, accountId, out _);
        entry.State = state;
        entry.LastUse = ++_clock;
    }

    public void Remove(string accountId) => _entries.Remove(accountId);

    public void Clear() => _entries.Clear();

    /// <summary>
    /// Room for <paramref name="incoming"/> more states. When they would not fit, the least recently used go, down to
    /// three quarters of the limit (less when the incoming need it): the sort this takes runs once per quarter of the
    /// limit in new accounts, not once per chunk.
    /// </summary>
    public void MakeRoom(int incoming)
    {
        if (Count + incoming <= limit) return;
        int keep = Math.Max(0, Math.Min(limit - limit / 4, limit - incoming));
        int evict = Count - keep;
        if (evict <= 0) return;
        if (keep == 0)
        {
            Clear();
            return;
        }
        var stamps = new long[Count];
        int i = 0;
        foreach (var entry in _entries.Values) stamps[i++] = entry.LastUse;
        Array.Sort(stamps);
        long newestEvicted = stamps[evict - 1]; // stamps are unique: exactly `evict` entries are at or below it
        foreach (var (accountId, entry) in _entries)
            if (entry.LastUse <= newestEvicted) _entries.Remove(accountId); // removing while enumerating is allowed
    }
}
