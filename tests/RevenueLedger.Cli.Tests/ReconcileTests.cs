using System.Globalization;
using System.Text;
using System.Text.Json;
using RevenueLedger.Tests;

namespace RevenueLedger.Cli.Tests;

/// <summary>
/// `ledger reconcile` against a billing export computed here from the generated events by a simple, separate
/// simulation (contracts' MRR at each month end), then with planted differences: it must find exactly those.
/// </summary>
public sealed class ReconcileTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private List<string> _lines = [];

    private string Store => "sqlite:" + _dir.File("ledger.db");

    public async Task InitializeAsync()
    {
        var book = await Cli.RunAsync("generate", "--accounts", "150", "--owners", "4", "--start", "2023-01-01", "--months", "24", "--seed", "11", "--currencies", "USD,EUR");
        _lines = book.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        await File.WriteAllLinesAsync(_dir.File("book.jsonl"), _lines);
        Assert.Equal(0, (await Cli.RunAsync("import", _dir.File("book.jsonl"), "--store", Store)).Exit);
    }

    public Task DisposeAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }

    private static readonly DateOnly[] MonthEnds = Enumerable.Range(0, 24).Select(i => new DateOnly(2023, 1, 1).AddMonths(i + 1).AddDays(-1)).ToArray();

    /// <summary>Billing's view: per account and month end, the sum of its contracts' MRR after every unreversed event dated on or before it.</summary>
    private List<(string Account, DateOnly Date, decimal Mrr, string Currency)> Billing()
    {
        var events = _lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var reversed = events.Where(e => e.GetProperty("type").GetString() == "EventReversed").Select(e => e.GetProperty("targetEventId").GetString()).ToHashSet();
        var byAccount = events.Where(e => e.GetProperty("type").GetString()!.StartsWith("Contract", StringComparison.Ordinal) && !reversed.Contains(e.GetProperty("eventId").GetString()))
            .GroupBy(e => e.GetProperty("accountId").GetString()!);
        var rows = new List<(string, DateOnly, decimal, string)>();
        foreach (var account in byAccount)
        {
            var ordered = account.Select((e, i) => (e, i)).OrderBy(x => DateOnly.Parse(x.e.GetProperty("effectiveDate").GetString()!, CultureInfo.InvariantCulture)).ThenBy(x => x.i).Select(x => x.e).ToList();
            string currency = ordered.First(e => e.TryGetProperty("currency", out _)).GetProperty("currency").GetString()!;
            foreach (var end in MonthEnds)
            {
                var contracts = new Dictionary<string, decimal>();
                foreach (var e in ordered.TakeWhile(e => DateOnly.Parse(e.GetProperty("effectiveDate").GetString()!, CultureInfo.InvariantCulture) <= end))
                {
                    string id = e.GetProperty("contractId").GetString()!;
                    decimal Amount(string p) => decimal.Parse(e.GetProperty(p).GetString()!, CultureInfo.InvariantCulture);
                    contracts[id] = e.GetProperty("type").GetString() switch
                    {
                        "ContractStarted" => Amount("mrr"),
                        "ContractExpanded" => contracts.GetValueOrDefault(id) + Amount("amount"),
                        "ContractContracted" => contracts.GetValueOrDefault(id) - Amount("amount"),
                        _ => 0m,
                    };
                }
                if (contracts.Values.Sum() is var mrr and > 0) rows.Add((account.Key, end, mrr, currency));
            }
        }
        return rows;
    }

    private async Task<(CliResult Result, List<string[]> Differences)> ReconcileAsync(IEnumerable<(string Account, DateOnly Date, decimal Mrr, string Currency)> rows, string header = "accountId,date,mrr,currency", params string[] options)
    {
        var csv = new StringBuilder(header).Append('\n');
        foreach (var (a, d, m, c) in rows) csv.Append(CultureInfo.InvariantCulture, $"{a},{d:yyyy-MM-dd},{m},{c}\n");
        await File.WriteAllTextAsync(_dir.File("billing.csv"), csv.ToString());
        var r = await Cli.RunAsync(["reconcile", _dir.File("billing.csv"), "--store", Store, "--out", _dir.File("diff.csv"), .. options]);
        var diff = File.Exists(_dir.File("diff.csv")) ? File.ReadAllLines(_dir.File("diff.csv")).Skip(1).Select(l => l.Split(',')).ToList() : [];
        return (r, diff);
    }

    [Fact]
    public async Task A_billing_export_computed_apart_from_the_ledger_matches_it_line_for_line()
    {
        var billing = Billing();
        Assert.True(billing.Count > 1000, $"{billing.Count} lines");
        var (r, differences) = await ReconcileAsync(billing);
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Empty(differences);
        Assert.Contains($"reconciled {billing.Count:N0} billing lines on 24 date(s)", r.Out, StringComparison.Ordinal);
        Assert.Contains("every line matched", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Planted_differences_are_found_exactly_with_totals_on_both_sides()
    {
        var billing = Billing();
        var changed = billing[100];
        var dropped = billing[200];
        var recurrency = billing[300];
        var planted = billing.Select(b => b == changed ? b with { Mrr = b.Mrr + 0.01m } : b == recurrency ? b with { Currency = b.Currency == "USD" ? "EUR" : "USD" } : b)
            .Where(b => b != dropped)
            .Append(("acct-99999", MonthEnds[5], 123.45m, "USD"))
            .ToList();
        var (r, differences) = await ReconcileAsync(planted);
        Assert.Equal(LedgerCli.Failed, r.Exit);
        var expected = new[]
        {
            (changed.Account, changed.Date, "differs"), (recurrency.Account, recurrency.Date, "differs"),
            (dropped.Account, dropped.Date, "missing-in-billing"), ("acct-99999", MonthEnds[5], "missing-in-ledger"),
        };
        Assert.Equal(expected.OrderBy(e => e.Item2).ThenBy(e => e.Item1, StringComparer.Ordinal),
            differences.Select(d => (d[0], DateOnly.Parse(d[1], CultureInfo.InvariantCulture), d[2])));
        var one = differences.Single(d => d[0] == changed.Account && d[1] == changed.Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Assert.Equal(("-0.01", changed.Mrr.ToString(CultureInfo.InvariantCulture)), (one[7], one[3]));
        Assert.Contains("4 difference(s) written to", r.Out, StringComparison.Ordinal);
        Assert.Matches(@"missing-in-ledger\s+USD\s+1\s+0\.00\s+123\.45\s+-123\.45", r.Out);
    }

    [Fact]
    public async Task Columns_map_by_name_and_as_of_position_reconciles_what_was_known_then()
    {
        var billing = Billing();
        var (r, _) = await ReconcileAsync(billing, "customer,month_end,amount,ccy", "--account-column", "customer", "--date-column", "month_end", "--mrr-column", "amount", "--currency-column", "ccy");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        // Known at position 1 the ledger held one event: everything billing has is then a difference.
        var (early, differences) = await ReconcileAsync(billing, "accountId,date,mrr,currency", "--as-of-position", "1");
        Assert.Equal(LedgerCli.Failed, early.Exit);
        Assert.Contains("as of position 1 ", early.Out, StringComparison.Ordinal);
        Assert.True(differences.Count >= billing.Count - 24);
    }

    [Theory]
    [InlineData("accountId,date,mrr,currency\nacct-00001,2023-02-30,10,USD\n", "line 2: date '2023-02-30' is not a date")]
    [InlineData("accountId,date,mrr,currency\nacct-00001,2023-02-28,ten,USD\n", "line 2: mrr 'ten' is not a non-negative decimal amount")]
    [InlineData("accountId,date,mrr,currency\nacct-00001,2023-02-28,10,usd\n", "line 2: currency 'usd' is not an ISO 4217 code")]
    [InlineData("account,date,mrr,currency\n", "the billing file has no column 'accountId'")]
    [InlineData("accountId,date,mrr,currency\nacct-00001,2023-02-28,10,USD\nacct-00001,2023-02-28,11,USD\n", "line 3: a second line for account 'acct-00001' on 2023-02-28")]
    public async Task A_bad_billing_file_is_refused_with_its_line_and_writes_nothing(string csv, string message)
    {
        await File.WriteAllTextAsync(_dir.File("bad.csv"), csv);
        var r = await Cli.RunAsync("reconcile", _dir.File("bad.csv"), "--store", Store, "--out", _dir.File("bad-diff.csv"));
        Assert.Equal(LedgerCli.Usage, r.Exit);
        Assert.Contains(message, r.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("bad-diff.csv")));
    }
}
