using RevenueLedger.Application;
using RevenueLedger.Application.Projections;
using RevenueLedger.EventStore;
using RevenueLedger.Storage;

namespace RevenueLedger.Hosting;

/// <summary>The log and its read models, opened once per process (both are safe to share between requests).</summary>
public sealed class LedgerStores : IAsyncDisposable
{
    private LedgerStores(StoreUri uri, IEventStore log, IReadModelStore readModels)
    {
        Uri = uri;
        Log = log;
        ReadModels = readModels;
        Ledger = new Ledger(log);
    }

    public StoreUri Uri { get; }

    public IEventStore Log { get; }

    public IReadModelStore ReadModels { get; }

    /// <summary>The one write-side instance of this process: it serialises this process's appends and caches account states.</summary>
    public Ledger Ledger { get; }

    /// <summary>
    /// After a failure that lost the server connection (a database restart, a network cut), drops the pooled
    /// connections, which are all broken too: the next attempt reconnects instead of failing once per pooled connection.
    /// </summary>
    public void OnFailure(Exception exception)
    {
        if (!IsConnectionLoss(exception)) return;
        (Log as IConnectionPoolOwner)?.ClearPool();
        (ReadModels as IConnectionPoolOwner)?.ClearPool();
    }

    /// <summary>The database went away (restart, shutdown, network) rather than refusing this statement.</summary>
    public static bool IsConnectionLoss(Exception exception) => exception switch
    {
        Npgsql.PostgresException pg => pg.SqlState.StartsWith("57P", StringComparison.Ordinal) || pg.SqlState.StartsWith("08", StringComparison.Ordinal),
        Npgsql.NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is IOException or System.Net.Sockets.SocketException,
        _ => false,
    };

    public static async Task<LedgerStores> OpenAsync(StoreUri uri, CancellationToken ct = default)
    {
        var log = await uri.OpenAsync(mustExist: false, ct: ct);
        try
        {
            return new LedgerStores(uri, log, await uri.OpenReadModelsAsync(ct));
        }
        catch
        {
            await log.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ReadModels.DisposeAsync();
        await Log.DisposeAsync();
    }
}

/// <summary>Which parts a process hosts. <c>ledger serve</c> hosts all; the service binaries one each.</summary>
[Flags]
public enum LedgerComponents
{
    None = 0,
    Ingestion = 1,
    Gateway = 2,
    Projector = 4,
    All = Ingestion | Gateway | Projector,
}
