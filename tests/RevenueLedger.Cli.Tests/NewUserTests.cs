using System.Diagnostics;

namespace RevenueLedger.Cli.Tests;

/// <summary>The command line as a new user meets it: the built `ledger` in a fresh directory, no options they don't know yet.</summary>
public sealed class NewUserTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<CliResult> LedgerAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir.Path };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ledger.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("LEDGER_CURRENCY");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return new CliResult(p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task After_the_demo_the_next_commands_find_its_store_by_default()
    {
        var demo = await LedgerAsync("demo", "--accounts", "200");
        Assert.True(demo.Exit == 0, demo.Err);
        Assert.Contains("store: sqlite:./data/ledger.db", demo.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(_dir.File("data/ledger.db")));
        // The command the demo suggests, as printed, works without --store.
        var suggested = demo.Out.Split('\n').Single(l => l.Contains("Try: ledger report", StringComparison.Ordinal));
        var args = suggested[(suggested.IndexOf("Try: ledger ", StringComparison.Ordinal) + "Try: ledger ".Length)..].Trim().Split(' ');
        Assert.DoesNotContain("--store", args);
        var report = await LedgerAsync(args);
        Assert.True(report.Exit == 0, report.Err);
        Assert.Contains("as of position", report.Out, StringComparison.Ordinal);
        Assert.Contains(" company ", report.Out, StringComparison.Ordinal);
        var verify = await LedgerAsync("verify");
        Assert.Equal(0, verify.Exit);
    }
}
