using System.Collections.Concurrent;
using System.ComponentModel;
using System.Globalization;
using RevenueLedger.Application;
using RevenueLedger.Application.Insights;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Gateway;

/// <summary>
/// Is an owner's NRR their doing (docs/insights.md): the reason catalogue and Pareto, the health score's evaluation and
/// scores, the owner deep dive. Each is computed from the log replayed to the read models' position (signals and the
/// catalogue live only in the log), or to an auditor's <c>asOfPosition</c>, and states that position.
/// </summary>
public static class InsightEndpoints
{
    public const string InsufficientData = "insufficient-data";

    public static RouteGroupBuilder MapInsights(this RouteGroupBuilder reports)
    {
        reports.MapGet("/reasons/catalogue", CatalogueAsync).WithSummary("Reason codes: label, responsible function, whether an owner can influence it (defaults until catalogued)")
            .Produces<CatalogueJson>(200);
        reports.MapGet("/reasons/pareto", ParetoAsync).WithSummary("Churn and contraction by reason and by function, the vital few flagged; totals equal the bridge's churn and contraction")
            .Produces<ParetoJson>(200).Produces(200, contentType: "text/csv");
        reports.MapGet("/health/evaluation", EvaluationAsync).WithSummary("The health score trained before a cutoff and tested after it: AUC, calibration by decile, top-decile lift against the baseline rule")
            .Produces<EvaluationJson>(200);
        reports.MapGet("/health/scores", ScoresAsync).WithSummary("Every account active on a day scored (chance of churn or contraction within 90 days); MRR at risk per owner")
            .Produces<ScoresJson>(200).Produces(200, contentType: "text/csv");
        reports.MapGet("/owners/{ownerId}/deep-dive", DeepDiveAsync).WithSummary("An owner's actual NRR beside the NRR expected from the book they were handed, with a bootstrap interval")
            .Produces<DeepDiveJson>(200);
        return reports;
    }

    private static Task<LedgerSnapshot> SnapshotAsync(ReportContext c, long? asOf) => c.Source.AsOfAsync(asOf ?? c.Watcher.Position, c.Ct);

    /// <summary>The answer, with a question the data cannot answer (too few months, no losses) as a 422 problem.</summary>
    private static async Task<IResult> AnswerAsync(ReportContext c, long? asOf, Func<bool, Task<(long, object)>> compute)
    {
        try
        {
            return await GatewayEndpoints.AnswerAsync(c, asOf, null, compute);
        }
        catch (LedgerUsageException ex)
        {
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, InsufficientData, "The ledger holds too little to answer this", ex.Message);
        }
    }

    private static int Seed(QueryReader q, string? seed)
    {
        if (seed is null) return 1;
        if (int.TryParse(seed, NumberStyles.None, CultureInfo.InvariantCulture, out var s)) return s;
        q.Fail("seed", $"seed must be a non-negative whole number, got '{seed}'");
        return 1;
    }

    private static OwnerGroup Owner(QueryReader q, string? ownerId)
    {
        if (ownerId is null or "*") return OwnerGroup.All;
        if (ownerId == "(unassigned)") return OwnerGroup.Of(null);
        if (!WireFormat.IsValidId(ownerId)) q.Fail("ownerId", $"ownerId '{ownerId}' is not a valid id");
        return OwnerGroup.Of(ownerId);
    }

    private static async Task<IResult> CatalogueAsync([AsParameters] ReportContext c, [Description("As of this log position (auditor)")] string? asOfPosition)
    {
        var q = new QueryReader();
        long? asOf = q.Position("asOfPosition", asOfPosition);
        if (q.Error is { } error) return error;
        return await AnswerAsync(c, asOf, async _ =>
        {
            var s = await SnapshotAsync(c, asOf);
            return (s.Position, InsightJson.Catalogue(s.Position, s.Reasons));
        });
    }

    private static async Task<IResult> ParetoAsync([AsParameters] ReportContext c,
        [Description("Start date YYYY-MM-DD (inclusive)")] string? from, [Description("End date YYYY-MM-DD (exclusive)")] string? to,
        [Description("One owner's losses (owner during each movement's day); omit or * for company-wide, (unassigned) for none")] string? ownerId,
        [Description("Reporting currency (ISO 4217)")] string? currency, [Description("As of this log position (auditor)")] string? asOfPosition)
    {
        var q = new QueryReader();
        var range = q.Range(from, to);
        var owner = Owner(q, ownerId);
        var reporting = q.Currency(currency, c.Settings.Currency);
        long? asOf = q.Position("asOfPosition", asOfPosition);
        if (q.Error is { } error) return error;
        return await AnswerAsync(c, asOf, async csv =>
        {
            var s = await SnapshotAsync(c, asOf);
            var body = InsightJson.Pareto(s.Position, s.ParetoIn(reporting, new Window(range.From, range.To), owner));
            if (csv)
                return (s.Position, ReportFormats.ToCsv(["ownerId", "kind", "reason", "label", "function", "mrr", "logos", "share", "cumulativeShare", "vitalFew", "currency"],
                    body.Rows.Select(r => new[] { body.OwnerId, r.Kind, r.Reason, r.Label, r.Function, r.Mrr, I(r.Logos), D(r.Share), D(r.CumulativeShare), r.VitalFew ? "true" : "false", body.Currency })));
            return (s.Position, body);
        });
    }

    // Training is the expensive part: a model is kept per position, cutoff and seed (a few of them).
    private static readonly ConcurrentDictionary<(long, DateOnly, int), Lazy<HealthModel>> Models = new();

    private static HealthModel ModelFor(LedgerSnapshot s, DateOnly cutoff, int seed)
    {
        if (Models.Count > 8) Models.Clear();
        return Models.GetOrAdd((s.Position, cutoff, seed), _ => new Lazy<HealthModel>(() => HealthModel.Train(s, cutoff, seed))).Value;
    }

    private static async Task<IResult> EvaluationAsync([AsParameters] ReportContext c,
        [Description("Train on account-months whose 90-day horizon ends by this day YYYY-MM-DD; test after it")] string? cutoff,
        [Description("Test on horizons ending by this day (default: the book's last movement)")] string? until,
        [Description("Seed of the sampling (default 1)")] string? seed, [Description("As of this log position (auditor)")] string? asOfPosition)
    {
        var q = new QueryReader();
        var cut = q.Date("cutoff", cutoff);
        DateOnly? end = until is null ? null : q.Date("until", until);
        int s0 = Seed(q, seed);
        long? asOf = q.Position("asOfPosition", asOfPosition);
        if (q.Error is { } error) return error;
        return await AnswerAsync(c, asOf, async _ =>
        {
            var s = await SnapshotAsync(c, asOf);
            return (s.Position, InsightJson.Evaluation(s.Position, HealthModel.Evaluate(s, cut, end, s0)));
        });
    }

    private static async Task<IResult> ScoresAsync([AsParameters] ReportContext c,
        [Description("Score accounts active at the start of this day YYYY-MM-DD, with a model trained up to it")] string? date,
        [Description("How many of the riskiest accounts to list (default 50, at most 100000)")] string? top,
        [Description("Reporting currency (ISO 4217)")] string? currency,
        [Description("Seed of the sampling (default 1)")] string? seed, [Description("As of this log position (auditor)")] string? asOfPosition)
    {
        var q = new QueryReader();
        var day = q.Date("date", date);
        int count = 50;
        if (top is not null && !(int.TryParse(top, NumberStyles.None, CultureInfo.InvariantCulture, out count) && count <= 100_000)) q.Fail("top", $"top must be a whole number from 0 to 100000, got '{top}'");
        var reporting = q.Currency(currency, c.Settings.Currency);
        int s0 = Seed(q, seed);
        long? asOf = q.Position("asOfPosition", asOfPosition);
        if (q.Error is { } error) return error;
        return await AnswerAsync(c, asOf, async csv =>
        {
            var s = await SnapshotAsync(c, asOf);
            var body = InsightJson.Scores(s.Position, s0, ModelFor(s, day, s0).ScoreAll(s, day, reporting), count);
            if (csv)
                return (s.Position, ReportFormats.ToCsv(["accountId", "ownerId", "score", "highRisk", "mrr", "currency", "mrrReporting", "reportingCurrency"],
                    body.TopAccounts.Select(a => new[] { a.AccountId, a.OwnerId ?? "", a.Score.ToString("R", CultureInfo.InvariantCulture), a.HighRisk ? "true" : "false", a.Mrr, a.Currency, a.MrrReporting, body.Currency })));
            return (s.Position, body);
        });
    }

    private static async Task<IResult> DeepDiveAsync([AsParameters] ReportContext c, string ownerId,
        [Description("Start date YYYY-MM-DD (inclusive)")] string? from, [Description("End date YYYY-MM-DD (exclusive)")] string? to,
        [Description("Reporting currency (ISO 4217)")] string? currency,
        [Description("Bootstrap resamples (100..100000, default 2000)")] string? bootstrap,
        [Description("Seed of the bootstrap (default 1)")] string? seed, [Description("As of this log position (auditor)")] string? asOfPosition)
    {
        var q = new QueryReader();
        var range = q.Range(from, to);
        var owner = Owner(q, ownerId);
        if (owner.IsAll) q.Fail("ownerId", "a deep dive is of one owner; * is the company");
        var reporting = q.Currency(currency, c.Settings.Currency);
        int resamples = 2000;
        if (bootstrap is not null && !(int.TryParse(bootstrap, NumberStyles.None, CultureInfo.InvariantCulture, out resamples) && resamples is >= 100 and <= 100_000))
            q.Fail("bootstrap", $"bootstrap must be a whole number from 100 to 100000, got '{bootstrap}'");
        int s0 = Seed(q, seed);
        long? asOf = q.Position("asOfPosition", asOfPosition);
        if (q.Error is { } error) return error;
        return await AnswerAsync(c, asOf, async _ =>
        {
            var s = await SnapshotAsync(c, asOf);
            return (s.Position, InsightJson.DeepDive(DeepDive.Compute(s, owner.Id, new Window(range.From, range.To), reporting, resamples, s0)));
        });
    }

    private static string I(int i) => i.ToString(CultureInfo.InvariantCulture);

    private static string D(decimal d) => d.ToString(CultureInfo.InvariantCulture);
}
