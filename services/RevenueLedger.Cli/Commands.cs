using System.CommandLine;
using System.Text.Json;
using RevenueLedger.Application;
using RevenueLedger.Application.Projections;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.EventStore;
using RevenueLedger.Storage;

namespace RevenueLedger.Cli;

internal static class GenerateCommand
{
    public static Command Create(TextWriter stdout)
    {
        var accounts = new Option<int>("--accounts") { Description = "Number of accounts", DefaultValueFactory = _ => 400 };
        var owners = new Option<int>("--owners") { Description = "Number of owners (CSMs)", DefaultValueFactory = _ => 12 };
        var start = LedgerCli.DateOption("--start", "First month of the book (default 2022-01-01)", required: false);
        var months = new Option<int>("--months") { Description = "Months of history", DefaultValueFactory = _ => 36 };
        var seed = new Option<int>("--seed") { Description = "Random seed; the same seed gives the same file", DefaultValueFactory = _ => 1 };
        var intensity = new Option<double>("--intensity") { Description = "Activity multiplier: events per account-month (default 1)", DefaultValueFactory = _ => 1.0 };
        var currencies = new Option<string>("--currencies")
        {
            Description = "Comma-separated account currencies, e.g. USD,EUR,GBP (default USD); with several, each account takes one and monthly rates between every pair are recorded",
            DefaultValueFactory = _ => "USD",
        };
        var signals = LedgerCli.Choice<Application.Insights.SignalMode?>("--signals",
            "Instead: a USD book with fit-rating and usage signals from a known model (docs/insights.md): 'driven' (signals drive churn; owner-01 underperforms, owner-02 gets a bad-fit book) or 'noise' (nothing predicts churn)",
            null, ("driven", Application.Insights.SignalMode.Driven), ("noise", Application.Insights.SignalMode.Noise));
        var cmd = new Command("generate", "Write a realistic, deterministic book of revenue events as JSONL to stdout")
        {
            accounts, owners, start, months, seed, intensity, currencies, signals,
        };
        cmd.SetAction(async (p, ct) =>
        {
            if (p.GetValue(signals) is { } mode)
            {
                var book = new Application.Insights.SignalBookOptions(p.GetValue(accounts), p.GetValue(owners),
                    p.GetResult(start) is null ? new DateOnly(2022, 1, 1) : p.GetValue(start), p.GetValue(months), p.GetValue(seed), mode);
                foreach (var e in Application.Insights.SignalBook.Generate(book))
                    await stdout.WriteLineAsync(WireFormat.ToWireJson(e).AsMemory(), ct);
                await stdout.FlushAsync(ct);
                return LedgerCli.Ok;
            }
            var options = new BookOptions(p.GetValue(accounts), p.GetValue(owners),
                p.GetResult(start) is null ? new DateOnly(2022, 1, 1) : p.GetValue(start), p.GetValue(months), p.GetValue(seed), p.GetValue(intensity),
                p.GetValue(currencies)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
            foreach (var e in BookGenerator.Generate(options))
                await stdout.WriteLineAsync(WireFormat.ToWireJson(e).AsMemory(), ct);
            await stdout.FlushAsync(ct);
            return LedgerCli.Ok;
        });
        return cmd;
    }
}

internal static class ImportCommand
{
    public static Command Create(TextWriter stdout)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "JSONL file, one event submission per line" };
        var store = LedgerCli.StoreOption();
        var outcomesFile = new Option<FileInfo?>("--outcomes") { Description = "Write every line's outcome as JSON here" };
        var cmd = new Command("import", "Submit every line of a JSONL file in order and count the outcomes") { file, store, outcomesFile };
        cmd.SetAction(async (p, ct) =>
        {
            var path = p.GetValue(file)!;
            if (!path.Exists) throw new LedgerUsageException($"no such file '{path.FullName}'");
            await using var events = await StoreUri.Parse(p.GetValue(store)).OpenAsync(mustExist: false, ct: ct);
            var outcomes = p.GetValue(outcomesFile) is null ? null : new List<(long Line, SubmissionResult Result)>();
            var output = Output.For(stdout);
            long total = output.Rich ? File.ReadLines(path.FullName).LongCount() : 0;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var summary = await output.ProgressAsync("importing", total, async progress =>
            {
                await using var file = new FileStream(path.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
                return await Importer.ImportAsync(new Ledger(events), file, outcomes is null ? null : (line, r) => outcomes.Add((line, r)), progress, ct: ct);
            }, unit: "lines");
            PrintSummary(output, summary);
            output.Line("took " + Output.Throughput(summary.Lines, "lines", clock.Elapsed));
            if (outcomes is not null) await WriteOutcomesAsync(p.GetValue(outcomesFile)!.FullName, outcomes, ct);
            return LedgerCli.Ok;
        });
        return cmd;
    }

    public static void PrintSummary(Output output, ImportSummary s)
    {
        output.Line($"{s.Lines} lines: {s.Count(Outcome.Accepted)} accepted, {s.Count(Outcome.Duplicate)} duplicate, {s.Count(Outcome.Conflict)} conflict, " +
                    $"{s.Count(Outcome.Invalid)} invalid, {s.Count(Outcome.Rejected)} rejected; ledger head at position {s.HeadPosition}");
    }

    private static async Task WriteOutcomesAsync(string path, List<(long Line, SubmissionResult Result)> outcomes, CancellationToken ct)
    {
        await using var stream = File.Create(path);
        await using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartArray();
        foreach (var (line, r) in outcomes)
        {
            w.WriteStartObject();
            w.WriteNumber("line", line);
            w.WriteString("outcome", r.Outcome.WireName());
            if (r.Position is { } pos) w.WriteNumber("position", pos);
            if (r.Error is { } e)
            {
                w.WriteString("error", e.Message);
                w.WriteString("code", e.Code);
                if (e.Field is not null) w.WriteString("field", e.Field);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        await w.FlushAsync(ct);
    }
}

internal static class ReportCommand
{
    public static Command Create(TextWriter stdout)
    {
        var from = LedgerCli.DateOption("--from", "First day of the range (inclusive)", required: true);
        var to = LedgerCli.DateOption("--to", "Day after the range (exclusive)", required: true);
        var window = LedgerCli.Choice<WindowKind?>("--window", "Split into calendar windows", null,
            ("month", WindowKind.Month), ("quarter", WindowKind.Quarter), ("year", WindowKind.Year));
        var asOf = new Option<long?>("--as-of-position") { Description = "Report as known at this log position (default: the head)" };
        var format = LedgerCli.Choice("--format", "Output format", "table", ("table", "table"), ("json", "json"), ("csv", "csv"));
        var only = LedgerCli.Choice<ReportPart?>("--only", "Just one report", null,
            ("nrr", ReportPart.Nrr), ("bridge", ReportPart.Bridge), ("churn-reasons", ReportPart.ChurnReasons));
        var by = LedgerCli.Choice("--by", "Rows per owner, or company-wide only", "owner", ("owner", "owner"), ("none", "none"));
        var currency = LedgerCli.CurrencyOption();
        var store = LedgerCli.StoreOption();
        var cmd = new Command("report", "NRR/GRR cohorts, the MRR bridge and churn reasons for a date range or its calendar windows")
        {
            from, to, window, asOf, format, only, by, currency, store,
        };
        cmd.SetAction(async (p, ct) =>
        {
            var (f, t) = (p.GetValue(from), p.GetValue(to));
            if (f >= t) throw new LedgerUsageException($"--from {Dates.Format(f)} must be before --to {Dates.Format(t)}");
            if (p.GetValue(asOf) is < 0) throw new LedgerUsageException("--as-of-position must not be negative");
            var fmt = p.GetValue(format)!;
            var part = p.GetValue(only);
            if (fmt == "csv" && part is null) throw new LedgerUsageException("--format csv needs --only nrr|bridge|churn-reasons (one table per CSV)");
            var windows = p.GetValue(window) is { } kind ? Window.Calendar(kind, f, t) : [Window.Create(f, t)];
            var uri = StoreUri.Parse(p.GetValue(store));
            await using var events = await uri.OpenAsync(mustExist: true, ct: ct);
            bool byOwner = p.GetValue(by) == "owner";
            long position;
            IReadOnlyList<WindowReport> reports;
            await using var readModels = p.GetValue(asOf) is null ? await uri.OpenReadModelsAsync(ct) : null;
            if (readModels is not null && uri.Scheme == "sqlite")
            {
                // Embedded, nothing else keeps the read models current: once `ledger project` created them, catch
                // them up (usually a few events) before answering from them.
                if (await readModels.CheckpointAsync(await readModels.CurrentGenerationAsync(ct), ct) > 0) await new Application.Projections.Projector(events, readModels).CatchUpAsync(ct);
            }
            var reporting = p.GetValue(currency)!;
            if (readModels is not null && await ReadModelReports.TryReportAsync(readModels, windows, p.GetValue(window), byOwner, reporting, ct: ct) is { } fromReadModels)
            {
                (position, reports) = fromReadModels;
            }
            else
            {
                // The past (--as-of-position) and stores without read models are answered by replaying the log.
                var snapshot = await LedgerSnapshot.LoadAsync(events, p.GetValue(asOf), ct);
                (position, reports) = (snapshot.Position, snapshot.ReportIn(reporting, windows, byOwner));
            }
            switch (fmt)
            {
                case "json":
                    await stdout.WriteLineAsync(ReportFormats.ToJson(position, reports, part, byOwner));
                    break;
                case "csv":
                    var (header, rows) = ReportFormats.Table(reports, part!.Value, byOwner);
                    await stdout.WriteAsync(ReportFormats.ToCsv(header, rows));
                    break;
                default:
                    var output = Output.For(stdout);
                    output.Line($"as of position {position}, in {reporting}");
                    foreach (var w in reports)
                        foreach (var rate in w.Rates ?? [])
                            output.Line($"  {Dates.Format(w.Window.From)}..{Dates.Format(w.Window.To)}: 1 {rate.Currency} = {Money.Format(rate.Rate)} {rate.QuoteCurrency} on {Dates.Format(rate.Date)} (position {rate.Position})");
                    var parts = part is { } one ? [one] : new[] { ReportPart.Nrr, ReportPart.Bridge, ReportPart.ChurnReasons };
                    foreach (var pt in parts)
                    {
                        output.Heading(pt switch { ReportPart.Nrr => "NRR cohorts", ReportPart.Bridge => "MRR bridge", _ => "Churn reasons" });
                        var (h, r) = ReportText.ForPeople(ReportFormats.Table(reports, pt, byOwner));
                        output.Table(h, r, textColumns: pt == ReportPart.ChurnReasons ? 4 : 3);
                    }
                    foreach (var line in ReportText.Legend(parts)) output.Line(line);
                    break;
            }
            return LedgerCli.Ok;
        });
        return cmd;
    }
}

internal static class VerifyCommand
{
    public static Command Create(TextWriter stdout)
    {
        var store = LedgerCli.StoreOption();
        var digests = new Option<FileInfo[]>("--digest") { Description = "A signed digest (`ledger digest`) the log must agree with at its position; repeat for several" };
        var publicKey = new Option<FileInfo?>("--public-key") { Description = "The public key (PEM) the digests were signed with" };
        var cmd = new Command("verify", "Re-check the hash chain from position 1, and against signed digests") { store, digests, publicKey };
        cmd.SetAction(async (p, ct) =>
        {
            var signed = AuditCommands.LoadDigests(p.GetValue(digests) ?? [], p.GetValue(publicKey));
            await using var events = await StoreUri.Parse(p.GetValue(store)).OpenAsync(mustExist: true, ct: ct);
            var result = await HashChain.VerifyAsync(events, signed, ct);
            if (result.IsIntact)
            {
                string agreed = signed.Count == 0 ? "" : $"; agrees with {signed.Count} signed digest(s) at position(s) {string.Join(", ", signed.Select(d => d.Position).Order())}";
                await stdout.WriteLineAsync($"intact: {result.VerifiedCount} events, head hash {result.HeadHash}{agreed}");
                return LedgerCli.Ok;
            }
            await p.InvocationConfiguration.Error.WriteLineAsync($"broken at position {result.FirstBadPosition}: {result.Problem}");
            return LedgerCli.Failed;
        });
        return cmd;
    }
}

internal static class ProjectCommand
{
    public static Command Create(TextWriter stdout)
    {
        var store = LedgerCli.StoreOption();
        var rebuild = new Option<bool>("--rebuild") { Description = "Rebuild every read model from position 0 into a new generation, then switch to it" };
        var cmd = new Command("project", "Bring the read models (NRR, bridge and churn-reason rows per window and owner, account histories) up to the log's head") { store, rebuild };
        cmd.SetAction(async (p, ct) =>
        {
            var uri = StoreUri.Parse(p.GetValue(store));
            await using var events = await uri.OpenAsync(mustExist: true, ct: ct);
            await using var readModels = await uri.OpenReadModelsAsync(ct);
            var output = Output.For(stdout);
            long head = (await events.GetHeadAsync(ct)).Position;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            if (p.GetValue(rebuild))
            {
                int generation = await output.ProgressAsync("rebuilding", head, progress => Application.Projections.Projector.RebuildAsync(events, readModels, progress, ct));
                long position = await readModels.CheckpointAsync(generation, ct);
                output.Line($"rebuilt generation {generation} at position {position}; took " + Output.Throughput(position, "events", clock.Elapsed));
            }
            else
            {
                long from = await readModels.CheckpointAsync(await readModels.CurrentGenerationAsync(ct), ct);
                Application.Projections.Projector? projector = null;
                long position = await output.ProgressAsync("projecting", head - from, progress =>
                {
                    projector = new Application.Projections.Projector(events, readModels) { Progress = at => progress(at - from) };
                    return projector.CatchUpAsync(ct);
                });
                output.Line($"read models (generation {projector!.Generation}) at position {position}; took " + Output.Throughput(position - from, "events", clock.Elapsed));
            }
            return LedgerCli.Ok;
        });
        return cmd;
    }
}
