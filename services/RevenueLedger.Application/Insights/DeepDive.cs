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

    /// <summary>What every owner's deep dive of one window shares: the company's cohort, its features and retentions.</summary>
    private sealed class Prepared
    {
        public required AccountHistory[] Accounts { get; init; }
        public required string?[] Owners { get; init; }
        public required decimal[] Opening { get; init; }
        public required decimal[] Closing { get; init; }
        public required double[] X { get; init; } // standardised features, row-major
        public required double[] W { get; init; }
        public required double[] Y { get; init; }
        public required double[] Mean { get; init; }
        public required double[] Scale { get; init; }
        public required FeatureSpace Space { get; init; }
        public required IReadOnlyList<RateUsed> Rates { get; init; }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<LedgerSnapshot, System.Collections.Concurrent.ConcurrentDictionary<(Window, string), Lazy<Prepared>>> Cache = [];

    private static Prepared Prepare(LedgerSnapshot s, Window window, string currency) =>
        Cache.GetValue(s, _ => new()).GetOrAdd((window, currency), _ => new Lazy<Prepared>(() => Build(s, window, currency))).Value;

    private static Prepared Build(LedgerSnapshot s, Window window, string currency)
    {
        var space = FeatureSpace.Of(s);
        var accounts = new List<AccountHistory>();
        var opening = new List<decimal>();
        var closing = new List<decimal>();
        var rates = new Dictionary<string, RecordedRate>(StringComparer.Ordinal);
        foreach (var a in s.Accounts)
        {
            decimal mrr = a.MrrAt(window.From);
            if (mrr <= 0) continue;
            decimal r = 1;
            if (a.Currency != currency && a.Currency.Length > 0)
            {
                if (!rates.TryGetValue(a.Currency, out var rate))
                    rates[a.Currency] = rate = s.Rates.InForce(a.Currency, currency, window.From, s.Position) ?? throw new FxRateMissingException(a.Currency, currency, window.From);
                r = rate.Rate;
            }
            accounts.Add(a);
            opening.Add(mrr * r);
            closing.Add(a.MrrAt(window.To) * r);
        }
        int n = accounts.Count, p = space.Count;
        var x = new double[n * p];
        Parallel.For(0, n, i => space.Fill(accounts[i], s.Signals.Of(accounts[i].AccountId), window.From, x.AsSpan(i * p, p)));
        var w = opening.Select(o => (double)o).ToArray();
        var y = Enumerable.Range(0, n).Select(i => (double)(closing[i] / opening[i])).ToArray();
        double wsum = w.Sum();
        // Weighted standardisation: each feature's MRR-weighted spread is its unit of distance between accounts.
        var mean = new double[p];
        var scales = new double[p];
        for (int j = 0; j < p && n > 0; j++)
        {
            double m = 0, v = 0;
            for (int i = 0; i < n; i++) m += w[i] * x[i * p + j];
            m /= wsum;
            for (int i = 0; i < n; i++) { double d = x[i * p + j] - m; v += w[i] * d * d; }
            double scale = Math.Sqrt(v / wsum) is var sd && sd > 1e-12 ? sd : 1;
            (mean[j], scales[j]) = (m, scale);
            for (int i = 0; i < n; i++) x[i * p + j] = (x[i * p + j] - m) / scale;
        }
        return new Prepared
        {
            Accounts = [.. accounts], Owners = [.. accounts.Select(a => a.OwnerDuring(window.From))], Opening = [.. opening], Closing = [.. closing],
            X = x, W = w, Y = y, Mean = mean, Scale = scales, Space = space,
            Rates = [.. rates.Values.Select(r => new RateUsed(r.Currency, r.QuoteCurrency, window.From, r.Rate, r.Position)).OrderBy(r => r.Currency, StringComparer.Ordinal)],
        };
    }

    public static DeepDiveReport Compute(LedgerSnapshot s, string? ownerId, Window window, string currency, int bootstrap = 2000, int seed = 1)
    {
        if (bootstrap is < 100 or > 100_000) throw new LedgerUsageException("bootstrap must be between 100 and 100000 resamples");
        var c = Prepare(s, window, currency);
        int n = c.Accounts.Length, p = c.Space.Count;
        var (x, w, y) = (c.X, c.W, c.Y);
        var trailing = new Window(window.To.AddMonths(-12), window.To);
        var pareto = s.ParetoIn(currency, window, OwnerGroup.Of(ownerId));
        decimal? companyNrr = Nrr(c.Opening.Sum(), c.Closing.Sum());
        decimal? trailingNrr = TrailingNrr(s, ownerId, trailing, currency);
        var indexes = Enumerable.Range(0, n).Where(i => c.Owners[i] == ownerId).ToArray();
        var others = Enumerable.Range(0, n).Where(i => c.Owners[i] != ownerId).ToArray();
        decimal opening0 = indexes.Sum(i => c.Opening[i]), closing0 = indexes.Sum(i => c.Closing[i]);
        if (indexes.Length == 0 || others.Length < 2 * Neighbours)
            return new DeepDiveReport(ownerId, window, currency, s.Position, indexes.Length, opening0, closing0, Nrr(opening0, closing0), null, null, null, null, false,
                indexes.Length == 0 ? "the owner held no active account on the window's first day" : "too few other accounts in the company's cohort to compare with",
                companyNrr, trailingNrr, trailing, bootstrap, seed, [], pareto, c.Rates);

        double ownerWeight = indexes.Sum(i => w[i]);
        // The book's features in their own units: the standardised average times the spread, plus the mean.
        var book = c.Space.Names.Select((name, j) =>
        {
            double std = indexes.Sum(i => w[i] * x[i * p + j]) / ownerWeight;
            return new BookFeature(name, c.Mean[j] + std * c.Scale[j], c.Mean[j]);
        }).ToList();
        int kNear = Neighbours;
        var predicted = new double[n];
        var neighbours = new int[indexes.Length][];
        var spread = new double[indexes.Length];
        Parallel.For(0, indexes.Length, () => (new double[kNear], new int[kNear]), (a, _, heap) =>
        {
            int i = indexes[a];
            var (dist, who) = heap;
            int size = 0;
            // The k nearest by a bounded max-heap: one pass over the other owners' accounts, no sort of all of them.
            foreach (int o in others)
            {
                double d = 0;
                for (int j = 0; j < p; j++) { double t = x[i * p + j] - x[o * p + j]; d += t * t; }
                if (size < kNear) { Push(dist, who, ref size, d, o); continue; }
                if (d < dist[0] || (d == dist[0] && o < who[0])) { Pop(dist, who, ref size); Push(dist, who, ref size, d, o); }
            }
            var near = who[..size];
            Array.Sort(near); // a fixed order for the sums below, whatever order the heap left
            double den = near.Sum(o => w[o]), mean = near.Sum(o => w[o] * y[o]) / den;
            (predicted[i], neighbours[a], spread[a]) = (mean, near, near.Sum(o => w[o] * (y[o] - mean) * (y[o] - mean)) / den);
            return heap;
        }, _ => { });
        var residual = indexes.Select(i => w[i] * (y[i] - predicted[i])).ToArray();
        var weights = indexes.Select(i => w[i]).ToArray();
        double expected = indexes.Sum(i => w[i] * predicted[i]) / ownerWeight;
        double difference = residual.Sum() / ownerWeight;
        // The benchmark is itself an estimate: expected = Σ c_o · r_o over the neighbours o, so its variance is
        // Σ c_o² σ_o², σ_o² taken from the spread of the neighbourhoods o belongs to. Added to every bootstrap draw.
        var share = new Dictionary<int, (double C, double Spread, int Count)>();
        for (int a = 0; a < indexes.Length; a++)
        {
            double den = neighbours[a].Sum(o => w[o]);
            foreach (var o in neighbours[a])
            {
                var (co, so, no) = share.GetValueOrDefault(o);
                share[o] = (co + w[indexes[a]] / ownerWeight * w[o] / den, so + spread[a], no + 1);
            }
        }
        double benchmarkSd = Math.Sqrt(share.Keys.Order().Sum(o => share[o].C * share[o].C * share[o].Spread / share[o].Count));
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
        return new DeepDiveReport(ownerId, window, currency, s.Position, indexes.Length, opening0, closing0, Nrr(opening0, closing0), expected, difference, low, high,
            effect, verdict, companyNrr, trailingNrr, trailing, bootstrap, seed, book, pareto, c.Rates);
    }

    private static void Push(double[] dist, int[] who, ref int size, double d, int o)
    {
        int i = size++;
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!Greater(d, o, dist[parent], who[parent])) break;
            (dist[i], who[i]) = (dist[parent], who[parent]);
            i = parent;
        }
        (dist[i], who[i]) = (d, o);
    }

    private static void Pop(double[] dist, int[] who, ref int size)
    {
        var (d, o) = (dist[--size], who[size]);
        int i = 0;
        while (true)
        {
            int l = 2 * i + 1, r = l + 1, m = i;
            var (md, mo) = (d, o);
            if (l < size && Greater(dist[l], who[l], md, mo)) { m = l; (md, mo) = (dist[l], who[l]); }
            if (r < size && Greater(dist[r], who[r], md, mo)) m = r;
            if (m == i) break;
            (dist[i], who[i]) = (dist[m], who[m]);
            i = m;
        }
        (dist[i], who[i]) = (d, o);
    }

    // Ties broken by index, so the neighbours do not depend on the order the threads meet them.
    private static bool Greater(double d1, int o1, double d2, int o2) => d1 > d2 || (d1 == d2 && o1 > o2);

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static decimal? Nrr(decimal opening, decimal closing) => opening == 0 ? null : closing / opening;

    /// <summary>The owner's NRR over the trailing window: the same cohort (spec §6, opening rates) as the window's own.</summary>
    private static decimal? TrailingNrr(LedgerSnapshot s, string? ownerId, Window trailing, string currency)
    {
        var c = Prepare(s, trailing, currency);
        decimal opening = 0, closing = 0;
        for (int i = 0; i < c.Accounts.Length; i++)
            if (c.Owners[i] == ownerId) (opening, closing) = (opening + c.Opening[i], closing + c.Closing[i]);
        return Nrr(opening, closing);
    }
}
