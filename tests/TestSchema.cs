using Npgsql;

namespace RevenueLedger.Tests;

/// <summary>A fresh schema in the PostgreSQL that tests/run.sh started (or LEDGER_TEST_POSTGRES names).</summary>
public sealed class TestSchema
{
    public static string Server { get; } = Environment.GetEnvironmentVariable("LEDGER_TEST_POSTGRES") is { Length: > 0 } cs
        ? cs
        : throw new InvalidOperationException("LEDGER_TEST_POSTGRES is not set: run the suite with tests/run.sh, which starts PostgreSQL");

    public string Name { get; } = "t_" + Guid.NewGuid().ToString("N")[..16];

    public string ConnectionString => new NpgsqlConnectionStringBuilder(Server) { SearchPath = Name }.ConnectionString;

    public async Task DropAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var c = new NpgsqlConnection(Server);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{Name}\" CASCADE", c);
        await cmd.ExecuteNonQueryAsync();
    }
}
