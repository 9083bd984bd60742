using System.Globalization;
using RevenueLedger.Domain;

namespace RevenueLedger.Application.Insights;

public enum SignalMode { Driven, Noise }

public sealed record SignalBookOptions(int Accounts, int Owners, DateOnly Start, int Months, int Seed, SignalMode Mode)
{
    /// <summary>The owner whose accounts churn and contract more than comparable ones (an effect of the owner).</summary>
    public const string Underperformer = "owner-01";

    /// <summary>The owner handed a book of poorly fitting accounts (low NRR that is not the owner's doing).</summary>
    public const string BadFitBook = "owner-02";

    public void Validate()
    {
        if (Accounts < 1) throw new LedgerUsageException("--accounts must be at least 1");
        if (Owners is < 3 or > 99) throw new LedgerUsageException("--owners must be between 3 and 99 for a book with signals (owner-01 and owner-02 have roles)");
        if (Months is < 6 or > 600) throw new LedgerUsageException("--months must be between 6 and 600 for a book with signals");
        if (Start.AddMonths(Months) > Dates.Max) throw new LedgerUsageException("--start plus --months goes past 2999-12-31");
    }
}

/// <summary>
/// A book whose churn has a known cause, for testing the health score and the deep dive against the truth
/// (docs/insights.md, "The generating model"). Each account has a fit rating (1–5, a signal on its first day) and a
/// latent health that drifts month by month (an AR(1), 0.8 × last month + 0.6 × a standard normal, around a level set by the fit); a `usage` signal on the first of
/// each month shows the health with noise. Each month an account churns, contracts or expands with probabilities that
/// fall or rise with its health. owner-01's accounts churn and contract 2.5× as often as their signals say;
/// owner-02 is handed mostly fit-1 and fit-2 accounts. In <see cref="SignalMode.Noise"/> the signals are random and
/// every probability is constant: nothing can predict churn. Deterministic for a seed; USD only; valid in order.
/// </summary>
public static class SignalBook
{
    private static readonly double[] FitWeights = [0.10, 0.15, 0.30, 0.25, 0.20];
    private static readonly double[] BadFitWeights = [0.45, 0.35, 0.10, 0.05, 0.05];

    /// <summary>Monthly probabilities in the noise book: about the driven book's averages.</summary>
    private const double NoiseChurn = 0.012, NoiseContraction = 0.03, NoiseExpansion = 0.04;

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>The driven book's monthly churn probability at latent health h (before the owner's factor).</summary>
    public static double ChurnProbability(double h) => Sigmoid(-4.5 - 2.0 * h);

    public static double ContractionProbability(double h) => Sigmoid(-4.4 - 0.8 * h);

    public static double ExpansionProbability(double h) => Sigmoid(-3.2 + 0.6 * h);

    public const double UnderperformerFactor = 2.5;

    private sealed class Account(string id, string owner, int fit, int firstMonth)
    {
        public string Id { get; } = id;
        public string Owner { get; } = owner;
        public int Fit { get; } = fit;
        public int FirstMonth { get; } = firstMonth;
        public double Drift { get; set; }
        public decimal Mrr { get; set; }
        public bool Churned { get; set; }
    }

    public static IEnumerable<LedgerEvent> Generate(SignalBookOptions o)
    {
        o.Validate();
        var rng = new Random(o.Seed);
        long next = 0;
        string Id() => "g" + (++next).ToString(CultureInfo.InvariantCulture);
        var accounts = new List<Account>(o.Accounts);
        for (int i = 0; i < o.Accounts; i++)
        {
            string owner = "owner-" + (1 + rng.Next(o.Owners)).ToString("00", CultureInfo.InvariantCulture);
            int fit = 1 + Pick(rng, owner == SignalBookOptions.BadFitBook && o.Mode == SignalMode.Driven ? BadFitWeights : FitWeights);
            // Most of the book is there from the start; the rest signs up over the first two years.
            int first = rng.NextDouble() < 0.6 ? 0 : rng.Next(Math.Min(24, o.Months - 3));
            accounts.Add(new Account($"acct-{i + 1:000000}", owner, fit, first) { Drift = Normal(rng) });
        }
        var month = new List<(DateOnly Day, int Order, LedgerEvent Event)>();
        for (int m = 0; m < o.Months; m++)
        {
            month.Clear();
            var first = o.Start.AddMonths(m);
            int days = DateTime.DaysInMonth(first.Year, first.Month);
            foreach (var a in accounts)
            {
                if (m < a.FirstMonth || a.Churned) continue;
                var meta = Metadata.Empty;
                if (m == a.FirstMonth)
                {
                    a.Mrr = Math.Max(10m, Math.Round((decimal)(100 * Math.Exp(0.8 * Normal(rng))), 2));
                    month.Add((first, 0, new OwnerAssigned(Id(), a.Id, a.Owner, first, meta)));
                    month.Add((first, 1, new ContractStarted(Id(), a.Id, "c1", first, a.Mrr, "USD", meta)));
                    int fitSignal = o.Mode == SignalMode.Driven ? a.Fit : 1 + rng.Next(5);
                    month.Add((first, 2, new SignalRecorded(Id(), a.Id, "fit-rating", fitSignal, first, meta)));
                }
                else
                {
                    a.Drift = 0.8 * a.Drift + 0.6 * Normal(rng);
                }
                double h = 0.5 * (a.Fit - 3) + a.Drift;
                double usage = o.Mode == SignalMode.Driven ? 50 + 15 * h + 4 * Normal(rng) : 50 + 15 * Normal(rng);
                month.Add((first, 3, new SignalRecorded(Id(), a.Id, "usage", Math.Round((decimal)Math.Max(0, usage), 1), first, meta)));

                double factor = o.Mode == SignalMode.Driven && a.Owner == SignalBookOptions.Underperformer ? UnderperformerFactor : 1;
                double churn = o.Mode == SignalMode.Driven ? ChurnProbability(h) * factor : NoiseChurn;
                double contraction = o.Mode == SignalMode.Driven ? ContractionProbability(h) * factor : NoiseContraction;
                double expansion = o.Mode == SignalMode.Driven ? ExpansionProbability(h) : NoiseExpansion;
                // The first month's movements would fall on the start day or before it: the account starts clean.
                if (m == a.FirstMonth) continue;
                var day = first.AddDays(1 + rng.Next(days - 1));
                double u = rng.NextDouble();
                if (u < churn)
                {
                    a.Churned = true;
                    month.Add((day, 4, new ContractChurned(Id(), a.Id, "c1", day, ChurnReason(rng, a, o.Mode), meta)));
                }
                else if (u < churn + contraction)
                {
                    var amount = Math.Round(a.Mrr * (decimal)(0.1 + 0.2 * rng.NextDouble()), 2);
                    if (amount > 0 && amount < a.Mrr)
                    {
                        a.Mrr -= amount;
                        month.Add((day, 4, new ContractContracted(Id(), a.Id, "c1", day, amount, "USD", ChurnReason(rng, a, o.Mode), meta)));
                    }
                }
                else if (u < churn + contraction + expansion)
                {
                    var amount = Math.Max(1m, Math.Round(a.Mrr * (decimal)(0.1 + 0.2 * rng.NextDouble()), 2));
                    a.Mrr += amount;
                    month.Add((day, 4, new ContractExpanded(Id(), a.Id, "c1", day, amount, "USD", null, meta)));
                }
            }
            // By day within the month (then the order above), so the log runs roughly in business time.
            foreach (var (_, _, e) in month.OrderBy(x => x.Day).ThenBy(x => x.Order)) yield return e;
        }
    }

    /// <summary>Poor fit churns for fit; an underperforming owner's accounts leave over support and adoption.</summary>
    private static string ChurnReason(Random rng, Account a, SignalMode mode)
    {
        double u = rng.NextDouble();
        if (mode == SignalMode.Driven && a.Fit <= 2 && u < 0.6) return "fit";
        if (mode == SignalMode.Driven && a.Owner == SignalBookOptions.Underperformer && u < 0.5) return u < 0.3 ? "support" : "adoption";
        return (u * 6) switch
        {
            < 1.6 => "cost",
            < 3.0 => "features",
            < 3.8 => "support",
            < 4.5 => "change-in-needs",
            < 5.2 => "financial-struggle",
            < 5.6 => "adoption",
            _ => "competitor",
        };
    }

    private static int Pick(Random rng, double[] weights)
    {
        double u = rng.NextDouble(), sum = 0;
        for (int i = 0; i < weights.Length; i++)
            if (u < (sum += weights[i])) return i;
        return weights.Length - 1;
    }

    /// <summary>A standard normal draw (Box–Muller), from the seeded generator only.</summary>
    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
