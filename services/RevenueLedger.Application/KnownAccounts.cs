namespace RevenueLedger.Application;

/// <summary>
/// A set of 64-bit account-id hashes for <see cref="Ledger"/>'s "which accounts exist": one flat array probed in
/// place (open addressing), so a lookup touches one cache line where a <see cref="HashSet{T}"/> touched a bucket and
/// an entry in two arrays of millions — a twentieth of the ingestion's CPU under a batch load was those two misses.
/// </summary>
public sealed class KnownAccounts
{
    private ulong[] _slots = new ulong[1 << 16]; // 0: empty
    private int _shift = 64 - 16;

    public int Count { get; private set; }

    /// <summary>Zero marks an empty slot, so the hash 0 is stored as 1: it only makes two ids share a hash, which costs a lookup.</summary>
    private static ulong Key(ulong hash) => hash == 0 ? 1 : hash;

    // Fibonacci hashing: the top bits of a multiplication spread any input over the table.
    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);

    public bool Contains(ulong hash)
    {
        ulong key = Key(hash);
        int mask = _slots.Length - 1;
        for (int i = Slot(key); ; i = (i + 1) & mask)
        {
            ulong slot = _slots[i];
            if (slot == key) return true;
            if (slot == 0) return false;
        }
    }

    public void Add(ulong hash)
    {
        if (Count + 1 > _slots.Length / 10 * 7) Grow(); // at most 70% full: a miss still ends within a cache line or two
        if (Insert(_slots, Key(hash))) Count++;
    }

    private bool Insert(ulong[] slots, ulong key)
    {
        int mask = slots.Length - 1;
        for (int i = Slot(key); ; i = (i + 1) & mask)
        {
            if (slots[i] == key) return false;
            if (slots[i] == 0)
            {
                slots[i] = key;
                return true;
            }
        }
    }

    private void Grow()
    {
        var old = _slots;
        _slots = new ulong[old.Length * 2];
        _shift--;
        foreach (ulong key in old)
            if (key != 0) Insert(_slots, key);
    }
}
