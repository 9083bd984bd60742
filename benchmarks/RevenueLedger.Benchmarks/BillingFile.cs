using System.Globalization;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.Sqlite;

/// <summary>
/// A billing export for the reconciliation benchmark: every account with MRR at the end of each of the book's last
/// MONTHS month ends, as the ledger has it, with PLANT planted differences (changed amounts, dropped lines, unknown
/// accounts, in turn) written to PLANTED.csv so the run can check that reconcile finds exactly those.
/// </summary>
internal static class BillingFile
{
    public static async Task<int> RunAsync(string store, string output, int months, int plant)
    {
        await using var log = await SqliteEventStore.OpenAsync(store);
        var snapshot = await LedgerSnapshot.LoadAsync(log);
        var last = snapshot.Accounts.SelectMany(a => a.Movements).Max(m => m.Day);
        var firstOfLast = new DateOnly(last.Year, last.Month, 1);
        var ends = Enumerable.Range(0, months).Select(i => firstOfLast.AddMonths(-i).AddDays(-1)).Order().ToList();
        var rows = new List<(string Account, DateOnly Date, decimal Mrr, string Currency)>();
        foreach (var d in ends)
            foreach (var a in snapshot.Accounts)
                if (a.MrrAt(d.AddDays(1)) is var mrr and > 0) rows.Add((a.AccountId, d, mrr, a.Currency));
        var rng = new Random(7);
        var planted = new List<string>();
        var drop = new HashSet<int>();
        var used = new HashSet<int>();
        int original = rows.Count;
        for (int i = 0; i < plant; i++)
        {
            int at;
            do at = rng.Next(original); while (!used.Add(at)); // each planted difference on a line of its own
            var r = rows[at];
            switch (i % 3)
            {
                case 0:
                    rows[at] = r with { Mrr = r.Mrr + 1 };
                    planted.Add($"{r.Account},{r.Date:yyyy-MM-dd},differs");
                    break;
                case 1:
                    drop.Add(at);
                    planted.Add($"{r.Account},{r.Date:yyyy-MM-dd},missing-in-billing");
                    break;
                default:
                    rows.Add(($"unknown-{i}", r.Date, 10m, "USD"));
                    planted.Add($"unknown-{i},{r.Date:yyyy-MM-dd},missing-in-ledger");
                    break;
            }
        }
        await using (var w = new StreamWriter(output))
        {
            await w.WriteLineAsync("accountId,date,mrr,currency");
            for (int i = 0; i < rows.Count; i++)
                if (!drop.Contains(i)) await w.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{rows[i].Account},{rows[i].Date:yyyy-MM-dd},{Money.Format(rows[i].Mrr)},{rows[i].Currency}"));
        }
        await File.WriteAllLinesAsync(Path.ChangeExtension(output, ".planted.csv"), planted.Order(StringComparer.Ordinal));
        Console.WriteLine($"{rows.Count - drop.Count} billing lines for {snapshot.Accounts.Count} accounts on {ends.Count} month ends ({ends[0]:yyyy-MM-dd}..{ends[^1]:yyyy-MM-dd}); {plant} planted differences");
        return 0;
    }
}
