using RevenueLedger.Domain;
using RevenueLedger.Domain.Insights;
using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Application.Insights;

/// <summary>A feature's average over the owner's cohort beside the company's (MRR-weighted): what the book looked like.</summary>
public sealed record BookFeature(string Feature, double Owner, double Company);

public sealed record DeepDiveReport(
    string? OwnerId, Window Window, string Currency, long Position, int CohortAccounts, decimal OpeningMrr, decimal ClosingMrr,
    decimal? ActualNrr, double? ExpectedNrr, double? Difference, double? Low, double? High, bool OwnerEffect, string Verdict,
    decimal? CompanyNrr, decimal? TrailingTwelveMonthNrr, Window TrailingWindow, int Bootstrap, int Seed,
    IReadOnlyList<BookFeature> Book, ReasonParetoReport Pareto, IReadOnlyList<RateUsed> Rates);

/// <summary>
/// Is the owner's NRR their doing? A company-wide, account-level retention model says what each account of the owner's
/// cohort was expected to keep: the MRR-weighted retention, MRR(to) ÷ MRR(from), of its 50 nearest accounts of other
/// owners in the same cohort, by the features known on the window's first day (<see cref="FeatureSpace"/>, each in
/// units of its spread) — comparable accounts, literally, without assuming effects add up along straight lines (a
/// linear regression was tried: it misjudged books far from the company's average). Leaving the owner's own accounts
/// out keeps their effect from bending the benchmark. Summed over the cohort it is the NRR expected from the book the
/// owner was handed. Actual minus expected, with a 95% bootstrap interval over the
/// owner's accounts (deterministic for the seed), separates "handed a bad-fit book" (expected low, difference ≈ 0) from
/// "did worse than comparable accounts" (the interval excludes 0).
/// </summary>
public static class DeepDive
{
    private const int Neighbours = 50;

    public static DeepDiveReport Compute(LedgerSnapshot s, string? ownerId, Window window, string currency, int bootstrap = 2000, int seed = 1)
    {
        if (bootstrap is < 100 or > 100_000) throw new LedgerUsageException("bootstrap must be between 100 and 100000 resamples");
        var space = new FeatureSpace(s);
        var cohort = new List<(AccountHistory Account, decimal Opening, decimal Closing, bool Owners)>();
        var rates = new Dictionary<string, RecordedRate>(StringComparer.Ordinal);
        foreach (var a in s.Accounts)
        {
            decimal opening = a.MrrAt(window.From);
            if (opening <= 0) continue;
            decimal r = 1;
            if (a.Currency != currency && a.Currency.Length > 0)
            {
                if (!rates.TryGetValue(a.Currency, out var rate))
                    rates[a.Currency] = rate = s.Rates.InForce(a.Currency, currency, window.From, s.Position) ?? throw new FxRateMissingException(a.Currency, currency, window.From);
                r = rate.Rate;
            }
            cohort.Add((a, opening * r, a.MrrAt(window.To) * r, a.OwnerDuring(window.From) == ownerId));
        }
        var used = rates.Values.Select(r => new RateUsed(r.Currency, r.QuoteCurrency, window.From, r.Rate, r.Position)).OrderBy(r => r.Currency, StringComparer.Ordinal).ToList();
        var trailing = new Window(window.To.AddMonths(-12), window.To);
        var pareto = s.ParetoIn(currency, window, OwnerGroup.Of(ownerId));
        decimal? companyNrr = Nrr(cohort.Sum(c => c.Opening), cohort.Sum(c => c.Closing));
        decimal? trailingNrr = TrailingNrr(s, ownerId, trailing, currency);
        var mine = cohort.Where(c => c.Owners).ToList();
        decimal opening0 = mine.Sum(c => c.Opening), closing0 = mine.Sum(c => c.Closing);
        if (mine.Count == 0 || cohort.Count - mine.Count < 2 * Neighbours)
            return new DeepDiveReport(ownerId, window, currency, s.Position, mine.Count, opening0, closing0, Nrr(opening0, closing0), null, null, null, null, false,
                mine.Count == 0 ? "the owner held no active account on the window's first day" : "too few other accounts in the company's cohort to compare with",
                companyNrr, trailingNrr, trailing, bootstrap, seed, [], pareto, used);

        int n = cohort.Count, p = space.Count;
        var x = new double[n * p];
        Parallel.For(0, n, i => space.Fill(cohort[i].Account, s.Signals.Of(cohort[i].Account.AccountId), window.From, x.AsSpan(i * p, p)));
        var w = cohort.Select(c => (double)c.Opening).ToArray();
        var y = cohort.Select(c => (double)(c.Closing / c.Opening)).ToArray();
        double wsum = w.Sum();
        // Weighted standardisation: each feature's MRR-weighted spread is its unit of distance between accounts.
        var mean = new double[p];
        var scale = new double[p];
        for (int j = 0; j < p; j++)
        {
            double m = 0, v = 0;
            for (int i = 0; i < n; i++) m += w[i] * x[i * p + j];
            m /= wsum;
            for (int i = 0; i < n; i++) { double d = x[i * p + j] - m; v += w[i] * d * d; }
            (mean[j], scale[j]) = (m, Math.Sqrt(v / wsum) is var sd && sd > 1e-12 ? sd : 1);
        }
        var indexes = Enumerable.Range(0, n).Where(i => cohort[i].Owners).ToArray();
        var book = space.Names.Select((name, j) => new BookFeature(name, indexes.Sum(i => w[i] * x[i * p + j]) / (double)opening0, mean[j])).ToList();
        var others = Enumerable.Range(0, n).Where(i => !cohort[i].Owners).ToArray();
        int kNear = Math.Min(Neighbours, others.Length);
        var predicted = new double[n];
        var neighbours = new int[indexes.Length][];
        var spread = new double[indexes.Length];
        Parallel.For(0, indexes.Length, a =>
        {
            int i = indexes[a];
            var distances = new (double D, int I)[others.Length];
            for (int o = 0; o < others.Length; o++)
            {
                double d = 0;
                for (int j = 0; j < p; j++) { double t = (x[i * p + j] - x[others[o] * p + j]) / scale[j]; d += t * t; }
                distances[o] = (d, others[o]);
            }
            Array.Sort(distances);
            var near = distances.Take(kNear).Select(d => d.I).ToArray();
            double den = near.Sum(o => w[o]), mean = near.Sum(o => w[o] * y[o]) / den;
            (predicted[i], neighbours[a], spread[a]) = (mean, near, near.Sum(o => w[o] * (y[o] - mean) * (y[o] - mean)) / den);
        });
        var residual = indexes.Select(i => w[i] * (y[i] - predicted[i])).ToArray();
        var weights = indexes.Select(i => w[i]).ToArray();
        double ownerWeight = weights.Sum();
        double expected = indexes.Sum(i => w[i] * predicted[i]) / ownerWeight;
        double difference = residual.Sum() / ownerWeight;
        // The benchmark is itself an estimate: expected = Σ c_o · r_o over the neighbours o, so its variance is
        // Σ c_o² σ_o², σ_o² taken from the spread of the neighbourhoods o belongs to. Added to every bootstrap draw.
        var c = new Dictionary<int, (double C, double Spread, int Count)>();
        for (int a = 0; a < indexes.Length; a++)
        {
            double den = neighbours[a].Sum(o => w[o]);
            foreach (var o in neighbours[a])
            {
                var (co, so, no) = c.GetValueOrDefault(o);
                c[o] = (co + w[indexes[a]] / ownerWeight * w[o] / den, so + spread[a], no + 1);
            }
        }
        double benchmarkSd = Math.Sqrt(c.Values.Sum(v => v.C * v.C * v.Spread / v.Count));
        var rng = new Random(seed);
        var draws = new double[bootstrap];
        for (int t = 0; t < bootstrap; t++)
        {
            double num = 0, den = 0;
            for (int k = 0; k < indexes.Length; k++) { int pick = rng.Next(indexes.Length); num += residual[pick]; den += weights[pick]; }
            draws[t] = num / den + benchmarkSd * Normal(rng);
        }
        Array.Sort(draws);
        double low = draws[(int)Math.Floor(0.025 * (bootstrap - 1))], high = draws[(int)Math.Ceiling(0.975 * (bootstrap - 1))];
        bool effect = low > 0 || high < 0;
        string verdict = effect
            ? (high < 0 ? "the owner's accounts kept less than comparable accounts: the gap is the owner's, not the book's"
                        : "the owner's accounts kept more than comparable accounts")
            : "the owner's NRR is what the book they were handed predicts: no owner effect can be told apart from chance";
        return new DeepDiveReport(ownerId, window, currency, s.Position, mine.Count, opening0, closing0, Nrr(opening0, closing0), expected, difference, low, high,
            effect, verdict, companyNrr, trailingNrr, trailing, bootstrap, seed, book, pareto, used);
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static decimal? Nrr(decimal opening, decimal closing) => opening == 0 ? null : closing / opening;

    private static decimal? TrailingNrr(LedgerSnapshot s, string? ownerId, Window trailing, string currency)
    {
        var report = s.ReportIn(currency, trailing, byOwner: true, ReportParts.Nrr);
        return report.Nrr.FirstOrDefault(r => !r.Owner.IsAll && r.Owner.Id == ownerId)?.Nrr;
    }
}
