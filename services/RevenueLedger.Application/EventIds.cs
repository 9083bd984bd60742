using System.Security.Cryptography;

namespace RevenueLedger.Application;

/// <summary>
/// Ids for submissions that came without one: "ev-" and a UUIDv7 (48-bit Unix milliseconds, then random bits) as
/// 32 lower-case hex digits, so ids sort by creation time. The random bits come from the cryptographic generator in
/// blocks: <see cref="Guid.CreateVersion7()"/> asked it once per id, and that call cost more than parsing the event
/// (a batch of 1,000 new events spent 2 ms on ids alone).
/// </summary>
public static class EventIds
{
    private const int IdsPerRefill = 256;

    [ThreadStatic] private static byte[]? _random;
    [ThreadStatic] private static int _used;

    public static string New() => New(DateTimeOffset.UtcNow);

    public static string New(DateTimeOffset now)
    {
        if (_random is null || _used == _random.Length)
        {
            _random ??= new byte[IdsPerRefill * 10];
            RandomNumberGenerator.Fill(_random);
            _used = 0;
        }
        int offset = _used;
        _used += 10;
        return string.Create(35, (Ms: now.ToUnixTimeMilliseconds(), Random: _random, Offset: offset), static (chars, state) =>
        {
            Span<byte> uuid = stackalloc byte[16];
            for (int i = 0; i < 6; i++) uuid[i] = (byte)(state.Ms >> (40 - 8 * i));
            state.Random.AsSpan(state.Offset, 10).CopyTo(uuid[6..]);
            uuid[6] = (byte)(0x70 | (uuid[6] & 0x0F)); // version 7
            uuid[8] = (byte)(0x80 | (uuid[8] & 0x3F)); // RFC 9562 variant
            "ev-".CopyTo(chars);
            Convert.TryToHexStringLower(uuid, chars[3..], out _);
        });
    }
}
