using Microsoft.Data.Sqlite;

namespace RevenueLedger.Cli.Tests;

public sealed record CliResult(int Exit, string Out, string Err);

public static class Cli
{
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exit = await LedgerCli.RunAsync(args, stdout, stderr);
        return new CliResult(exit, stdout.ToString(), stderr.ToString());
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

public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("ledger-cli-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(Path, recursive: true);
    }
}
