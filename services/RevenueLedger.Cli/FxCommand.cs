using System.CommandLine;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.Storage;

namespace RevenueLedger.Cli;

/// <summary>`ledger fx import FILE --quote USD`: the ECB's euro reference rates, recorded as rates into one currency.</summary>
internal static class FxCommand
{
    public static Command Create(TextWriter stdout)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The ECB's euro reference rates as CSV (eurofxref-hist.csv: Date, then one column per currency, units per 1 EUR)" };
        var quote = LedgerCli.CurrencyOption("--quote", "The currency the rates are into (ISO 4217), e.g. USD");
        var only = new Option<string?>("--currencies") { Description = "Only these currencies' rates (comma-separated), e.g. EUR,GBP" };
        var store = LedgerCli.StoreOption();
        var import = new Command("import", "Record FxRateRecorded events from the file into the quote currency, deriving cross rates; a re-import records nothing new")
        {
            file, quote, only, store,
        };
        import.SetAction(async (p, ct) =>
        {
            var path = p.GetValue(file)!;
            if (!path.Exists) throw new LedgerUsageException($"no such file '{path.FullName}'");
            var filter = p.GetValue(only) is { } list ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal) : null;
            if (filter?.FirstOrDefault(c => !CurrencyCode.IsValid(c)) is { } bad) throw new LedgerUsageException($"--currencies: '{bad}' is not a three-letter upper-case ISO 4217 code");
            var output = Output.For(stdout);
            var skipped = new List<string>();
            List<string> lines;
            using (var reader = path.OpenText())
                lines = EcbRates.Parse(reader, p.GetValue(quote)!, filter, skipped.Add).Select(WireFormat.ToWireJson).ToList();
            await using var events = await StoreUri.Parse(p.GetValue(store)).OpenAsync(mustExist: false, ct: ct);
            var summary = await Importer.ImportAsync(new Ledger(events), lines, ct: ct);
            output.Line($"{lines.Count} rates into {p.GetValue(quote)} from {path.Name}: {summary.Count(Outcome.Accepted)} recorded, {summary.Count(Outcome.Duplicate)} already recorded, " +
                        $"{summary.Count(Outcome.Conflict)} conflict, {summary.Count(Outcome.Invalid) + summary.Count(Outcome.Rejected)} refused; ledger head at position {summary.HeadPosition}");
            foreach (var s in skipped.Take(20)) output.Line($"  skipped {s}");
            if (skipped.Count > 20) output.Line($"  … and {skipped.Count - 20} more skipped");
            return summary.Count(Outcome.Conflict) + summary.Count(Outcome.Invalid) + summary.Count(Outcome.Rejected) > 0 ? LedgerCli.Failed : LedgerCli.Ok;
        });
        return new Command("fx", "Exchange rates (spec §10)") { import };
    }
}
