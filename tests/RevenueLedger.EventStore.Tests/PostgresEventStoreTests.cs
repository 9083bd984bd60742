using RevenueLedger.EventStore.Postgres;
using RevenueLedger.Tests;

namespace RevenueLedger.EventStore.Tests;

/// <summary>The store contract on PostgreSQL: each test gets its own schema in the test server.</summary>
public sealed class PostgresEventStoreTests : EventStoreContract, IAsyncLifetime
{
    private readonly TestSchema _schema = new();

    protected override async Task<IEventStore> OpenStoreAsync() => await PostgresEventStore.OpenAsync(_schema.ConnectionString, Clock);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _schema.DropAsync();
}
