using System.Diagnostics;
using System.Globalization;
using RevenueLedger.Application;
using RevenueLedger.Application.Projections;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Storage;

/// <summary>Where a calendar-window answer from read models spends its time: the consistent read, then the conversion into a currency.</summary>
internal static class ReadModelPhases
{
    public static async Task<int> RunAsync(string store, string currency)
    {
        await using var readModels = await StoreUri.Parse(store).OpenReadModelsAsync();
        var read = new List<double>();
        var convert = new List<double>();
        var rates = new List<double>();
        var rowsOnly = new List<double>();
        for (int i = 0; i < 60; i++)
        {
            var clock = Stopwatch.StartNew();
            var view = (await readModels.ReadViewAsync(WindowKind.Quarter, new DateOnly(2019, 1, 1), new DateOnly(2025, 10, 1), histories: false))!;
            read.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            var table = new FxRateTable(view.Rates);
            rates.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            var reports = Conversion.ToCurrency(view.Windows, currency, table, view.Position);
            convert.Add(clock.Elapsed.TotalMilliseconds);
            var noChurn = view.Windows.Select(w => w with { ChurnReasons = [], ChurnReasonsByOwner = [] }).ToList();
            clock.Restart();
            Conversion.ToCurrency(noChurn, currency, table, view.Position);
            rowsOnly.Add(clock.Elapsed.TotalMilliseconds);
            GC.KeepAlive(ReportFormats.ToJson(view.Position, reports, ReportPart.Nrr));
        }
        static string Median(List<double> xs) => xs.Skip(10).Order().ElementAt(25).ToString("F2", CultureInfo.InvariantCulture);
        Console.WriteLine($"{store}: read view {Median(read)} ms, rate table {Median(rates)} ms, convert into {currency} {Median(convert)} ms (without churn rows {Median(rowsOnly)} ms) (medians after 10 warm-up rounds)");
        return 0;
    }
}
