using System.CommandLine;
using System.Globalization;
using RevenueLedger.Application;
using RevenueLedger.Storage;

namespace RevenueLedger.Cli;

/// <summary>`ledger reconcile BILLING.csv`: the ledger's MRR per account and date against a billing export.</summary>
internal static class ReconcileCommand
{
    public static Command Create(TextWriter stdout)
    {
        var file = new Argument<FileInfo>("BILLING.csv") { Description = "Billing export with a header row: accountId,date,mrr,currency (names mappable)" };
        var output = new Option<FileInfo?>("--out") { Description = "Write the differences here as CSV (default: reconcile-differences.csv beside the billing file)" };
        var asOf = new Option<long?>("--as-of-position") { Description = "Reconcile what the ledger knew at this log position" };
        var accountColumn = new Option<string>("--account-column") { DefaultValueFactory = _ => "accountId", Description = "Column holding the account id" };
        var dateColumn = new Option<string>("--date-column") { DefaultValueFactory = _ => "date", Description = "Column holding the date (YYYY-MM-DD, business time)" };
        var mrrColumn = new Option<string>("--mrr-column") { DefaultValueFactory = _ => "mrr", Description = "Column holding the MRR at the end of that date" };
        var currencyColumn = new Option<string>("--currency-column") { DefaultValueFactory = _ => "currency", Description = "Column holding the ISO 4217 currency" };
        var store = LedgerCli.StoreOption();
        var cmd = new Command("reconcile", "Compare the ledger's MRR per account at the end of given dates with a billing export; exit 1 when anything differs")
        {
            file, output, asOf, accountColumn, dateColumn, mrrColumn, currencyColumn, store,
        };
        cmd.SetAction(async (p, ct) =>
        {
            var path = p.GetValue(file)!;
            if (!path.Exists) throw new LedgerUsageException($"no such file '{path.FullName}'");
            if (p.GetValue(asOf) is < 0) throw new LedgerUsageException("--as-of-position must not be negative");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            List<BillingRow> billing;
            using (var reader = new StreamReader(path.FullName))
                billing = BillingCsv.Read(reader, new BillingCsv.Columns(p.GetValue(accountColumn)!, p.GetValue(dateColumn)!, p.GetValue(mrrColumn)!, p.GetValue(currencyColumn)!));
            await using var events = await StoreUri.Parse(p.GetValue(store)).OpenAsync(mustExist: true, ct: ct);
            var snapshot = await LedgerSnapshot.LoadAsync(events, p.GetValue(asOf), ct);
            var result = Reconciliation.Reconcile(snapshot, billing);
            var o = Output.For(stdout);
            o.Line(string.Create(CultureInfo.InvariantCulture,
                $"reconciled {result.BillingRows:N0} billing lines on {result.Dates:N0} date(s) against the ledger as of position {result.Position} (MRR at the end of each date, in each account's currency)"));
            o.Table(["status", "currency", "rows", "ledger MRR", "billing MRR", "difference"], result.Totals.Select(t => new[]
            {
                Reconciliation.StatusName(t.Status), t.Currency, t.Rows.ToString("N0", CultureInfo.InvariantCulture),
                t.LedgerMrr.ToString("#,##0.00", CultureInfo.InvariantCulture), t.BillingMrr.ToString("#,##0.00", CultureInfo.InvariantCulture),
                (t.LedgerMrr - t.BillingMrr).ToString("#,##0.00", CultureInfo.InvariantCulture),
            }), textColumns: 2);
            var differencesPath = p.GetValue(output)?.FullName ?? Path.Combine(path.DirectoryName!, "reconcile-differences.csv");
            await File.WriteAllTextAsync(differencesPath, Reconciliation.DifferencesCsv(result), ct);
            o.Line(result.AllMatched
                ? $"every line matched; took {clock.Elapsed.TotalSeconds:F1} s"
                : string.Create(CultureInfo.InvariantCulture, $"{result.Differences.Count:N0} difference(s) written to {differencesPath}; took {clock.Elapsed.TotalSeconds:F1} s"));
            return result.AllMatched ? LedgerCli.Ok : LedgerCli.Failed;
        });
        return cmd;
    }
}
