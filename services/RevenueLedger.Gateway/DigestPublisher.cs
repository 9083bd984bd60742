using System.Globalization;
using MassTransit;
using RevenueLedger.Application;
using RevenueLedger.Contracts;
using RevenueLedger.EventStore.Audit;
using RevenueLedger.Hosting;

namespace RevenueLedger.Gateway;

/// <summary>When digests are signed: LEDGER_DIGEST_KEY (a private key file) turns it on; every N events or M minutes.</summary>
public sealed record DigestSettings(string? KeyPath, long EveryEvents, TimeSpan Every)
{
    public static DigestSettings From(IConfiguration config)
    {
        string? Get(string key, string env) => config[key] is { Length: > 0 } v ? v : config[env] is { Length: > 0 } e ? e : null;
        long events = 10_000;
        if (Get("Ledger:DigestEveryEvents", "LEDGER_DIGEST_EVERY_EVENTS") is { } n && (!long.TryParse(n, CultureInfo.InvariantCulture, out events) || events < 1))
            throw new LedgerUsageException($"LEDGER_DIGEST_EVERY_EVENTS must be a positive number of events, got '{n}'");
        double minutes = 60;
        if (Get("Ledger:DigestEveryMinutes", "LEDGER_DIGEST_EVERY_MINUTES") is { } m
            && (!double.TryParse(m, NumberStyles.Float, CultureInfo.InvariantCulture, out minutes) || minutes is <= 0 or > 10_080))
            throw new LedgerUsageException($"LEDGER_DIGEST_EVERY_MINUTES must be between 0 and 10080 (a week), got '{m}'");
        return new DigestSettings(Get("Ledger:DigestKey", "LEDGER_DIGEST_KEY"), events, TimeSpan.FromMinutes(minutes));
    }
}

/// <summary>
/// Signs a digest of the head once the log has grown by <see cref="DigestSettings.EveryEvents"/> since the last one, or
/// when <see cref="DigestSettings.Every"/> has passed and anything was added; publishes each on the bus
/// (<see cref="DigestSigned"/>) and keeps the latest for GET /v1/audit/digest.
/// </summary>
public sealed class DigestPublisher(LedgerStores stores, DigestSettings settings, IBus bus, TimeProvider clock, ILogger<DigestPublisher> logger) : BackgroundService
{
    // Loaded at construction, so a missing or exposed key stops the host at start with the reason.
    private readonly SigningKey? _key = settings.KeyPath is { } path ? SigningKey.LoadPrivate(path) : null;
    private DateTimeOffset _signed;

    public bool Enabled => _key is not null;

    public AuditDigest? Latest { get; private set; }

    public override void Dispose()
    {
        _key?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_key is null) return;
        logger.LogInformation("digests: signing with key {KeyId} every {Events} events or {Minutes} minutes", _key.KeyId, settings.EveryEvents, settings.Every.TotalMinutes);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), clock);
        do
        {
            try
            {
                await SignIfDueAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested && ex is not OperationCanceledException)
            {
                logger.LogError("digests: could not sign the head: {Error}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>Signs when due; returns the digest signed, if any.</summary>
    public async Task<AuditDigest?> SignIfDueAsync(CancellationToken ct)
    {
        if (_key is null) return null;
        var head = await stores.Log.GetHeadAsync(ct);
        var now = clock.GetUtcNow();
        bool due = head.Position > 0 && (Latest is not { } last
            || head.Position - last.Position >= settings.EveryEvents
            || (head.Position > last.Position && now - _signed >= settings.Every));
        if (!due) return null;
        var digest = await AuditDigest.SignHeadAsync(stores.Log, now, _key, ct);
        (Latest, _signed) = (digest, now);
        logger.LogInformation("digests: signed position {Position} head {Hash}", digest.Position, digest.HeadHash);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await bus.Publish(new DigestSigned(digest.Position, digest.HeadHash, digest.HeadRecordedAt, digest.SignedAt, digest.KeyId, digest.Statement, digest.Signature), timeout.Token);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            // The digest is still served over HTTP; the bus copy is a convenience for archivers.
            logger.LogWarning("digests: could not publish position {Position}: {Error}", digest.Position, ex.Message);
        }
        return digest;
    }
}
