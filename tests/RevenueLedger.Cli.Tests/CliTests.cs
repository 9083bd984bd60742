using RevenueLedger.Tests;
using Microsoft.Data.Sqlite;

namespace RevenueLedger.Cli.Tests;

/// <summary>The command line's contract: clear errors with non-zero exits, deterministic generation, output formats.</summary>
public sealed class CliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Store => "sqlite:" + _dir.File("ledger.db");

    private async Task ImportWorkedExampleAsync() =>
        Assert.Equal(0, (await Cli.RunAsync("import", Shared.File("worked-example.jsonl"), "--store", Store)).Exit);

    [Fact]
    public async Task Import_prints_counts_per_outcome()
    {
        var r = await Cli.RunAsync("import", Shared.File("worked-example.jsonl"), "--store", Store);
        Assert.Equal(0, r.Exit);
        Assert.Contains("35 lines: 22 accepted, 1 duplicate, 1 conflict, 5 invalid, 6 rejected; ledger head at position 22", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reimporting_is_idempotent()
    {
        await ImportWorkedExampleAsync();
        var again = await Cli.RunAsync("import", Shared.File("worked-example.jsonl"), "--store", Store);
        Assert.Contains("0 accepted, 23 duplicate", again.Out, StringComparison.Ordinal);
        Assert.Contains("head at position 22", again.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_line_that_is_not_json_is_invalid_not_a_crash()
    {
        var file = _dir.File("bad.jsonl");
        await File.WriteAllLinesAsync(file, ["not json", "{\"type\":\"OwnerAssigned\",\"accountId\":\"a\",\"ownerId\":\"o\",\"effectiveDate\":\"2024-01-01\"}", "{"]);
        var outcomes = _dir.File("out.json");
        var r = await Cli.RunAsync("import", file, "--store", Store, "--outcomes", outcomes);
        Assert.Equal(0, r.Exit);
        Assert.Contains("3 lines: 1 accepted, 0 duplicate, 0 conflict, 2 invalid, 0 rejected", r.Out, StringComparison.Ordinal);
        Assert.Contains("\"code\": \"malformed-json\"", await File.ReadAllTextAsync(outcomes), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("report", "--from", "2024-01-01", "--to", "2024-04-01", "--store", "mysql:x", "unknown store scheme")]
    [InlineData("report", "--from", "2024-02-30", "--to", "2024-04-01", "", "", "--from must be a real date")]
    [InlineData("report", "--from", "2024-04-01", "--to", "2024-04-01", "", "", "must be before --to")]
    [InlineData("report", "--from", "2024-01-01", "--to", "2024-04-01", "--window", "week", "--window must be one of")]
    [InlineData("report", "--from", "2024-01-01", "--to", "2024-04-01", "--format", "csv", "--format csv needs --only")]
    [InlineData("report", "--from", "2024-01-01", "--to", "2024-04-01", "--as-of-position", "-1", "must not be negative")]
    [InlineData("report", "--from", "2024-01-01", "--to", "2024-04-01", "--as-of-position", "99", "outside the ledger")]
    public async Task Bad_report_arguments_are_clear_errors(string a0, string a1, string a2, string a3, string a4, string a5, string a6, string message)
    {
        await ImportWorkedExampleAsync();
        var args = new List<string> { a0, a1, a2, a3, a4 };
        if (a5 != "") args.AddRange([a5, a6]);
        if (!args.Contains("--store") && a5 != "--store") args.AddRange(["--store", Store]);
        var r = await Cli.RunAsync([.. args]);
        Assert.Equal(LedgerCli.Usage, r.Exit);
        Assert.Contains(message, r.Err, StringComparison.Ordinal);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public async Task Report_on_a_missing_store_file_is_an_error_and_creates_nothing()
    {
        var r = await Cli.RunAsync("report", "--from", "2024-01-01", "--to", "2024-04-01", "--store", "sqlite:" + _dir.File("missing.db"));
        Assert.Equal(LedgerCli.Usage, r.Exit);
        Assert.Contains("no ledger store", r.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("missing.db")));
    }

    [Fact]
    public async Task Import_of_a_missing_file_is_an_error()
    {
        var r = await Cli.RunAsync("import", _dir.File("nope.jsonl"), "--store", Store);
        Assert.Equal(LedgerCli.Usage, r.Exit);
        Assert.Contains("no such file", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Generate_is_deterministic_for_a_seed_and_differs_across_seeds()
    {
        string[] Args(string seed) => ["generate", "--accounts", "50", "--owners", "4", "--start", "2023-01-01", "--months", "12", "--seed", seed];
        var a = await Cli.RunAsync(Args("7"));
        var b = await Cli.RunAsync(Args("7"));
        var c = await Cli.RunAsync(Args("8"));
        Assert.Equal(0, a.Exit);
        Assert.Equal(a.Out, b.Out);
        Assert.NotEqual(a.Out, c.Out);
        Assert.True(a.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length > 100);
    }

    [Fact]
    public async Task Csv_has_a_header_row_and_one_line_per_row()
    {
        await ImportWorkedExampleAsync();
        var r = await Cli.RunAsync("report", "--store", Store, "--from", "2024-01-01", "--to", "2024-04-01", "--format", "csv", "--only", "bridge");
        Assert.Equal(0, r.Exit);
        var lines = r.Out.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("from,to,ownerId,openingMrr,new,expansion,contraction,churn,reactivation,transferIn,transferOut,closingMrr,accountsChurned,fxImpact,currency", lines[0]);
        Assert.Equal("2024-01-01,2024-04-01,ben,800,300,300,0,0,450,600,0,2450,0,0,USD", lines[3]);
        Assert.Equal(4, lines.Length);
    }

    [Fact]
    public async Task Churn_reasons_carry_pareto_shares()
    {
        await ImportWorkedExampleAsync();
        var r = await Cli.RunAsync("report", "--store", Store, "--from", "2024-01-01", "--to", "2024-04-01", "--format", "csv", "--only", "churn-reasons", "--by", "none");
        Assert.Equal("2024-01-01,2024-04-01,*,features,2000,1,1,1,USD", r.Out.Split("\r\n")[1]);
    }

    [Fact]
    public async Task As_of_position_answers_with_what_was_known_then()
    {
        await ImportWorkedExampleAsync();
        // Position 12 is e12 (999 expansion); its reversal is position 13. As of 12 the 999 counts.
        var at12 = await Cli.RunAsync("report", "--store", Store, "--from", "2024-01-01", "--to", "2024-04-01", "--format", "csv", "--only", "nrr", "--by", "none", "--as-of-position", "12");
        var at13 = await Cli.RunAsync("report", "--store", Store, "--from", "2024-01-01", "--to", "2024-04-01", "--format", "csv", "--only", "nrr", "--by", "none", "--as-of-position", "13");
        Assert.StartsWith("2024-01-01,2024-04-01,*,4400,999,", at12.Out.Split("\r\n")[1], StringComparison.Ordinal);
        Assert.StartsWith("2024-01-01,2024-04-01,*,4400,0,", at13.Out.Split("\r\n")[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_table_format_prints_every_report()
    {
        await ImportWorkedExampleAsync();
        var r = await Cli.RunAsync("report", "--store", Store, "--from", "2024-01-01", "--to", "2024-04-01");
        Assert.Equal(0, r.Exit);
        foreach (var text in new[] { "as of position 22", "NRR cohorts", "MRR bridge", "Churn reasons", "68.2%", "50.0%", "features", "Legend", "nrr = closingMrr ÷ openingMrr" })
            Assert.Contains(text, r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_report_table_speaks_as_the_demo_does_with_the_csv_signs()
    {
        await ImportWorkedExampleAsync();
        var r = await Cli.RunAsync("report", "--store", Store, "--from", "2024-01-01", "--to", "2024-04-01", "--only", "bridge");
        Assert.Equal(0, r.Exit);
        var csv = await Cli.RunAsync("report", "--store", Store, "--from", "2024-01-01", "--to", "2024-04-01", "--only", "bridge", "--format", "csv");
        var company = csv.Out.Split("\r\n").Single(l => l.Contains(",*,", StringComparison.Ordinal)).Split(',');
        var row = r.Out.Split('\n').Single(l => l.Contains(" company ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // The company row is "company", never "*"; contraction and churn positive as in the CSV (200.00 and 2,000.00 in the example).
        Assert.Equal("company", row[2]);
        Assert.DoesNotContain(" * ", r.Out, StringComparison.Ordinal);
        Assert.Equal(decimal.Parse(company[6], System.Globalization.CultureInfo.InvariantCulture), decimal.Parse(row[6], System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(decimal.Parse(company[7], System.Globalization.CultureInfo.InvariantCulture), decimal.Parse(row[7], System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("2,000.00", row[7]);
        Assert.Contains("− contraction − churn", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_mistyped_command_is_answered_with_the_right_one()
    {
        var r = await Cli.RunAsync("reprot", "--from", "2024-01-01");
        Assert.Equal(LedgerCli.Usage, r.Exit);
        Assert.Contains("unknown command 'reprot'; did you mean 'report'?", r.Err, StringComparison.Ordinal);
        var far = await Cli.RunAsync("xyzzy");
        Assert.Equal(LedgerCli.Usage, far.Exit);
        Assert.Contains("the commands are generate, import, report", far.Err, StringComparison.Ordinal);
        var none = await Cli.RunAsync();
        Assert.Equal(LedgerCli.Usage, none.Exit);
        Assert.Contains("no command given", none.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Long_commands_state_their_throughput_and_draw_no_progress_when_not_on_a_terminal()
    {
        var import = await Cli.RunAsync("import", Shared.File("worked-example.jsonl"), "--store", Store);
        var project = await Cli.RunAsync("project", "--store", Store);
        var rebuild = await Cli.RunAsync("project", "--store", Store, "--rebuild");
        Assert.Matches(@"took 35 lines in \d+\.\d s \([\d,]+/s\)", import.Out);
        Assert.Matches(@"at position 22; took 22 events in \d+\.\d s \([\d,]+/s\)", project.Out);
        Assert.Matches(@"rebuilt generation 2 at position 22; took 22 events in", rebuild.Out);
        foreach (var output in new[] { import.Out, project.Out, rebuild.Out })
        {
            Assert.DoesNotContain('\u001b', output); // no escape sequences: a redirected output stays plain text
            Assert.DoesNotContain("importing", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Demo_imports_a_book_and_prints_nrr_bridge_and_pareto()
    {
        var r = await Cli.RunAsync("demo", "--accounts", "300", "--store", "sqlite:" + _dir.File("demo.db"));
        Assert.True(r.Exit == 0, r.Err);
        foreach (var text in new[] { "NRR / GRR by owner", "Q4 2025 NRR", "Company MRR bridge (USD)", " fxImpact ", "in USD, EUR, GBP", "reporting currency: USD", "Churn reasons", "cumulativeShare", "0 invalid, 0 rejected", "Legend" })
            Assert.Contains(text, r.Out, StringComparison.Ordinal);
        Assert.Equal(0, (await Cli.RunAsync("verify", "--store", "sqlite:" + _dir.File("demo.db"))).Exit);

        // Run again on its own store: nothing is imported twice, the same report comes back.
        var again = await Cli.RunAsync("demo", "--accounts", "300", "--store", "sqlite:" + _dir.File("demo.db"));
        Assert.True(again.Exit == 0, again.Err);
        Assert.Contains("already holds this book", again.Out, StringComparison.Ordinal);
        Assert.Equal(Tables(r.Out), Tables(again.Out));
        static string Tables(string output) => output[output.IndexOf("NRR / GRR", StringComparison.Ordinal)..output.LastIndexOf("done in", StringComparison.Ordinal)];
    }

    [Fact]
    public async Task Demo_never_adds_its_book_to_a_store_holding_other_events()
    {
        await ImportWorkedExampleAsync();
        var r = await Cli.RunAsync("demo", "--accounts", "300", "--store", Store);
        Assert.Equal(LedgerCli.Usage, r.Exit);
        Assert.Contains("already holds 22 events that are not this demo's book; nothing was changed", r.Err, StringComparison.Ordinal);
        Assert.Contains("intact: 22 events", (await Cli.RunAsync("verify", "--store", Store)).Out, StringComparison.Ordinal);
    }
}

/// <summary>Tampering with stored rows behind the ledger's back: `ledger verify` names the first bad position.</summary>
public sealed class TamperTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Path => _dir.File("ledger.db");

    private async Task<CliResult> ImportThenTamperAsync(string sql)
    {
        Assert.Equal(0, (await Cli.RunAsync("import", Shared.File("worked-example.jsonl"), "--store", "sqlite:" + Path)).Exit);
        Assert.Equal(0, (await Cli.RunAsync("verify", "--store", "sqlite:" + Path)).Exit);
        SqliteConnection.ClearAllPools();
        using (var c = new SqliteConnection($"Data Source={Path}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            Assert.True(cmd.ExecuteNonQuery() > 0);
        }
        SqliteConnection.ClearAllPools();
        return await Cli.RunAsync("verify", "--store", "sqlite:" + Path);
    }

    [Fact]
    public async Task An_intact_log_verifies()
    {
        Assert.Equal(0, (await Cli.RunAsync("import", Shared.File("worked-example.jsonl"), "--store", "sqlite:" + Path)).Exit);
        var r = await Cli.RunAsync("verify", "--store", "sqlite:" + Path);
        Assert.Equal(0, r.Exit);
        Assert.Contains("intact: 22 events", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_altered_amount_is_found()
    {
        var r = await ImportThenTamperAsync("UPDATE events SET payload = replace(payload, '\"500\"', '\"5000\"') WHERE position = 14");
        Assert.Equal(LedgerCli.Failed, r.Exit);
        Assert.Contains("broken at position 14", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_altered_row_with_a_recomputed_hash_breaks_the_next_link()
    {
        // Forging one row's hash is not enough: the next event's hash covers it.
        var r = await ImportThenTamperAsync("UPDATE events SET hash = '" + new string('a', 64) + "' WHERE position = 9");
        Assert.Contains("broken at position 9", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deleted_row_is_found()
    {
        var r = await ImportThenTamperAsync("DELETE FROM events WHERE position = 7");
        Assert.Equal(LedgerCli.Failed, r.Exit);
        Assert.Contains("broken at position 7", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_truncated_tail_is_found()
    {
        var r = await ImportThenTamperAsync("DELETE FROM events WHERE position >= 21");
        Assert.Equal(LedgerCli.Failed, r.Exit);
        Assert.Contains("broken at position 21", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Swapped_rows_are_found()
    {
        var r = await ImportThenTamperAsync("""
            UPDATE events SET position = -1 WHERE position = 5;
            UPDATE events SET position = 5 WHERE position = 6;
            UPDATE events SET position = 6 WHERE position = -1;
            """);
        Assert.Equal(LedgerCli.Failed, r.Exit);
        Assert.Contains("broken at position 5", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_changed_recorded_at_is_found()
    {
        var r = await ImportThenTamperAsync("UPDATE events SET recorded_at = '2020-01-01T00:00:00.0000000Z' WHERE position = 3");
        Assert.Contains("broken at position 3", r.Err, StringComparison.Ordinal);
    }
}
