using System.Security.Cryptography;
using System.Text;
using RevenueLedger.EventStore;

namespace RevenueLedger.Storage.Tests;

/// <summary>The chain's byte-level entry points against the documented preimages, computed here with plain SHA-256.</summary>
public sealed class HashChainTests
{
    private static string Sha(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void The_span_entry_points_give_the_documented_hashes()
    {
        string payload = """{"eventId":"e1","accountId":"a","mrr":"10"}""";
        string digest = Sha($"a|V1.ContractStarted|e1|{payload}");
        Span<byte> bytes = stackalloc byte[HashChain.DigestBytes];
        HashChain.ContentDigest("a", "V1.ContractStarted", "e1", Encoding.UTF8.GetBytes(payload), bytes);
        Assert.Equal(digest, Convert.ToHexStringLower(bytes));

        string expected = Sha($"7|2|2026-12-02T10:00:00.0000000Z|{HashChain.Genesis}|{digest}");
        Assert.Equal(expected, HashChain.Link(7, 2, "2026-12-02T10:00:00.0000000Z", HashChain.Genesis, digest));
        Assert.Equal(expected, HashChain.Link(7, 2, "2026-12-02T10:00:00.0000000Z", HashChain.Genesis, bytes));
        Span<byte> hex = stackalloc byte[HashChain.HashHexBytes];
        HashChain.Link(7, 2, "2026-12-02T10:00:00.0000000Z"u8, Encoding.ASCII.GetBytes(HashChain.Genesis), bytes, hex);
        Assert.Equal(expected, Encoding.ASCII.GetString(hex));
    }

    [Fact]
    public void A_refused_digest_buffer_leaves_the_next_digest_on_the_thread_right()
    {
        var tooShort = new byte[HashChain.DigestBytes - 1];
        Assert.Throws<ArgumentException>(() => HashChain.ContentDigest("a", "V1.ContractStarted", "e1", "{}"u8, tooShort));
        Assert.Equal(Sha("a|V1.ContractStarted|e1|{}"), HashChain.ContentDigest("a", "V1.ContractStarted", "e1", "{}"));
    }

    [Fact]
    public void Damaged_rows_with_huge_texts_are_hashed_as_given_not_overflowing_the_stack()
    {
        // What verifying a tampered row asks for: it must come back as a hash (which will not match), not crash.
        string huge = new('x', 5_000_000);
        Assert.Equal(Sha($"{huge}|V1.ContractStarted|e1|{{}}"), HashChain.ContentDigest(huge, "V1.ContractStarted", "e1", "{}"));
        Assert.Equal(Sha($"1|1|{huge}|{huge}|{huge}"), HashChain.Link(1, 1, huge, huge, huge));
    }
}
