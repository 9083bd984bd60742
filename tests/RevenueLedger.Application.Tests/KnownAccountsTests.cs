using RevenueLedger.Application;

namespace RevenueLedger.Application.Tests;

public sealed class KnownAccountsTests
{
    [Fact]
    public void Holds_exactly_what_was_added_through_many_growths_including_the_hashes_0_and_1()
    {
        var set = new KnownAccounts();
        var rng = new Random(3);
        var added = new HashSet<ulong> { 0, 1, ulong.MaxValue };
        while (added.Count < 300_000) added.Add((ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 40));
        foreach (var h in added) set.Add(h);
        foreach (var h in added.Take(1000)) set.Add(h); // again: no change
        // 0 and 1 share a slot by design (a shared hash only costs the ledger a lookup).
        Assert.Equal(added.Count - 1, set.Count);
        Assert.All(added, h => Assert.True(set.Contains(h)));
        int strangers = 0;
        for (int i = 0; i < 300_000; i++)
        {
            ulong h = (ulong)rng.NextInt64() * 3 + 2;
            if (!added.Contains(h) && set.Contains(h)) strangers++;
        }
        Assert.Equal(0, strangers);
    }
}
