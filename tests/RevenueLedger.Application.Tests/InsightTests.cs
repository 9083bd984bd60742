using RevenueLedger.Application;
using RevenueLedger.Application.Insights;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Insights;
using RevenueLedger.Domain.Reporting;
using Xunit.Abstractions;

namespace RevenueLedger.Application.Tests;

/// <summary>Books generated from a known model (docs/insights.md): one whose signals drive churn, one where they are noise.</summary>
public sealed class GeneratedBooks
{
    public static readonly DateOnly Start = new(2021, 1, 1);

    public LedgerSnapshot Driven { get; } = Book(SignalMode.Driven);

    public LedgerSnapshot Noise { get; } = Book(SignalMode.Noise);

    private static LedgerSnapshot Book(SignalMode mode) =>
        LedgerSnapshot.FromEvents(SignalBook.Generate(new SignalBookOptions(8000, 8, Start, 42, Seed: 7, mode)).ToList());
}

public sealed class InsightTests(GeneratedBooks books, ITestOutputHelper output) : IClassFixture<GeneratedBooks>
{
    private static readonly DateOnly Cutoff = GeneratedBooks.Start.AddMonths(30);

    [Fact]
    public void Where_signals_drive_churn_the_score_ranks_held_out_months_well_and_beats_the_baseline_rule_twice()
    {
        var e = HealthModel.Evaluate(books.Driven, Cutoff, null, seed: 1);
        output.WriteLine($"driven: AUC {e.Auc:F3}, top-decile lift {e.TopDecileLift:F2}, baseline lift {e.BaselineLift:F2}, over baseline {e.LiftOverBaseline:F2}, train {e.TrainingSamples}, test {e.TestSamples}, rate {e.TestRate:F3}");
        foreach (var d in e.Calibration) output.WriteLine($"  decile {d.Decile}: mean score {d.MeanScore:F3}, observed {d.ObservedRate:F3} ({d.Accounts})");
        Assert.True(e.Auc >= 0.75, $"AUC {e.Auc}");
        Assert.True(e.LiftOverBaseline >= 2, $"top decile {e.TopDecileRate} vs baseline rule {e.BaselineRate}");
        // Trained only on horizons that end by the cutoff; tested only after it.
        Assert.Equal(Cutoff, e.Cutoff);
        Assert.True(e.TestSamples > 10_000 && e.TrainingSamples > 10_000);
        // Calibrated: the top decile's mean score is within a few points of what happened.
        Assert.InRange(e.Calibration[0].MeanScore - e.Calibration[0].ObservedRate, -0.08, 0.08);
    }

    [Fact]
    public void Where_signals_are_noise_the_score_is_no_better_than_chance()
    {
        var e = HealthModel.Evaluate(books.Noise, Cutoff, null, seed: 1);
        output.WriteLine($"noise: AUC {e.Auc:F3}, rate {e.TestRate:F3}, test {e.TestSamples}");
        Assert.InRange(e.Auc, 0.45, 0.55);
    }

    [Fact]
    public void Scores_are_reproducible_for_a_position_and_seed()
    {
        var day = Cutoff;
        var a = HealthModel.Train(books.Driven, day, seed: 3).ScoreAll(books.Driven, day, "USD");
        var b = HealthModel.Train(books.Driven, day, seed: 3).ScoreAll(books.Driven, day, "USD");
        Assert.Equal(a.Accounts.Select(x => (x.AccountId, x.Score)), b.Accounts.Select(x => (x.AccountId, x.Score)));
        Assert.Equal(books.Driven.Accounts.Count(x => x.MrrAt(day) > 0), a.Accounts.Count);
        // High risk is the top tenth; owners' at-risk MRR adds up to the high-risk accounts' MRR.
        Assert.InRange(a.Accounts.Count(x => x.HighRisk), a.Accounts.Count / 10, a.Accounts.Count / 10 + 5);
        Assert.Equal(a.Accounts.Where(x => x.HighRisk).Sum(x => x.MrrReporting), a.Owners.Sum(o => o.AtRiskMrr));
    }

    [Fact]
    public void The_deep_dive_flags_the_owner_who_did_worse_and_clears_the_one_handed_a_bad_fit_book()
    {
        var window = new Window(GeneratedBooks.Start.AddMonths(12), GeneratedBooks.Start.AddMonths(24));
        var under = DeepDive.Compute(books.Driven, SignalBookOptions.Underperformer, window, "USD", seed: 1);
        var badFit = DeepDive.Compute(books.Driven, SignalBookOptions.BadFitBook, window, "USD", seed: 1);
        var fair = DeepDive.Compute(books.Driven, "owner-05", window, "USD", seed: 1);
        foreach (var d in new[] { under, badFit, fair })
            output.WriteLine($"{d.OwnerId}: actual {d.ActualNrr:F4} expected {d.ExpectedNrr:F4} diff {d.Difference:F4} [{d.Low:F4}, {d.High:F4}] company {d.CompanyNrr:F4} ({d.CohortAccounts} accounts)");
        Assert.True(under.OwnerEffect && under.High < 0, $"underperformer [{under.Low}, {under.High}]");
        Assert.False(badFit.OwnerEffect, $"bad-fit book [{badFit.Low}, {badFit.High}]");
        Assert.True(badFit.Low < 0 && badFit.High > 0);
        // The premise: the bad-fit book's raw NRR is below the company's, yet it is not the owner's doing.
        Assert.True(badFit.ActualNrr < badFit.CompanyNrr);
        // The actual NRR is the ledger's NRR row for that owner, to the digit.
        var nrr = books.Driven.ReportIn("USD", window, byOwner: true, ReportParts.Nrr).Nrr.Single(r => r.Owner.Id == SignalBookOptions.Underperformer);
        Assert.Equal(nrr.Nrr, under.ActualNrr);
        Assert.Equal((nrr.OpeningMrr, nrr.ClosingMrr, nrr.AccountsOpening), (under.OpeningMrr, under.ClosingMrr, under.CohortAccounts));
        var trailing = books.Driven.ReportIn("USD", under.TrailingWindow, byOwner: true, ReportParts.Nrr).Nrr.Single(r => r.Owner.Id == SignalBookOptions.Underperformer);
        Assert.Equal(trailing.Nrr, under.TrailingTwelveMonthNrr);
    }

    [Fact]
    public void The_pareto_adds_up_to_the_bridges_churn_and_contraction_lines_for_every_owner()
    {
        var window = new Window(GeneratedBooks.Start.AddMonths(6), GeneratedBooks.Start.AddMonths(18));
        var bridge = books.Driven.ReportIn("USD", window, byOwner: true, ReportParts.Bridge).Bridge;
        foreach (var row in bridge)
        {
            var pareto = books.Driven.ParetoIn("USD", window, row.Owner);
            Assert.Equal((row.Churn, row.Contraction), (pareto.ChurnMrr, pareto.ContractionMrr));
            foreach (var kind in LossKinds.All)
            {
                var total = kind switch { LossKinds.Churn => row.Churn, LossKinds.Contraction => row.Contraction, _ => row.Churn + row.Contraction };
                Assert.Equal(total, pareto.Rows.Where(r => r.Kind == kind).Sum(r => r.Mrr));
                Assert.Equal(total, pareto.Functions.Where(r => r.Kind == kind).Sum(r => r.Mrr));
            }
            Assert.Equal(row.AccountsChurned, pareto.Rows.Where(r => r.Kind == LossKinds.Churn).Sum(r => r.Logos));
            // The vital few: the largest reasons down to the first that reaches 80% of the kind's MRR.
            var lost = pareto.Rows.Where(r => r.Kind == LossKinds.Lost).ToList();
            int vital = lost.Count(r => r.VitalFew);
            Assert.True(lost.Take(vital).All(r => r.VitalFew) && lost[vital - 1].CumulativeShare >= 0.8m && (vital == 1 || lost[vital - 2].CumulativeShare < 0.8m));
        }
        // The underperformer's losses lean on what an owner controls more than the company's do.
        var company = books.Driven.ParetoIn("USD", window, OwnerGroup.All);
        var under = books.Driven.ParetoIn("USD", window, OwnerGroup.Of(SignalBookOptions.Underperformer));
        decimal Controllable(ReasonParetoReport r) => r.Functions.Where(f => f.Kind == LossKinds.Lost && f.ControllableByOwner).Sum(f => f.Share);
        Assert.True(Controllable(under) > Controllable(company));
    }
}
