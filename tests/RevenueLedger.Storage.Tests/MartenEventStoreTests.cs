using Marten;
using Npgsql;
using RevenueLedger.EventStore;
using RevenueLedger.Marten;
using RevenueLedger.Tests;

namespace RevenueLedger.Storage.Tests;

/// <summary>The store contract on Marten's event store: each test gets its own schema in the test server.</summary>
public sealed class MartenEventStoreTests : EventStoreContract, IAsyncLifetime
{
    private readonly TestSchema _schema = new();

    protected override async Task<IEventStore> OpenStoreAsync() => await MartenEventStore.OpenAsync(_schema.ConnectionString, Clock);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _schema.DropAsync();

    private async Task ExecAsync(string sql)
    {
        await using var c = new NpgsqlConnection(_schema.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Each_account_is_one_Marten_stream_that_Marten_itself_reads_back()
    {
        await using (var store = await OpenStoreAsync())
        {
            await store.AppendAsync([new StreamAppend("acme", 0, [Start("acme", id: "e1"), Expand("acme", id: "e2")]), new StreamAppend("beta", 0, [Start("beta", id: "e3")])]);
            await store.AppendAsync([new StreamAppend("acme", 2, [Expand("acme", id: "e4")])]);
        }
        await using var db = NpgsqlDataSource.Create(_schema.ConnectionString);
        using var marten = new DocumentStore(MartenEventStore.Options(db, _schema.Name));
        await using var session = marten.QuerySession();
        var acme = await session.Events.FetchStreamAsync("acme");
        Assert.Equal([1L, 2L, 3L], acme.Select(e => e.Version));
        Assert.Equal(["e1", "e2", "e4"], acme.Select(e => ((LedgerEntry)e.Data).EventId));
        Assert.Equal([1L, 2L, 4L], acme.Select(e => ((LedgerEntry)e.Data).Position));
        var state = await session.Events.FetchStreamStateAsync("beta");
        Assert.Equal(1, state!.Version);
    }

    [Fact]
    public async Task Reopening_keeps_the_ledger_indexes_and_appends_on()
    {
        await using (var store = await OpenStoreAsync())
            await store.AppendAsync([new StreamAppend("a", 0, [Start("a", id: "e1")])]);
        await using (var reopened = await OpenStoreAsync())
        {
            Assert.Equal([2L], (await reopened.AppendAsync([new StreamAppend("a", 1, [Expand("a", id: "e2")])])).Positions);
            Assert.True((await HashChain.VerifyAsync(reopened)).IsIntact);
        }
        await using var c = new NpgsqlConnection(_schema.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN ('ledger_ux_position', 'ledger_ux_event_id')", c);
        Assert.Equal(2L, (long)(await cmd.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task An_event_altered_in_Marten_s_table_breaks_the_chain_at_its_position()
    {
        await using var store = await OpenStoreAsync();
        await store.AppendAsync([new StreamAppend("a", 0, [Start("a", id: "e1"), Expand("a", id: "e2")]), new StreamAppend("b", 0, [Start("b", id: "e3")])]);
        // One more byte in the stored payload (still readable JSON): what the chain covers has changed.
        await ExecAsync("UPDATE mt_events SET data = jsonb_set(data, '{payload}', to_jsonb((data ->> 'payload') || ' ')) WHERE data ->> 'eventId' = 'e1'");
        var verdict = await HashChain.VerifyAsync(store);
        Assert.False(verdict.IsIntact);
        Assert.Equal(1, verdict.FirstBadPosition);
    }

    [Fact]
    public async Task An_event_deleted_from_Marten_s_table_is_a_gap_the_verifier_names()
    {
        await using var store = await OpenStoreAsync();
        await store.AppendAsync([new StreamAppend("a", 0, [Start("a", id: "e1"), Expand("a", id: "e2"), Expand("a", id: "e3")])]);
        await ExecAsync("DELETE FROM mt_events WHERE data ->> 'eventId' = 'e2'");
        var verdict = await HashChain.VerifyAsync(store);
        Assert.False(verdict.IsIntact);
        Assert.Equal(2, verdict.FirstBadPosition);
    }

    [Fact]
    public async Task Reading_a_store_that_is_not_there_is_refused_without_creating_one()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => MartenEventStore.OpenAsync(_schema.ConnectionString, Clock, create: false));
        Assert.StartsWith("no ledger store", refused.Message, StringComparison.Ordinal);
    }
}
