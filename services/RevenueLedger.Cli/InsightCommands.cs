using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RevenueLedger.Application;
using RevenueLedger.Application.Insights;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Insights;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Storage;

namespace RevenueLedger.Cli;

/// <summary>
/// Is an owner's NRR their doing: `ledger signals import`, `ledger pareto`, `ledger health evaluate|score` and
/// `ledger deep-dive` (docs/insights.md). Each reads the log as known at a position, so an auditor reproduces it.
/// </summary>
internal static class InsightCommands
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static Option<long?> AsOf() => new("--as-of-position") { Description = "As known at this log position (default: the head)" };

    private static Option<string> Format() => LedgerCli.Choice("--format", "Output format", "table", ("table", "table"), ("json", "json"));

    private static Option<int> Seed() => new("--seed") { Description = "Seed of every random draw (sampling, bootstrap): the same position and seed give the same numbers", DefaultValueFactory = _ => 1 };

    private static async Task<LedgerSnapshot> LoadAsync(System.CommandLine.ParseResult p, Option<string> store, Option<long?> asOf, CancellationToken ct)
    {
        if (p.GetValue(asOf) is < 0) throw new LedgerUsageException("--as-of-position must not be negative");
        await using var events = await StoreUri.Parse(p.GetValue(store)).OpenAsync(mustExist: true, ct: ct);
        return await LedgerSnapshot.LoadAsync(events, p.GetValue(asOf), ct);
    }

    private static Window Range(System.CommandLine.ParseResult p, Option<DateOnly> from, Option<DateOnly> to)
    {
        var (f, t) = (p.GetValue(from), p.GetValue(to));
        if (f >= t) throw new LedgerUsageException($"--from {Dates.Format(f)} must be before --to {Dates.Format(t)}");
        return new Window(f, t);
    }

    private static string Pct(decimal? v) => v is { } x ? (x * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "—";

    private static string Pct(double? v) => v is { } x ? (x * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "—";

    private static string Num(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);

    private static string Money2(decimal v) => v.ToString("#,0.00", CultureInfo.InvariantCulture);

    private static async Task<int> WriteJsonAsync(TextWriter stdout, object body, CancellationToken ct)
    {
        await stdout.WriteLineAsync(JsonSerializer.Serialize(body, body.GetType(), Json).AsMemory(), ct);
        return LedgerCli.Ok;
    }

    public static Command Signals(TextWriter stdout)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "CSV with a header: accountId,signal,value,effectiveDate and optionally eventId (any order)" };
        var store = LedgerCli.StoreOption();
        var import = new Command("import", "Record a SignalRecorded per line; every line is checked first and nothing is stored if any is invalid") { file, store };
        import.SetAction(async (p, ct) =>
        {
            var path = p.GetValue(file)!;
            if (!path.Exists) throw new LedgerUsageException($"no such file '{path.FullName}'");
            var lines = SignalCsv.Read(path.FullName);
            var output = Output.For(stdout);
            await using var events = await StoreUri.Parse(p.GetValue(store)).OpenAsync(mustExist: false, ct: ct);
            var summary = await Importer.ImportAsync(new Ledger(events), lines, ct: ct);
            output.Line($"{lines.Count} signal values from {path.Name}: {summary.Count(Outcome.Accepted)} recorded, {summary.Count(Outcome.Duplicate)} already recorded, " +
                        $"{summary.Count(Outcome.Conflict)} conflict; ledger head at position {summary.HeadPosition}");
            return summary.Count(Outcome.Conflict) + summary.Count(Outcome.Invalid) + summary.Count(Outcome.Rejected) > 0 ? LedgerCli.Failed : LedgerCli.Ok;
        });
        return new Command("signals", "Leading indicators per account (SignalRecorded)") { import };
    }

    public static Command Pareto(TextWriter stdout)
    {
        var from = LedgerCli.DateOption("--from", "First day of the window (inclusive)", required: true);
        var to = LedgerCli.DateOption("--to", "Day after the window (exclusive)", required: true);
        var owner = new Option<string?>("--owner") { Description = "One owner's losses (attributed to the owner during each movement's day, as the bridge does); default company-wide" };
        var (currency, store, asOf, format) = (LedgerCli.CurrencyOption(), LedgerCli.StoreOption(), AsOf(), Format());
        var cmd = new Command("pareto", "Churn and contraction by reason and by responsible function, with the vital few that explain 80% of MRR lost")
        {
            from, to, owner, currency, store, asOf, format,
        };
        cmd.SetAction(async (p, ct) =>
        {
            var window = Range(p, from, to);
            var group = OwnerOf(p.GetValue(owner));
            var s = await LoadAsync(p, store, asOf, ct);
            var report = s.ParetoIn(p.GetValue(currency)!, window, group);
            if (p.GetValue(format) == "json") return await WriteJsonAsync(stdout, InsightJson.Pareto(s.Position, report), ct);
            var output = Output.For(stdout);
            output.Heading($"MRR lost {window} for {InsightJson.OwnerText(group)} ({report.Currency}, position {s.Position}): churn {Money2(report.ChurnMrr)}, contraction {Money2(report.ContractionMrr)}");
            output.Table(["function", "MRR lost", "logos", "share", "owner can influence"],
                report.Functions.Where(f => f.Kind == LossKinds.Lost).Select(f => new[] { f.Function, Money2(f.Mrr), f.Logos.ToString(CultureInfo.InvariantCulture), Pct(f.Share), f.ControllableByOwner ? "yes" : "no" }));
            output.Table(["reason", "label", "function", "MRR lost", "logos", "share", "cumulative", "vital few"],
                report.Rows.Where(r => r.Kind == LossKinds.Lost).Select(r => new[] { r.Reason, r.Label, r.Function, Money2(r.Mrr), r.Logos.ToString(CultureInfo.InvariantCulture), Pct(r.Share), Pct(r.CumulativeShare), r.VitalFew ? "●" : "" }), textColumns: 3);
            output.Line("  lost = churn + contraction (spec §4 movements, as in the bridge); logos count each movement once, under its main reason; --format json has churn and contraction apart.");
            return LedgerCli.Ok;
        });
        return cmd;
    }

    private static OwnerGroup OwnerOf(string? owner)
    {
        if (owner is null or "*") return OwnerGroup.All;
        if (owner == "(unassigned)") return OwnerGroup.Of(null);
        if (!WireFormat.IsValidId(owner)) throw new LedgerUsageException($"--owner '{owner}' is not a valid owner id");
        return OwnerGroup.Of(owner);
    }

    public static Command Health(TextWriter stdout)
    {
        var cutoff = LedgerCli.DateOption("--cutoff", "Train on account-months whose 90-day horizon ends by this day; test on those after it", required: true);
        var until = LedgerCli.DateOption("--until", "Test on horizons that end by this day (default: the book's last movement)", required: false);
        var (store, asOf, format, seed) = (LedgerCli.StoreOption(), AsOf(), Format(), Seed());
        var evaluate = new Command("evaluate", "Train the health score with a time split and report AUC, calibration by decile and top-decile lift against the baseline rule")
        {
            cutoff, until, store, asOf, format, seed,
        };
        evaluate.SetAction(async (p, ct) =>
        {
            var s = await LoadAsync(p, store, asOf, ct);
            var e = HealthModel.Evaluate(s, p.GetValue(cutoff), p.GetResult(until) is null ? null : p.GetValue(until), p.GetValue(seed));
            if (p.GetValue(format) == "json") return await WriteJsonAsync(stdout, InsightJson.Evaluation(s.Position, e), ct);
            var output = Output.For(stdout);
            output.Heading($"Health score: churn or contraction within {e.HorizonDays} days (position {s.Position}, seed {e.Seed})");
            output.Line($"trained on {e.TrainingSamples:N0} account-months with horizons ending by {Dates.Format(e.Cutoff)} ({e.TrainingSeconds:F1} s); tested on {e.TestSamples:N0} after it, until {Dates.Format(e.EvaluatedUntil)}");
            output.Line($"AUC {Num(e.Auc)}; loss rate {Pct(e.TestRate)}; top decile {Pct(e.TopDecileRate)} (lift {e.TopDecileLift:F2}×); baseline rule \"{InsightJson.BaselineRule}\" {Pct(e.BaselineRate)} (lift {e.BaselineLift:F2}×); top decile over baseline {(e.LiftOverBaseline is { } l ? l.ToString("F2", CultureInfo.InvariantCulture) + "×" : "—")}");
            output.Table(["decile", "accounts", "mean score", "observed"], e.Calibration.Select(d => new[] { d.Decile.ToString(CultureInfo.InvariantCulture), d.Accounts.ToString(CultureInfo.InvariantCulture), Pct(d.MeanScore), Pct(d.ObservedRate) }));
            output.Table(["feature", "coefficient"], e.Coefficients.Select(c => new[] { c.Feature, c.Value.ToString("0.0000", CultureInfo.InvariantCulture) }));
            return LedgerCli.Ok;
        });

        var date = LedgerCli.DateOption("--date", "Score every account active at the start of this day, with a model trained up to it", required: true);
        var top = new Option<int>("--top") { Description = "How many of the riskiest accounts to list", DefaultValueFactory = _ => 20 };
        var (store2, asOf2, format2, seed2, currency) = (LedgerCli.StoreOption(), AsOf(), Format(), Seed(), LedgerCli.CurrencyOption());
        var score = new Command("score", "Score every active account as of a day; MRR at risk per owner") { date, top, currency, store2, asOf2, format2, seed2 };
        score.SetAction(async (p, ct) =>
        {
            if (p.GetValue(top) is < 0 or > 100_000) throw new LedgerUsageException("--top must be between 0 and 100000");
            var s = await LoadAsync(p, store2, asOf2, ct);
            var day = p.GetValue(date);
            var scores = HealthModel.Train(s, day, p.GetValue(seed2)).ScoreAll(s, day, p.GetValue(currency)!);
            if (p.GetValue(format2) == "json") return await WriteJsonAsync(stdout, InsightJson.Scores(s.Position, p.GetValue(seed2), scores, p.GetValue(top)), ct);
            var output = Output.For(stdout);
            output.Heading($"At risk on {Dates.Format(day)}: high risk = the top tenth of scores (≥ {Pct(scores.HighRiskFrom)} chance of churn or contraction within {scores.HorizonDays} days), {scores.Currency}, position {s.Position}");
            output.Table(["owner", "accounts", "high risk", "MRR", "MRR at risk", "expected exposure"],
                scores.Owners.Select(o => new[] { o.OwnerId ?? "(unassigned)", o.Accounts.ToString(CultureInfo.InvariantCulture), o.HighRiskAccounts.ToString(CultureInfo.InvariantCulture), Money2(o.Mrr), Money2(o.AtRiskMrr), Money2(o.ExpectedLossExposure) }));
            output.Table(["account", "owner", "score", "MRR", "currency"],
                scores.Accounts.Take(p.GetValue(top)).Select(a => new[] { a.AccountId, a.OwnerId ?? "(unassigned)", Pct(a.Score), Money2(a.Mrr), a.Currency }), textColumns: 2);
            output.Line("  expected exposure = Σ score × MRR; MRR at risk = MRR of the high-risk accounts.");
            return LedgerCli.Ok;
        });
        return new Command("health", "The health score: a model of churn or contraction within 90 days from signals and movement history") { evaluate, score };
    }

    public static Command DeepDiveCommand(TextWriter stdout)
    {
        var owner = new Option<string>("--owner") { Description = "The owner (CSM) to look into", Required = true };
        var from = LedgerCli.DateOption("--from", "First day of the window (inclusive)", required: true);
        var to = LedgerCli.DateOption("--to", "Day after the window (exclusive)", required: true);
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples for the interval", DefaultValueFactory = _ => 2000 };
        var (currency, store, asOf, format, seed) = (LedgerCli.CurrencyOption(), LedgerCli.StoreOption(), AsOf(), Format(), Seed());
        var cmd = new Command("deep-dive", "An owner's actual NRR beside the NRR expected from the book they were handed, with a bootstrap interval, losses by function and trailing-12-month NRR")
        {
            owner, from, to, bootstrap, currency, store, asOf, format, seed,
        };
        cmd.SetAction(async (p, ct) =>
        {
            var window = Range(p, from, to);
            var group = OwnerOf(p.GetValue(owner));
            if (group.IsAll) throw new LedgerUsageException("--owner names one owner, not the company");
            var s = await LoadAsync(p, store, asOf, ct);
            var d = DeepDive.Compute(s, group.Id, window, p.GetValue(currency)!, p.GetValue(bootstrap), p.GetValue(seed));
            if (p.GetValue(format) == "json") return await WriteJsonAsync(stdout, InsightJson.DeepDive(d), ct);
            var output = Output.For(stdout);
            output.Heading($"Deep dive: {d.OwnerId ?? "(unassigned)"} {window} ({d.Currency}, position {s.Position}, seed {d.Seed})");
            output.Line($"cohort {d.CohortAccounts} accounts, opening {Money2(d.OpeningMrr)}, closing {Money2(d.ClosingMrr)}");
            output.Line($"NRR actual {Pct(d.ActualNrr)}, expected from the book {Pct(d.ExpectedNrr)}, difference {Pct(d.Difference)} (95% interval {Pct(d.Low)} to {Pct(d.High)}); company {Pct(d.CompanyNrr)}; trailing 12 months {Pct(d.TrailingTwelveMonthNrr)}");
            output.Line($"verdict: {d.Verdict}");
            output.Table(["function", "MRR lost", "share", "owner can influence"],
                d.Pareto.Functions.Where(f => f.Kind == LossKinds.Lost).Select(f => new[] { f.Function, Money2(f.Mrr), Pct(f.Share), f.ControllableByOwner ? "yes" : "no" }));
            output.Table(["book feature", "owner's cohort", "company's cohort"], d.Book.Select(b => new[] { b.Feature, Num(b.Owner), Num(b.Company) }));
            return LedgerCli.Ok;
        });
        return cmd;
    }
}

/// <summary>`ledger signals import`'s file: a header naming the columns, then one value per line.</summary>
public static class SignalCsv
{
    /// <summary>Every line as a SignalRecorded submission; the first bad line refuses the file (with its number).</summary>
    public static List<string> Read(string path)
    {
        using var reader = new StreamReader(path);
        var header = reader.ReadLine() ?? throw new LedgerUsageException($"{path}: empty file (expected a header accountId,signal,value,effectiveDate[,eventId])");
        var columns = header.Split(',').Select(c => c.Trim()).ToList();
        int Col(string name, bool required)
        {
            int i = columns.IndexOf(name);
            if (i < 0 && required) throw new LedgerUsageException($"{path}: the header has no '{name}' column (it has: {string.Join(", ", columns)})");
            return i;
        }
        var (account, signal, value, date, id) = (Col("accountId", true), Col("signal", true), Col("value", true), Col("effectiveDate", true), Col("eventId", false));
        if (columns.FirstOrDefault(c => c is not ("accountId" or "signal" or "value" or "effectiveDate" or "eventId")) is { } unknown)
            throw new LedgerUsageException($"{path}: unknown column '{unknown}' (the columns are accountId, signal, value, effectiveDate, eventId)");
        var lines = new List<string>();
        int number = 1;
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            number++;
            if (line.Length == 0) continue;
            var f = line.Split(',');
            if (f.Length != columns.Count) throw new LedgerUsageException($"{path}:{number}: {f.Length} fields, the header has {columns.Count}");
            var e = new Dictionary<string, string> { ["type"] = "SignalRecorded", ["accountId"] = f[account], ["signal"] = f[signal], ["value"] = f[value], ["effectiveDate"] = f[date] };
            // A stable id per account, signal and day: importing the file again records nothing new, and a changed
            // value for the same day is a conflict rather than a silent second value.
            e["eventId"] = id >= 0 && f[id].Length > 0 ? f[id] : $"sig:{f[account]}:{f[signal]}:{f[date]}";
            var json = JsonSerializer.Serialize(e);
            var parsed = WireFormat.Parse(json, () => throw new InvalidOperationException("every line has an eventId"));
            if (parsed.Error is { } error) throw new LedgerUsageException($"{path}:{number}: {error.Message} (nothing was stored)");
            lines.Add(json);
        }
        return lines;
    }
}
