using Npgsql;

namespace RevenueLedger.Postgres;

public static class PostgresDataSource
{
    /// <summary>
    /// A data source for the ledger's own short queries, with JIT compilation off: a lookup of a thousand accounts
    /// crosses the default JIT cost threshold and spent 10–240 ms compiling for 2 ms of work. Options in the
    /// connection string come after ours, so a deployment can still turn it back on.
    /// </summary>
    public static NpgsqlDataSource Create(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Options = string.IsNullOrWhiteSpace(builder.Options) ? "-c jit=off" : "-c jit=off " + builder.Options;
        return NpgsqlDataSource.Create(builder.ConnectionString);
    }
}
