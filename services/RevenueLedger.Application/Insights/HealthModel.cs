using System.Diagnostics;
using MathNet.Numerics.LinearAlgebra;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Application.Insights;

/// <summary>One row of the calibration table: a tenth of the scored accounts, by score.</summary>
public sealed record DecileRow(int Decile, int Accounts, double MeanScore, double ObservedRate);

public sealed record Coefficient(string Feature, double Value);

/// <summary>How the model did on days after its cutoff, against the baseline rule "contracted in the last 90 days".</summary>
public sealed record HealthEvaluation(
    DateOnly Cutoff, DateOnly EvaluatedUntil, int HorizonDays, int Seed, int TrainingSamples, int TestSamples, double TestRate,
    double Auc, double TopDecileRate, double TopDecileLift, double BaselineRate, double BaselineLift, double? LiftOverBaseline,
    IReadOnlyList<DecileRow> Calibration, IReadOnlyList<Coefficient> Coefficients, double TrainingSeconds);

public sealed record AccountScore(string AccountId, string? OwnerId, string Currency, decimal Mrr, decimal MrrReporting, double Score, bool HighRisk);

public sealed record OwnerRisk(string? OwnerId, int Accounts, int HighRiskAccounts, decimal Mrr, decimal AtRiskMrr, decimal ExpectedLossExposure);

public sealed record HealthScores(DateOnly Date, string Currency, int HorizonDays, double HighRiskFrom, IReadOnlyList<AccountScore> Accounts, IReadOnlyList<OwnerRisk> Owners, IReadOnlyList<RateUsed> Rates);

/// <summary>
/// The health score: a logistic regression of "churns or contracts within the next 90 days" on <see cref="FeatureSpace"/>,
/// fitted by iteratively reweighted least squares (Newton's method) with a small ridge, features standardised. Trained
/// on account-months whose whole horizon ends on or before the cutoff, so nothing after it is seen. Every sum runs in a
/// fixed order, so the same snapshot, cutoff and seed give the same coefficients and scores to the last bit.
/// </summary>
public sealed class HealthModel
{
    public const int Horizon = 90;
    private const double Ridge = 1.0;

    private readonly double[] _mean, _scale, _beta; // _beta[0]: intercept

    public FeatureSpace Space { get; }

    public DateOnly Cutoff { get; }

    public int TrainingSamples { get; }

    public IReadOnlyList<Coefficient> Coefficients =>
        [new("(intercept)", _beta[0]), .. Space.Names.Select((n, i) => new Coefficient(n, _beta[i + 1] / _scale[i]))];

    private HealthModel(FeatureSpace space, DateOnly cutoff, int samples, double[] mean, double[] scale, double[] beta) =>
        (Space, Cutoff, TrainingSamples, _mean, _scale, _beta) = (space, cutoff, samples, mean, scale, beta);

    /// <summary>Account-months on the first of each month in [from, until], the account active then (MRR > 0).</summary>
    private static List<(int Account, DateOnly Day)> Samples(LedgerSnapshot s, DateOnly from, DateOnly until)
    {
        var samples = new List<(int, DateOnly)>();
        for (var day = new DateOnly(from.Year, from.Month, 1) < from ? new DateOnly(from.Year, from.Month, 1).AddMonths(1) : from; day <= until; day = day.AddMonths(1))
            for (int a = 0; a < s.Accounts.Count; a++)
                if (s.Accounts[a].MrrAt(day) > 0) samples.Add((a, day));
        return samples;
    }

    public static (DateOnly First, DateOnly Last) BookSpan(LedgerSnapshot s)
    {
        DateOnly first = DateOnly.MaxValue, last = DateOnly.MinValue;
        foreach (var a in s.Accounts)
            if (a.Movements.Count > 0)
            {
                if (a.Movements[0].Day < first) first = a.Movements[0].Day;
                if (a.Movements[^1].Day > last) last = a.Movements[^1].Day;
            }
        if (first > last) throw new LedgerUsageException("the book has no MRR movements to learn from");
        return (first, last);
    }

    /// <param name="maxSamples">More account-months than this are sampled down (by the seed) to this many.</param>
    public static HealthModel Train(LedgerSnapshot s, DateOnly cutoff, int seed, int maxSamples = 2_000_000)
    {
        var space = FeatureSpace.Of(s);
        var (first, _) = BookSpan(s);
        var samples = Samples(s, first.AddDays(1), cutoff.AddDays(-Horizon));
        if (samples.Count > maxSamples)
        {
            var rng = new Random(seed);
            samples = [.. samples.Select(x => (Key: rng.NextDouble(), x)).OrderBy(x => x.Key).Take(maxSamples).Select(x => x.x).OrderBy(x => x.Item1).ThenBy(x => x.Item2)];
        }
        int n = samples.Count, p = space.Count;
        if (n < 50) throw new LedgerUsageException($"only {n} account-months end their {Horizon}-day horizon by {Dates.Format(cutoff)}: too few to train on (choose a later cutoff)");
        var x = new double[n * p];
        var y = new double[n];
        Parallel.For(0, n, i =>
        {
            var (a, day) = samples[i];
            var account = s.Accounts[a];
            space.Fill(account, s.Signals.Of(account.AccountId), day, x.AsSpan(i * p, p));
            y[i] = FeatureSpace.LosesWithin(account, day, Horizon) ? 1 : 0;
        });
        var (mean, scale) = Standardise(x, n, p);
        if (y.All(v => v == 0) || y.All(v => v == 1)) throw new LedgerUsageException("the training months have no losses, or only losses: nothing to learn");
        var beta = Fit(x, y, n, p);
        return new HealthModel(space, cutoff, n, mean, scale, beta);
    }

    private static (double[] Mean, double[] Scale) Standardise(double[] x, int n, int p)
    {
        var mean = new double[p];
        var scale = new double[p];
        for (int j = 0; j < p; j++)
        {
            double sum = 0, sq = 0;
            for (int i = 0; i < n; i++) sum += x[i * p + j];
            mean[j] = sum / n;
            for (int i = 0; i < n; i++) { double d = x[i * p + j] - mean[j]; sq += d * d; }
            scale[j] = Math.Sqrt(sq / n) is var sd && sd > 1e-12 ? sd : 1;
        }
        Parallel.For(0, n, i =>
        {
            for (int j = 0; j < p; j++) x[i * p + j] = (x[i * p + j] - mean[j]) / scale[j];
        });
        return (mean, scale);
    }

    /// <summary>Newton steps on the penalised log-likelihood; the Hessian solved by Cholesky (MathNet).</summary>
    private static double[] Fit(double[] x, double[] y, int n, int p)
    {
        int q = p + 1;
        var beta = new double[q];
        const int chunk = 65_536;
        int chunks = (n + chunk - 1) / chunk;
        for (int iteration = 0; iteration < 25; iteration++)
        {
            // Partial sums per fixed chunk, added in chunk order: the same bits whatever the threads do.
            var hessians = new double[chunks][];
            var gradients = new double[chunks][];
            Parallel.For(0, chunks, c =>
            {
                var h = new double[q * q];
                var g = new double[q];
                var row = new double[q];
                row[0] = 1;
                for (int i = c * chunk, end = Math.Min(n, (c + 1) * chunk); i < end; i++)
                {
                    double eta = beta[0];
                    for (int j = 0; j < p; j++) { row[j + 1] = x[i * p + j]; eta += beta[j + 1] * row[j + 1]; }
                    double mu = SignalBook.Sigmoid(eta), w = Math.Max(mu * (1 - mu), 1e-10), r = y[i] - mu;
                    for (int j = 0; j < q; j++)
                    {
                        g[j] += row[j] * r;
                        double wr = w * row[j];
                        for (int k = 0; k <= j; k++) h[j * q + k] += wr * row[k];
                    }
                }
                (hessians[c], gradients[c]) = (h, g);
            });
            var hessian = Matrix<double>.Build.Dense(q, q);
            var gradient = Vector<double>.Build.Dense(q);
            for (int c = 0; c < chunks; c++)
                for (int j = 0; j < q; j++)
                {
                    gradient[j] += gradients[c][j];
                    for (int k = 0; k <= j; k++) hessian[j, k] += hessians[c][j * q + k];
                }
            for (int j = 0; j < q; j++)
            {
                for (int k = 0; k < j; k++) hessian[k, j] = hessian[j, k];
                if (j > 0) { hessian[j, j] += Ridge; gradient[j] -= Ridge * beta[j]; }
            }
            var step = hessian.Cholesky().Solve(gradient);
            for (int j = 0; j < q; j++) beta[j] += step[j];
            if (step.AbsoluteMaximum() < 1e-8) break;
        }
        return beta;
    }

    /// <summary>The probability that the account churns or contracts within <see cref="Horizon"/> days of <paramref name="day"/>.</summary>
    public double Score(LedgerSnapshot s, AccountHistory account, DateOnly day)
    {
        Span<double> row = stackalloc double[Space.Count];
        Space.Fill(account, s.Signals.Of(account.AccountId), day, row);
        return Score(row);
    }

    private double Score(ReadOnlySpan<double> row)
    {
        double eta = _beta[0];
        for (int j = 0; j < row.Length; j++) eta += _beta[j + 1] * (row[j] - _mean[j]) / _scale[j];
        return SignalBook.Sigmoid(eta);
    }

    /// <summary>Trains up to <paramref name="cutoff"/> and tests on the account-months after it whose horizon ends by <paramref name="until"/>.</summary>
    public static HealthEvaluation Evaluate(LedgerSnapshot s, DateOnly cutoff, DateOnly? until, int seed)
    {
        var clock = Stopwatch.StartNew();
        var model = Train(s, cutoff, seed);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        var end = until ?? BookSpan(s).Last;
        var samples = Samples(s, cutoff, end.AddDays(-Horizon));
        if (samples.Count < 50) throw new LedgerUsageException($"only {samples.Count} account-months after {Dates.Format(cutoff)} end their horizon by {Dates.Format(end)}: too few to evaluate (choose an earlier cutoff)");
        var scores = new double[samples.Count];
        var labels = new bool[samples.Count];
        var baseline = new bool[samples.Count];
        int contracted = model.Space.ContractedRecently;
        Parallel.For(0, samples.Count, i =>
        {
            var (a, day) = samples[i];
            var account = s.Accounts[a];
            Span<double> row = stackalloc double[model.Space.Count];
            model.Space.Fill(account, s.Signals.Of(account.AccountId), day, row);
            scores[i] = model.Score(row);
            baseline[i] = row[contracted] == 1;
            labels[i] = FeatureSpace.LosesWithin(account, day, Horizon);
        });
        double rate = labels.Count(l => l) / (double)labels.Length;
        var order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
        int top = Math.Max(1, order.Length / 10);
        double topRate = order.Take(top).Count(i => labels[i]) / (double)top;
        int flagged = baseline.Count(b => b);
        double baselineRate = flagged == 0 ? 0 : Enumerable.Range(0, labels.Length).Count(i => baseline[i] && labels[i]) / (double)flagged;
        var calibration = new List<DecileRow>();
        for (int d = 0; d < 10; d++)
        {
            var part = order.Skip(d * order.Length / 10).Take((d + 1) * order.Length / 10 - d * order.Length / 10).ToArray();
            if (part.Length == 0) continue;
            calibration.Add(new DecileRow(d + 1, part.Length, part.Average(i => scores[i]), part.Count(i => labels[i]) / (double)part.Length));
        }
        return new HealthEvaluation(cutoff, end, Horizon, seed, model.TrainingSamples, samples.Count, rate, Auc(scores, labels),
            topRate, rate == 0 ? 0 : topRate / rate, baselineRate, rate == 0 ? 0 : baselineRate / rate, baselineRate == 0 ? null : topRate / baselineRate,
            calibration, model.Coefficients, trainSeconds);
    }

    /// <summary>The area under the ROC curve: the chance a random loss scores above a random non-loss (ties count half).</summary>
    public static double Auc(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        var order = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ToArray();
        double rankSum = 0;
        long positives = 0;
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j < order.Length && scores[order[j]] == scores[order[i]]) j++;
            double rank = (i + 1 + j) / 2.0; // average rank of the tie group (1-based)
            for (int k = i; k < j; k++) if (labels[order[k]]) { rankSum += rank; positives++; }
            i = j;
        }
        long negatives = scores.Count - positives;
        if (positives == 0 || negatives == 0) return double.NaN;
        return (rankSum - positives * (positives + 1) / 2.0) / (positives * (double)negatives);
    }

    /// <summary>
    /// Every account active on <paramref name="day"/>, scored by a model trained up to that day; high risk is the top
    /// tenth of the day's scores. Owners' MRR in the reporting currency at the day's rate (spec §10's rule for a day).
    /// </summary>
    public HealthScores ScoreAll(LedgerSnapshot s, DateOnly day, string currency)
    {
        var active = s.Accounts.Where(a => a.MrrAt(day) > 0).ToArray();
        var scores = new double[active.Length];
        Parallel.For(0, active.Length, i => scores[i] = Score(s, active[i], day));
        double threshold = active.Length == 0 ? 1 : scores.OrderByDescending(x => x).ElementAt(Math.Max(0, active.Length / 10 - 1));
        var rates = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var used = new List<RateUsed>();
        decimal Rate(string c)
        {
            if (c == currency || c.Length == 0) return 1;
            if (rates.TryGetValue(c, out var r)) return r;
            var rate = s.Rates.InForce(c, currency, day, s.Position) ?? throw new FxRateMissingException(c, currency, day);
            used.Add(new RateUsed(c, currency, day, rate.Rate, rate.Position));
            return rates[c] = rate.Rate;
        }
        var accounts = active.Select((a, i) =>
        {
            decimal mrr = a.MrrAt(day);
            return new AccountScore(a.AccountId, a.OwnerDuring(day), a.Currency, mrr, mrr * Rate(a.Currency), scores[i], scores[i] >= threshold && active.Length >= 10);
        }).OrderByDescending(a => a.Score).ThenBy(a => a.AccountId, StringComparer.Ordinal).ToList();
        var owners = accounts.GroupBy(a => a.OwnerId)
            .Select(g => new OwnerRisk(g.Key, g.Count(), g.Count(a => a.HighRisk), g.Sum(a => a.MrrReporting), g.Where(a => a.HighRisk).Sum(a => a.MrrReporting),
                Math.Round(g.Sum(a => a.MrrReporting * (decimal)a.Score), 2)))
            .OrderBy(o => o.OwnerId is null).ThenBy(o => o.OwnerId, StringComparer.Ordinal).ToList();
        return new HealthScores(day, currency, Horizon, threshold, accounts, owners, used);
    }
}
