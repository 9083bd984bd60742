using System.Diagnostics;
using RevenueLedger.Application;
using RevenueLedger.Application.Insights;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Sqlite;

/// <summary>Issue 19's figures: training and scoring the health score beside a plain fold of the same log, in one run.</summary>
internal static class Insights
{
    public static async Task<int> RunAsync(string store)
    {
        await using var log = await SqliteEventStore.OpenAsync(store);
        for (int round = 1; round <= 2; round++)
        {
            var clock = Stopwatch.StartNew();
            var s = await LedgerSnapshot.LoadAsync(log);
            double fold = clock.Elapsed.TotalSeconds;
            var (first, last) = HealthModel.BookSpan(s);
            var cutoff = last.AddDays(-HealthModel.Horizon);
            clock.Restart();
            var model = HealthModel.Train(s, cutoff, seed: 1);
            double train = clock.Elapsed.TotalSeconds;
            // Scoring speed: all 20,000 accounts, each on a day it is active (the first of the month after it started),
            // then ScoreAll on the day with the most active accounts — both with the model above.
            var days = s.Accounts.Select(a => a.Movements.Count == 0 ? first : new DateOnly(a.Movements[0].Day.Year, a.Movements[0].Day.Month, 1).AddMonths(1)).ToArray();
            clock.Restart();
            var each = new double[s.Accounts.Count];
            Parallel.For(0, s.Accounts.Count, i => each[i] = model.Score(s, s.Accounts[i], days[i]));
            double score = clock.Elapsed.TotalSeconds;
            var busiest = Enumerable.Range(0, 84).Select(m => first.AddMonths(m)).Where(d => d <= last).MaxBy(d => s.Accounts.Count(a => a.MrrAt(d) > 0));
            clock.Restart();
            var scores = model.ScoreAll(s, busiest, "USD");
            double scoreAll = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"round {round}: {s.Accounts.Count} accounts, {s.Signals.Count} signal values, position {s.Position}, book {first}..{last}");
            Console.WriteLine($"  plain fold of the log {fold:F2} s; training on {model.TrainingSamples} account-months (horizons ending by {cutoff}) {train:F2} s ({train / fold:F2}× the fold); scoring all {each.Length} accounts {score:F2} s ({score / fold:F2}× the fold); ScoreAll of the {scores.Accounts.Count} active on {busiest} (ranked, per owner) {scoreAll:F2} s");
            if (round == 1)
            {
                var e = HealthModel.Evaluate(s, first.AddMonths(30), null, seed: 1);
                Console.WriteLine($"  evaluation, cutoff {e.Cutoff}: AUC {e.Auc:F3}, top-decile lift {e.TopDecileLift:F2}, baseline lift {e.BaselineLift:F2}, over baseline {e.LiftOverBaseline:F2}; train {e.TrainingSamples}, test {e.TestSamples}");
                var window = new Window(first.AddMonths(48), first.AddMonths(60));
                var times = new List<double>();
                DeepDive.Compute(s, "owner-10", window, "USD", 2000, seed: 0); // the window's cohort features, shared by every owner's
                for (int i = 0; i < 40; i++)
                {
                    clock.Restart();
                    var d = DeepDive.Compute(s, $"owner-{1 + i % 10:00}", window, "USD", 2000, seed: i);
                    times.Add(clock.Elapsed.TotalMilliseconds);
                    if (i < 3) Console.WriteLine($"  deep dive {d.OwnerId} {window}: actual {d.ActualNrr:F4}, expected {d.ExpectedNrr:F4}, [{d.Low:F4}, {d.High:F4}], effect {d.OwnerEffect}");
                }
                times.Sort();
                Console.WriteLine($"  deep dive in process (40 calls after the window's first): p50 {times[20]:F0} ms, max {times[^1]:F0} ms");
            }
        }
        return 0;
    }
}
