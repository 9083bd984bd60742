using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Storage;

namespace RevenueLedger.Cli;

/// <summary>The main job on the embedded default: a three-year book, imported and reported on.</summary>
internal static class DemoCommand
{
    public static Command Create(TextWriter stdout)
    {
        var accounts = new Option<int>("--accounts") { Description = "Accounts in the generated book", DefaultValueFactory = _ => 5000 };
        var storeOption = LedgerCli.StoreOption();
        var currency = LedgerCli.CurrencyOption();
        var cmd = new Command("demo", "Generate a three-year book in USD, EUR and GBP, import it into the store (default: the one every other command uses) and print NRR, GRR, the bridge and churn reasons in one reporting currency")
        {
            accounts, storeOption, currency,
        };
        cmd.SetAction(async (p, ct) =>
        {
            var output = Output.For(stdout);
            var clock = Stopwatch.StartNew();
            var uri = StoreUri.Parse(p.GetValue(storeOption));
            var book = new BookOptions(p.GetValue(accounts), Owners: 12, Start: new DateOnly(2023, 1, 1), Months: 36, Seed: 2026, Currencies: ["USD", "EUR", "GBP"]);
            var reporting = p.GetValue(currency)!;
            var events = BookGenerator.Generate(book).ToList();
            output.Line($"generated {events.Count:N0} events for {book.Accounts:N0} accounts and {book.Owners} owners in {string.Join(", ", book.CurrencyList)}, {book.Start:yyyy-MM} to {book.Start.AddMonths(book.Months - 1):yyyy-MM}, with monthly exchange rates");

            await using var store = await uri.OpenAsync(mustExist: false, ct: ct);
            long head = (await store.GetHeadAsync(ct)).Position;
            if (head == 0)
            {
                var lines = events.Select(WireFormat.ToWireJson).ToList();
                var summary = await output.ProgressAsync("importing", lines.Count, progress => Importer.ImportAsync(new Ledger(store), lines, progress: progress, ct: ct));
                ImportCommand.PrintSummary(output, summary);
            }
            else if (await HoldsBookAsync(store, head, events, ct))
            {
                output.Line($"{uri} already holds this book ({head:N0} events): nothing imported, reporting on it");
            }
            else
            {
                // The store every command uses by default may hold someone's real book: never add a demo to it.
                throw new LedgerUsageException($"{uri} already holds {head:N0} events that are not this demo's book; nothing was changed. " +
                    "Give the demo another store (--store sqlite:./data/demo.db) or remove that file.");
            }
            output.Line($"store: {uri}");

            var snapshot = await LedgerSnapshot.LoadAsync(store, ct: ct);
            var end = book.Start.AddMonths(book.Months);
            var quarters = Window.Calendar(WindowKind.Quarter, end.AddMonths(-12), end);
            var reports = snapshot.ReportIn(reporting, quarters);
            output.Line($"reporting currency: {reporting} (constant currency at each quarter's opening rate; the bridge's fx line is the rate moves)");
            PrintNrr(output, reports);
            PrintBridge(output, reports, reporting);
            PrintPareto(output, snapshot.ReportIn(reporting, new Window(quarters[0].From, end)), reporting);
            foreach (var line in ReportText.Legend([ReportPart.Nrr, ReportPart.Bridge, ReportPart.ChurnReasons])) output.Line(line);
            output.Line();
            string storeArg = uri.ToString() == StoreUri.Default ? "" : $" --store {uri}";
            output.Line($"as of position {snapshot.Position}; done in {clock.Elapsed.TotalSeconds:F1} s. Try: ledger report{storeArg} --from {Dates.Format(quarters[0].From)} --to {Dates.Format(end)} --window quarter --currency EUR");
            return LedgerCli.Ok;
        });
        return cmd;
    }

    /// <summary>Whether the store holds exactly the generated book (the demo run before): the same count, first and last event.</summary>
    private static async Task<bool> HoldsBookAsync(EventStore.IEventStore store, long head, List<LedgerEvent> events, CancellationToken ct)
    {
        if (head != events.Count) return false;
        var found = await store.FindEventsAsync([events[0].EventId, events[^1].EventId], ct);
        return found.TryGetValue(events[0].EventId, out var first) && first.Position == 1
            && found.TryGetValue(events[^1].EventId, out var last) && last.Position == head;
    }

    private static string Quarter(Window w) => $"Q{((w.From.Month - 1) / 3) + 1} {w.From.Year}";

    private static string Percent(decimal? r) => r is { } v ? (v * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "—";

    private static string Amount(decimal m) => m.ToString("#,##0.00", CultureInfo.InvariantCulture);

    private static void PrintNrr(Output output, IReadOnlyList<WindowReport> reports)
    {
        output.Heading("NRR / GRR by owner (cohort on each quarter's first day)");
        var owners = reports.SelectMany(r => r.Nrr.Select(n => n.Owner)).Distinct().Order(Comparer<OwnerGroup>.Create(OwnerGroup.Compare)).ToList();
        var header = new[] { "owner" }.Concat(reports.SelectMany(r => new[] { $"{Quarter(r.Window)} NRR", "GRR" })).ToArray();
        var rows = owners.Select(o => new[] { o.IsAll ? "company" : o.ToString() }
            .Concat(reports.SelectMany(r => r.Nrr.FirstOrDefault(n => n.Owner == o) is { } n ? new[] { Percent(n.Nrr), Percent(n.Grr) } : ["—", "—"]))
            .ToArray());
        output.Table(header, rows);
    }

    private static void PrintBridge(Output output, IReadOnlyList<WindowReport> reports, string currency)
    {
        output.Heading($"Company MRR bridge ({currency})");
        var rows = reports.Select(r => (r.Window, Row: r.Bridge.FirstOrDefault(b => b.Owner.IsAll)))
            .Select(x => new[]
            {
                Quarter(x.Window), Amount(x.Row?.OpeningMrr ?? 0), Amount(x.Row?.New ?? 0), Amount(x.Row?.Expansion ?? 0), Amount(x.Row?.Contraction ?? 0),
                Amount(x.Row?.Churn ?? 0), Amount(x.Row?.Reactivation ?? 0), Amount(x.Row?.FxImpact ?? 0), Amount(x.Row?.ClosingMrr ?? 0),
            });
        output.Table(["quarter", "openingMrr", "new", "expansion", "contraction", "churn", "reactivation", "fxImpact", "closingMrr"], rows);
    }

    private static void PrintPareto(Output output, WindowReport year, string currency)
    {
        output.Heading($"Churn reasons {year.Window} (Pareto, {currency})");
        var rows = ReportFormats.Pareto(year.ChurnReasons)
            .Select(x => new[] { x.Row.Reason, Amount(x.Row.MrrLost), x.Row.Accounts.ToString(CultureInfo.InvariantCulture), Percent(x.Share), Percent(x.Cumulative) });
        output.Table(["reason", "mrrLost", "accounts", "share", "cumulativeShare"], rows);
    }
}
