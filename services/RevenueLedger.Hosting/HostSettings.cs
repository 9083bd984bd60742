using Microsoft.Extensions.Configuration;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.Storage;

namespace RevenueLedger.Hosting;

/// <summary>
/// A host's settings, from configuration (environment variables and command-line included):
/// <c>LEDGER_STORE</c> / <c>Ledger:Store</c>, <c>LEDGER_API_KEYS</c> / <c>Ledger:ApiKeys</c>,
/// <c>LEDGER_RATE_LIMIT</c> / <c>Ledger:RateLimit</c> (requests per second per key), <c>Ledger:Components</c>,
/// <c>LEDGER_POLL_SECONDS</c> (how often a projector or gateway looks for work done by other processes when no
/// notification came: default 1, or 10 with a broker), <c>LEDGER_RABBITMQ</c> / <c>Ledger:RabbitMq</c> (an amqp:// URI:
/// the bus runs over RabbitMQ; unset, in memory).
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

    /// <summary>Queries (GET) one key may have in flight at once (LEDGER_CONCURRENCY_PER_KEY): a few slow ones cannot stall the rest.</summary>
    public int ConcurrencyPerKey { get; init; } = 32;

    /// <summary>How long a report may compute before the caller gets 503 (LEDGER_QUERY_TIMEOUT_SECONDS); the work finishes into the cache.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Most calendar windows one request may ask for: 100 years of months.</summary>
    public const int MaxWindows = 1_200;

    /// <summary>Longest custom range, in years: beyond it a request is a mistake, not a report.</summary>
    public const int MaxRangeYears = 200;

    public TimeSpan ProjectorPoll { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan ReadModelPoll { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The broker, when processes talk over RabbitMQ; null when the bus is in memory (one process).</summary>
    public Uri? RabbitMq { get; init; }

    /// <summary>The reporting currency of answers that name none (spec §10): Ledger:Currency / LEDGER_CURRENCY, else USD.</summary>
    public string Currency { get; init; } = "USD";

    /// <summary>Most events a projector folds per committed step.</summary>
    public int ProjectorStepEvents { get; init; } = 1_000_000;

    public static Uri? RabbitMqFrom(IConfiguration config)
    {
        var value = config["Ledger:RabbitMq"] is { Length: > 0 } v ? v : config["LEDGER_RABBITMQ"] is { Length: > 0 } e ? e : null;
        if (value is null) return null;
        return Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "amqp" or "amqps" or "rabbitmq"
            ? uri
            : throw new LedgerUsageException($"LEDGER_RABBITMQ must be an amqp:// URI (amqp://user:password@host:5672/vhost), got '{Redact(value)}'");
    }

    /// <summary>A URI fit for messages and logs: no password.</summary>
    public static string Redact(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var u) && u.UserInfo.Contains(':', StringComparison.Ordinal)
            ? uri.Replace(u.UserInfo, u.UserInfo[..u.UserInfo.IndexOf(':', StringComparison.Ordinal)] + ":***", StringComparison.Ordinal)
            : uri;

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
        int concurrency = 32;
        if (Get("Ledger:ConcurrencyPerKey", "LEDGER_CONCURRENCY_PER_KEY") is { } cc && (!int.TryParse(cc, out concurrency) || concurrency <= 0))
            throw new LedgerUsageException($"LEDGER_CONCURRENCY_PER_KEY must be a positive number of requests, got '{cc}'");
        var timeout = TimeSpan.FromSeconds(30);
        if (Get("Ledger:QueryTimeoutSeconds", "LEDGER_QUERY_TIMEOUT_SECONDS") is { } qt)
            timeout = double.TryParse(qt, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var t) && t is > 0 and <= 3600
                ? TimeSpan.FromSeconds(t)
                : throw new LedgerUsageException($"LEDGER_QUERY_TIMEOUT_SECONDS must be between 0 and 3600 seconds, got '{qt}'");
        var rabbit = RabbitMqFrom(config);
        // With a broker, notifications wake projectors and gateways; the poll is only the safety net, so it is slow.
        var poll = TimeSpan.FromSeconds(rabbit is null ? 1 : 10);
        if (Get("Ledger:PollSeconds", "LEDGER_POLL_SECONDS") is { } ps)
            poll = double.TryParse(ps, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and <= 3600
                ? TimeSpan.FromSeconds(seconds)
                : throw new LedgerUsageException($"LEDGER_POLL_SECONDS must be between 0 and 3600 seconds, got '{ps}'");
        var currency = Get("Ledger:Currency", "LEDGER_CURRENCY") ?? "USD";
        if (!CurrencyCode.IsValid(currency))
            throw new LedgerUsageException($"LEDGER_CURRENCY must be a three-letter upper-case ISO 4217 code such as USD, got '{currency}'");
        return new HostSettings
        {
            Currency = currency,
            ProjectorPoll = poll,
            ReadModelPoll = poll,
            Store = StoreUri.Parse(Get("Ledger:Store", "LEDGER_STORE")),
            Components = components,
            ApiKeys = Get("Ledger:ApiKeys", "LEDGER_API_KEYS"),
            RateLimitPerSecond = rate,
            ConcurrencyPerKey = concurrency,
            QueryTimeout = timeout,
            RabbitMq = rabbit,
            ProjectorStepEvents = config["Ledger:ProjectorStepEvents"] is { Length: > 0 } step
                ? int.TryParse(step, out int n) && n > 0 ? n : throw new LedgerUsageException($"Ledger:ProjectorStepEvents must be a positive number, got '{step}'")
                : 1_000_000,
        };
    }
}
