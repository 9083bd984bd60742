using System.Text.Json;
using RevenueLedger.Domain;
using RevenueLedger.Sqlite;
using RevenueLedger.Tests;

namespace RevenueLedger.Cli.Tests;

/// <summary>`ledger signals import`, and the insight commands on a generated book read as a person and as a program.</summary>
public sealed class InsightCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Store => "sqlite:" + _dir.File("ledger.db");

    private async Task<long> HeadAsync()
    {
        await using var store = await SqliteEventStore.OpenAsync(_dir.File("ledger.db"), create: false);
        return (await store.GetHeadAsync()).Position;
    }

    [Fact]
    public async Task Signals_import_records_each_line_once_a_changed_value_is_a_conflict_and_a_bad_line_stores_nothing()
    {
        var file = _dir.File("signals.csv");
        await File.WriteAllTextAsync(file, "effectiveDate,accountId,signal,value\n2024-01-01,acme,usage,12.5\n2024-02-01,acme,usage,-3\n2024-01-01,beta,fit-rating,4\n");
        var first = await Cli.RunAsync("signals", "import", file, "--store", Store);
        Assert.True(first.Exit == 0, first.Err + first.Out);
        Assert.Contains("3 signal values from signals.csv: 3 recorded, 0 already recorded, 0 conflict", first.Out, StringComparison.Ordinal);
        await using (var store = await SqliteEventStore.OpenAsync(_dir.File("ledger.db"), create: false))
        {
            var events = new List<SignalRecorded>();
            await foreach (var e in store.ReadAllAsync()) events.Add(Assert.IsType<SignalRecorded>(e.Event));
            Assert.Equal([("sig:acme:usage:2024-01-01", 12.5m), ("sig:acme:usage:2024-02-01", -3m), ("sig:beta:fit-rating:2024-01-01", 4m)],
                events.Select(e => (e.EventId, e.Value)));
        }
        var again = await Cli.RunAsync("signals", "import", file, "--store", Store);
        Assert.Equal(0, again.Exit);
        Assert.Contains("0 recorded, 3 already recorded", again.Out, StringComparison.Ordinal);

        await File.WriteAllTextAsync(file, "accountId,signal,value,effectiveDate\nacme,usage,13,2024-01-01\n");
        var changed = await Cli.RunAsync("signals", "import", file, "--store", Store);
        Assert.Equal(LedgerCli.Failed, changed.Exit);
        Assert.Contains("1 conflict", changed.Out, StringComparison.Ordinal);
        Assert.Equal(3, await HeadAsync());

        foreach (var (csv, message) in new[]
        {
            ("accountId,signal,value,effectiveDate\nacme,usage,1,2024-03-01\nacme,usage,1e3,2024-04-01\n", ":3: `value` must be a plain decimal"),
            ("accountId,signal,value,effectiveDate\nacme,Usage,1,2024-03-01\n", ":2: `signal` must match"),
            ("accountId,signal,value\nacme,usage,1\n", "no 'effectiveDate' column"),
            ("accountId,signal,value,effectiveDate,owner\nacme,usage,1,2024-03-01,x\n", "unknown column 'owner'"),
            ("accountId,signal,value,effectiveDate\nacme,usage,1\n", ":2: 3 fields, the header has 4"),
        })
        {
            await File.WriteAllTextAsync(file, csv);
            var bad = await Cli.RunAsync("signals", "import", file, "--store", Store);
            Assert.Equal(LedgerCli.Usage, bad.Exit);
            Assert.Contains(message, bad.Err, StringComparison.Ordinal);
            Assert.Equal(3, await HeadAsync()); // nothing stored, not even the good line before the bad one
        }
    }

    [Fact]
    public async Task On_a_generated_book_the_commands_answer_in_tables_and_in_json_that_agree()
    {
        var book = _dir.File("book.jsonl");
        var generated = await Cli.RunAsync("generate", "--signals", "driven", "--accounts", "1500", "--owners", "5", "--start", "2022-01-01", "--months", "30", "--seed", "4");
        Assert.Equal(0, generated.Exit);
        await File.WriteAllTextAsync(book, generated.Out);
        Assert.Equal(0, (await Cli.RunAsync("import", book, "--store", Store)).Exit);

        var table = await Cli.RunAsync("pareto", "--from", "2023-01-01", "--to", "2024-01-01", "--owner", "owner-01", "--store", Store);
        Assert.True(table.Exit == 0, table.Err);
        var json = await Cli.RunAsync("pareto", "--from", "2023-01-01", "--to", "2024-01-01", "--owner", "owner-01", "--store", Store, "--format", "json");
        var p = JsonDocument.Parse(json.Out).RootElement;
        var churn = decimal.Parse(p.GetProperty("churnMrr").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"churn {churn.ToString("#,0.00", System.Globalization.CultureInfo.InvariantCulture)}", table.Out, StringComparison.Ordinal);
        foreach (var f in p.GetProperty("functions").EnumerateArray().Where(f => f.GetProperty("kind").GetString() == "lost"))
            Assert.Contains(f.GetProperty("function").GetString()!, table.Out, StringComparison.Ordinal);

        var dive = await Cli.RunAsync("deep-dive", "--owner", "owner-01", "--from", "2023-01-01", "--to", "2024-01-01", "--store", Store, "--format", "json");
        Assert.True(dive.Exit == 0, dive.Err);
        var d = JsonDocument.Parse(dive.Out).RootElement;
        var text = await Cli.RunAsync("deep-dive", "--owner", "owner-01", "--from", "2023-01-01", "--to", "2024-01-01", "--store", Store);
        Assert.Contains($"verdict: {d.GetProperty("verdict").GetString()}", text.Out, StringComparison.Ordinal);

        var evaluation = await Cli.RunAsync("health", "evaluate", "--cutoff", "2023-07-01", "--store", Store, "--format", "json");
        Assert.True(evaluation.Exit == 0, evaluation.Err);
        Assert.InRange(JsonDocument.Parse(evaluation.Out).RootElement.GetProperty("auc").GetDouble(), 0.7, 1);
        var score = await Cli.RunAsync("health", "score", "--date", "2024-01-01", "--top", "5", "--store", Store);
        Assert.True(score.Exit == 0, score.Err);
        Assert.Contains("MRR at risk", score.Out, StringComparison.Ordinal);

        // Questions the book cannot answer are usage errors with a reason, not crashes.
        var early = await Cli.RunAsync("health", "evaluate", "--cutoff", "2022-02-01", "--store", Store);
        Assert.Equal(LedgerCli.Usage, early.Exit);
        Assert.Contains("too few to train on", early.Err, StringComparison.Ordinal);
        var company = await Cli.RunAsync("deep-dive", "--owner", "*", "--from", "2023-01-01", "--to", "2024-01-01", "--store", Store);
        Assert.Equal(LedgerCli.Usage, company.Exit);
    }
}
