using Microsoft.Extensions.Configuration;
using RevenueLedger.Application;

namespace RevenueLedger.Hosting;

/// <summary>
/// A host's settings, from configuration (environment variables and command-line included):
/// <c>LEDGER_STORE</c> / <c>Ledger:Store</c>, <c>LEDGER_API_KEYS</c> / <c>Ledger:ApiKeys</c>,
/// <c>LEDGER_RATE_LIMIT</c> / <c>Ledger:RateLimit</c> (requests per second per key), <c>Ledger:Components</c>,
/// <c>LEDGER_POLL_SECONDS</c> (how often a projector or gateway looks for work done by other processes; default 1).
/// </summary>
public sealed class HostSettings
{
    public const long MaxBodyBytes = 10 * 1024 * 1024;
    public const int MaxBatchEvents = 10_000;
    public static readonly TimeSpan MinPositionWait = TimeSpan.FromSeconds(5);

    public required StoreUri Store { get; init; }

    public required LedgerComponents Components { get; init; }

    public required string? ApiKeys { get; init; }

    public int RateLimitPerSecond { get; init; } = 10_000;

    public TimeSpan ProjectorPoll { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan ReadModelPoll { get; init; } = TimeSpan.FromSeconds(1);

    public static HostSettings From(IConfiguration config, LedgerComponents defaultComponents)
    {
        string? Get(string key, string env) => config[key] is { Length: > 0 } v ? v : config[env] is { Length: > 0 } e ? e : null;
        var components = defaultComponents;
        if (Get("Ledger:Components", "LEDGER_COMPONENTS") is { } list)
        {
            components = LedgerComponents.None;
            foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                components |= Enum.TryParse<LedgerComponents>(part, ignoreCase: true, out var c)
                    ? c
                    : throw new LedgerUsageException($"Ledger:Components: unknown component '{part}' (ingestion, gateway, projector, all)");
        }
        int rate = 10_000;
        if (Get("Ledger:RateLimit", "LEDGER_RATE_LIMIT") is { } r && (!int.TryParse(r, out rate) || rate <= 0))
            throw new LedgerUsageException($"LEDGER_RATE_LIMIT must be a positive number of requests per second per key, got '{r}'");
        var poll = TimeSpan.FromSeconds(1);
        if (Get("Ledger:PollSeconds", "LEDGER_POLL_SECONDS") is { } ps)
            poll = double.TryParse(ps, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and <= 3600
                ? TimeSpan.FromSeconds(seconds)
                : throw new LedgerUsageException($"LEDGER_POLL_SECONDS must be between 0 and 3600 seconds, got '{ps}'");
        return new HostSettings
        {
            ProjectorPoll = poll,
            ReadModelPoll = poll,
            Store = StoreUri.Parse(Get("Ledger:Store", "LEDGER_STORE")),
            Components = components,
            ApiKeys = Get("Ledger:ApiKeys", "LEDGER_API_KEYS"),
            RateLimitPerSecond = rate,
        };
    }
}
