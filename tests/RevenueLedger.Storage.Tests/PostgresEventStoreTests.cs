using Npgsql;
using RevenueLedger.EventStore;
using RevenueLedger.Postgres;
using RevenueLedger.Tests;

namespace RevenueLedger.Storage.Tests;

/// <summary>The store contract on PostgreSQL: each test gets its own schema in the test server.</summary>
public sealed class PostgresEventStoreTests : EventStoreContract, IAsyncLifetime
{
    private readonly TestSchema _schema = new();

    protected override async Task<IEventStore> OpenStoreAsync() => await PostgresEventStore.OpenAsync(_schema.ConnectionString, Clock);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _schema.DropAsync();

    private async Task<string[]> IdCollationsAsync()
    {
        await using var c = new NpgsqlConnection(_schema.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT a.attname || ':' || k.collname FROM pg_attribute a JOIN pg_collation k ON k.oid = a.attcollation
            WHERE a.attrelid = 'events'::regclass AND a.attname IN ('account_id', 'event_id') ORDER BY a.attname
            """, c);
        var result = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) result.Add(r.GetString(0));
        return [.. result];
    }

    [Fact]
    public async Task A_store_whose_ids_compare_by_the_database_collation_is_given_byte_order_on_open_and_keeps_its_events()
    {
        // Given a store as earlier versions created it: its id columns under the database's default collation.
        await using (var store = await OpenStoreAsync())
        {
            await store.AppendAsync([new StreamAppend("a", 0, [Start("a", id: "e1"), Expand("a", id: "e2")])]);
            await using var c = new NpgsqlConnection(_schema.ConnectionString);
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand("""ALTER TABLE events ALTER COLUMN account_id TYPE text COLLATE "default", ALTER COLUMN event_id TYPE text COLLATE "default" """, c);
            await cmd.ExecuteNonQueryAsync();
        }
        Assert.Equal(["account_id:default", "event_id:default"], await IdCollationsAsync());

        await using (var reopened = await OpenStoreAsync())
        {
            Assert.Equal(["account_id:C", "event_id:C"], await IdCollationsAsync());
            Assert.Equal(["e1", "e2"], (await reopened.ReadStreamAsync("a")).Select(e => e.EventId));
            var appended = await reopened.AppendAsync([new StreamAppend("a", 2, [Expand("a", id: "e3")]), new StreamAppend("b", 0, [Start("b", id: "e4")])]);
            Assert.Equal([3L, 4L], appended.Positions);
            Assert.True((await HashChain.VerifyAsync(reopened)).IsIntact);
        }
    }

    [Fact]
    public async Task A_view_of_the_operators_over_the_id_columns_stops_that_change_with_a_message_saying_what_to_do()
    {
        await (await OpenStoreAsync()).DisposeAsync();
        await using (var c = new NpgsqlConnection(_schema.ConnectionString))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand("""
                ALTER TABLE events ALTER COLUMN account_id TYPE text COLLATE "default";
                CREATE VIEW accounts_seen AS SELECT DISTINCT account_id FROM events;
                """, c);
            await cmd.ExecuteNonQueryAsync();
        }
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(OpenStoreAsync);
        Assert.Contains("Drop the dependent view", refused.Message, StringComparison.Ordinal);
        Assert.Contains("accounts_seen", refused.Message, StringComparison.Ordinal);
        Assert.Equal(["account_id:default", "event_id:C"], await IdCollationsAsync());
    }
}
