using RevenueLedger.Application;
using RevenueLedger.Application.Projections;
using RevenueLedger.EventStore;

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
