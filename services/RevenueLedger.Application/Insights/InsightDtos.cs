using RevenueLedger.Domain;
using RevenueLedger.Domain.Insights;
using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Application.Insights;

// The wire shapes of the insights, shared by the gateway's JSON and `ledger … --format json`, so both say the same
// thing: money as exact decimal strings (like every report), ratios as numbers (decimals exact, model outputs
// rounded to 6 places — they are estimates, and their last bits are no information).

public sealed record InsightRate(string Currency, string QuoteCurrency, string Date, string Rate, long Position);

public sealed record ParetoRowJson(string Kind, string Reason, string Label, string Function, string Mrr, int Logos, decimal Share, decimal CumulativeShare, bool VitalFew);

public sealed record FunctionRowJson(string Kind, string Function, string Mrr, int Logos, decimal Share, bool ControllableByOwner);

public sealed record ParetoJson(long Position, string From, string To, string OwnerId, string Currency, string ChurnMrr, string ContractionMrr, string LostMrr,
    IReadOnlyList<ParetoRowJson> Rows, IReadOnlyList<FunctionRowJson> Functions, IReadOnlyList<InsightRate> Rates);

public sealed record CatalogueEntryJson(string Reason, string Label, string Function, bool ControllableByOwner, long? Position);

public sealed record CatalogueJson(long Position, IReadOnlyList<CatalogueEntryJson> Reasons);

public sealed record EvaluationJson(long Position, string Cutoff, string EvaluatedUntil, int HorizonDays, int Seed, int TrainingSamples, int TestSamples,
    double TestRate, double Auc, double TopDecileRate, double TopDecileLift, string BaselineRule, double BaselineRate, double BaselineLift, double? LiftOverBaseline,
    IReadOnlyList<DecileRow> Calibration, IReadOnlyList<Coefficient> Coefficients);

public sealed record AccountScoreJson(string AccountId, string? OwnerId, string Currency, string Mrr, string MrrReporting, double Score, bool HighRisk);

public sealed record OwnerRiskJson(string? OwnerId, int Accounts, int HighRiskAccounts, string Mrr, string AtRiskMrr, string ExpectedLossExposure);

public sealed record ScoresJson(long Position, string Date, string Currency, int HorizonDays, int Seed, double HighRiskFrom, int Accounts,
    IReadOnlyList<OwnerRiskJson> Owners, IReadOnlyList<AccountScoreJson> TopAccounts, IReadOnlyList<InsightRate> Rates);

public sealed record BookFeatureJson(string Feature, double Owner, double Company);

public sealed record DeepDiveJson(long Position, string? OwnerId, string From, string To, string Currency, int CohortAccounts, string OpeningMrr, string ClosingMrr,
    decimal? ActualNrr, double? ExpectedNrr, double? Difference, double? IntervalLow, double? IntervalHigh, bool OwnerEffect, string Verdict,
    decimal? CompanyNrr, decimal? TrailingTwelveMonthNrr, string TrailingFrom, int Bootstrap, int Seed,
    IReadOnlyList<BookFeatureJson> Book, IReadOnlyList<FunctionRowJson> LostByFunction, IReadOnlyList<ParetoRowJson> LostByReason, IReadOnlyList<InsightRate> Rates);

public static class InsightJson
{
    public const string BaselineRule = "contracted in the last 90 days";

    private static double R(double v) => Math.Round(v, 6);

    private static double? R(double? v) => v is { } x ? Math.Round(x, 6) : null;

    private static decimal Ratio(decimal r) => decimal.Round(r, 12) + 0.000000m;

    private static IReadOnlyList<InsightRate> Rates(IEnumerable<RateUsed> rates) =>
        [.. rates.Select(x => new InsightRate(x.Currency, x.QuoteCurrency, Dates.Format(x.Date), Money.Format(x.Rate), x.Position))];

    private static ParetoRowJson Row(ParetoRow r) => new(r.Kind, r.Reason, r.Label, r.Function, Money.Format(r.Mrr), r.Logos, Ratio(r.Share), Ratio(r.CumulativeShare), r.VitalFew);

    private static FunctionRowJson Row(FunctionRow r) => new(r.Kind, r.Function, Money.Format(r.Mrr), r.Logos, Ratio(r.Share), r.ControllableByOwner);

    public static string OwnerText(OwnerGroup g) => g.IsAll ? "*" : g.Id ?? "(unassigned)";

    public static ParetoJson Pareto(long position, ReasonParetoReport p) => new(position, Dates.Format(p.Window.From), Dates.Format(p.Window.To), OwnerText(p.Owner), p.Currency,
        Money.Format(p.ChurnMrr), Money.Format(p.ContractionMrr), Money.Format(p.LostMrr), [.. p.Rows.Select(Row)], [.. p.Functions.Select(Row)], Rates(p.Rates));

    public static CatalogueJson Catalogue(long position, ReasonCatalogue c) =>
        new(position, [.. c.Entries.Select(e => new CatalogueEntryJson(e.Reason, e.Label, e.Function, ResponsibleFunctions.IsControllableByOwner(e.Function), e.Position == 0 ? null : e.Position))]);

    public static EvaluationJson Evaluation(long position, HealthEvaluation e) => new(position, Dates.Format(e.Cutoff), Dates.Format(e.EvaluatedUntil), e.HorizonDays, e.Seed,
        e.TrainingSamples, e.TestSamples, R(e.TestRate), R(e.Auc), R(e.TopDecileRate), R(e.TopDecileLift), BaselineRule, R(e.BaselineRate), R(e.BaselineLift), R(e.LiftOverBaseline),
        [.. e.Calibration.Select(d => d with { MeanScore = R(d.MeanScore), ObservedRate = R(d.ObservedRate) })], [.. e.Coefficients.Select(c => c with { Value = R(c.Value) })]);

    public static ScoresJson Scores(long position, int seed, HealthScores s, int top) => new(position, Dates.Format(s.Date), s.Currency, s.HorizonDays, seed, R(s.HighRiskFrom), s.Accounts.Count,
        [.. s.Owners.Select(o => new OwnerRiskJson(o.OwnerId, o.Accounts, o.HighRiskAccounts, Money.Format(o.Mrr), Money.Format(o.AtRiskMrr), Money.Format(o.ExpectedLossExposure)))],
        [.. s.Accounts.Take(top).Select(a => new AccountScoreJson(a.AccountId, a.OwnerId, a.Currency, Money.Format(a.Mrr), Money.Format(a.MrrReporting), R(a.Score), a.HighRisk))],
        Rates(s.Rates));

    public static DeepDiveJson DeepDive(DeepDiveReport d) => new(d.Position, d.OwnerId, Dates.Format(d.Window.From), Dates.Format(d.Window.To), d.Currency, d.CohortAccounts,
        Money.Format(d.OpeningMrr), Money.Format(d.ClosingMrr), d.ActualNrr is { } a ? Ratio(a) : null, R(d.ExpectedNrr), R(d.Difference), R(d.Low), R(d.High), d.OwnerEffect, d.Verdict,
        d.CompanyNrr is { } c ? Ratio(c) : null, d.TrailingTwelveMonthNrr is { } t ? Ratio(t) : null, Dates.Format(d.TrailingWindow.From), d.Bootstrap, d.Seed,
        [.. d.Book.Select(b => new BookFeatureJson(b.Feature, R(b.Owner), R(b.Company)))],
        [.. d.Pareto.Functions.Where(f => f.Kind == LossKinds.Lost).Select(Row)], [.. d.Pareto.Rows.Where(r => r.Kind == LossKinds.Lost).Select(Row)], Rates(d.Rates.Concat(d.Pareto.Rates).DistinctBy(r => (r.Currency, r.Date))));
}
