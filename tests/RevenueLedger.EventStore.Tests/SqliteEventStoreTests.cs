using RevenueLedger.Sqlite;

namespace RevenueLedger.EventStore.Tests;

/// <summary>The store contract on the embedded SQLite store, one fresh file per test.</summary>
public sealed class SqliteEventStoreTests : EventStoreContract, IDisposable
{
    private readonly TempDir _dir = new();

    protected override async Task<IEventStore> OpenStoreAsync() =>
        await SqliteEventStore.OpenAsync(Path.Combine(_dir.Path, "ledger.db"), Clock);

    public void Dispose() => _dir.Dispose();
}

public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("ledger-test-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Path, recursive: true);
    }
}
