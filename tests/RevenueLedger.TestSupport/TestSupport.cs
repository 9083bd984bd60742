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
        // The ledger's schema and the BI views' schema next to it.
        await using var cmd = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{Name}\" CASCADE; DROP SCHEMA IF EXISTS \"{Name}_reporting\" CASCADE", c);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>The shared contract files (../shared next to the repository); their absence fails the run rather than skipping it.</summary>
public static class Shared
{
    public static string Scenarios { get; } = Locate();

    public static string File(string name) => System.IO.Path.Combine(Scenarios, name);

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("LEDGER_SCENARIOS") is { Length: > 0 } env) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "RevenueLedger.sln")))
            {
                var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "scenarios"));
                if (Directory.Exists(path)) return path;
                throw new DirectoryNotFoundException($"shared scenarios not found at {path}; set LEDGER_SCENARIOS");
            }
        throw new DirectoryNotFoundException("repository root (RevenueLedger.sln) not found above the test binaries");
    }
}

/// <summary>A temporary directory for a SQLite store, removed with its pooled connections.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("ledger-test-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Path, recursive: true);
    }
}
