namespace RevenueLedger.Domain.Insights;

public readonly record struct SignalPoint(string Signal, DateOnly Date, decimal Value, long Position);

/// <summary>
/// Every account's active signal values (reversed ones left out), each in force from its date until the account's next
/// value of the same signal; on one date the later position wins.
/// </summary>
public sealed class SignalTable
{
    public static readonly SignalTable Empty = new(new Dictionary<string, List<SignalPoint>>());

    private readonly Dictionary<string, SignalPoint[]> _byAccount;

    public SignalTable(IReadOnlyDictionary<string, List<SignalPoint>> byAccount)
    {
        _byAccount = new Dictionary<string, SignalPoint[]>(byAccount.Count, StringComparer.Ordinal);
        foreach (var (account, points) in byAccount)
            _byAccount[account] = [.. points.OrderBy(p => p.Signal, StringComparer.Ordinal).ThenBy(p => p.Date).ThenBy(p => p.Position)];
        Names = [.. _byAccount.Values.SelectMany(p => p).Select(p => p.Signal).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        Count = _byAccount.Values.Sum(p => p.Length);
    }

    /// <summary>Every signal name recorded, sorted.</summary>
    public IReadOnlyList<string> Names { get; }

    public int Count { get; }

    public IReadOnlyList<SignalPoint> Of(string accountId) => _byAccount.TryGetValue(accountId, out var p) ? p : [];

    /// <summary>The value in force during <paramref name="day"/> (the latest dated on or before it), or null.</summary>
    public decimal? ValueOn(string accountId, string signal, DateOnly day)
    {
        if (!_byAccount.TryGetValue(accountId, out var points)) return null;
        decimal? value = null;
        foreach (ref readonly var p in points.AsSpan())
        {
            int c = string.CompareOrdinal(p.Signal, signal);
            if (c < 0) continue;
            if (c > 0 || p.Date > day) break;
            value = p.Value;
        }
        return value;
    }
}
