using RevenueLedger.EventStore;
using RevenueLedger.Sqlite;
using RevenueLedger.Tests;

namespace RevenueLedger.Storage.Tests;

/// <summary>The store contract on the embedded SQLite store, one fresh file per test.</summary>
public sealed class SqliteEventStoreTests : EventStoreContract, IDisposable
{
    private readonly TempDir _dir = new();

    protected override async Task<IEventStore> OpenStoreAsync() =>
        await SqliteEventStore.OpenAsync(Path.Combine(_dir.Path, "ledger.db"), Clock);

    public void Dispose() => _dir.Dispose();
}
