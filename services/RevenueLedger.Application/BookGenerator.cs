using RevenueLedger.Domain;

namespace RevenueLedger.Application;

public sealed record BookOptions(int Accounts, int Owners, DateOnly Start, int Months, int Seed, double Intensity = 1.0, IReadOnlyList<string>? Currencies = null)
{
    /// <summary>The accounts' currencies, the first one the book's base; USD alone unless given.</summary>
    public IReadOnlyList<string> CurrencyList => Currencies is { Count: > 0 } c ? c : ["USD"];

    public void Validate()
    {
        foreach (var c in CurrencyList)
            if (!CurrencyCode.IsValid(c)) throw new LedgerUsageException($"--currencies: '{c}' is not a three-letter upper-case ISO 4217 code");
        if (CurrencyList.Distinct(StringComparer.Ordinal).Count() != CurrencyList.Count) throw new LedgerUsageException("--currencies: each currency once");
        if (Accounts < 1) throw new LedgerUsageException("--accounts must be at least 1");
        if (Owners < 1 || Owners > 999) throw new LedgerUsageException("--owners must be between 1 and 999");
        if (Months < 1 || Months > 600) throw new LedgerUsageException("--months must be between 1 and 600");
        if (Intensity is <= 0 or > 20) throw new LedgerUsageException("--intensity must be in (0, 20]");
        if (Start.AddMonths(Months) > Dates.Max) throw new LedgerUsageException("--start plus --months goes past 2999-12-31");
    }
}

/// <summary>
/// A realistic subscription book, deterministic for a seed: an installed base plus new logos, expansions,
/// contractions, cross-sells, churn with skewed reasons, win-backs, handovers between owners, late (back-dated)
/// expansions and handovers, and mistakes reversed shortly after. Every event it emits is valid in submission order.
/// </summary>
public static class BookGenerator
{
    // Skewed as real churn is: a few reasons explain most of it.
    private static readonly (string? Reason, int Weight)[] ChurnReasons =
        [("cost", 30), ("features", 22), ("fit", 15), ("support", 10), ("change-in-needs", 9), ("financial-struggle", 7), ("competitor", 5), (null, 2)];

    private static readonly string[] Plans = ["starter", "growth", "pro", "enterprise"];

    private sealed class Contract(string id, decimal committed)
    {
        public string Id { get; } = id;
        /// <summary>MRR counting only events already emitted and never reversed: contractions stay valid whatever arrives late.</summary>
        public decimal Committed { get; set; } = committed;
    }

    private sealed class Account(string id)
    {
        public string Id { get; } = id;
        public List<Contract> Active { get; } = [];
        public int Contracts { get; set; }
        public string Owner { get; set; } = "";
        public bool Churned { get; set; }
        public int SignupMonth { get; set; }
        public string Currency { get; set; } = "USD";
    }

    private sealed record Pending(int ReleaseMonth, DateOnly Date, long Seq, LedgerEvent Event);

    public static IEnumerable<LedgerEvent> Generate(BookOptions o)
    {
        o.Validate();
        var rng = new Random(o.Seed);
        long seq = 0;
        string NextId() => $"ev-{o.Seed}-{++seq:D8}";
        string OwnerName(int i) => $"csm-{i:D2}";
        var accounts = Enumerable.Range(1, o.Accounts).Select(i => new Account($"acct-{i:D5}")).ToList();
        foreach (var a in accounts)
        {
            // 40% installed base at the start, the rest signs up over the period.
            a.SignupMonth = rng.NextDouble() < 0.4 ? 0 : rng.Next(0, o.Months);
            a.Owner = OwnerName(1 + rng.Next(o.Owners));
        }
        // Currencies and rates draw from a generator of their own, so a one-currency book is the same book as before,
        // and a book in several currencies has the same accounts and movements, only in other currencies.
        var currencies = o.CurrencyList;
        var fx = new Random(unchecked((o.Seed * 7919) + 17));
        foreach (var a in accounts) a.Currency = currencies.Count == 1 ? currencies[0] : currencies[fx.Next(currencies.Count)];
        // Each currency's worth in a hidden unit, walking ±2% a month; every ordered pair is quoted monthly from it.
        var worth = currencies.ToDictionary(c => c, c => c == currencies[0] ? 1m : 0.5m + (fx.Next(0, 1_000_001) / 1_000_000m), StringComparer.Ordinal);
        double P(double p) => Math.Min(0.9, p * o.Intensity);
        // Money is drawn in decimal: a uniform fraction in millionths, never a binary floating-point value.
        decimal Fraction() => rng.Next(0, 1_000_001) / 1_000_000m;
        decimal Amount(decimal min, decimal max) => Math.Round(min + ((max - min) * Fraction()), 2);
        var delayed = new List<Pending>();

        for (int month = 0; month < o.Months; month++)
        {
            var monthStart = o.Start.AddMonths(month);
            int days = DateTime.DaysInMonth(monthStart.Year, monthStart.Month);
            DateOnly Day() => monthStart.AddDays(rng.Next(days));
            var batch = new List<(DateOnly Date, long Seq, LedgerEvent Event)>();
            void Emit(DateOnly date, LedgerEvent e) => batch.Add((date, seq, e));
            if (currencies.Count > 1)
            {
                // The first month's rates date back before the installed base's first contracts (up to 400 days early).
                var early = o.Start.AddDays(-401);
                var rateDay = month == 0 ? new DateOnly(early.Year, early.Month, 1) : monthStart;
                foreach (var c in currencies) worth[c] *= 1 + (fx.Next(-20_000, 20_001) / 1_000_000m);
                foreach (var c in currencies)
                    foreach (var q in currencies)
                        if (c != q) Emit(rateDay, new FxRateRecorded(NextId(), c, q, rateDay, Math.Round(worth[c] / worth[q], 6), Metadata.Empty));
            }

            foreach (var a in accounts)
            {
                if (a.SignupMonth > month) continue;
                if (a.SignupMonth == month && a.Contracts == 0)
                {
                    var d = month == 0 ? o.Start.AddDays(-rng.Next(1, 400)) : Day();
                    Emit(d, new OwnerAssigned(NextId(), a.Id, a.Owner, d, Metadata.Empty));
                    Start(a, d);
                    continue;
                }
                if (rng.NextDouble() < P(0.008))
                {
                    // Handover; one in five is recorded late, dated back to the start of the month.
                    var next = OwnerName(1 + rng.Next(o.Owners));
                    if (next != a.Owner)
                    {
                        a.Owner = next;
                        bool late = rng.NextDouble() < 0.2;
                        var d = late ? monthStart : Day();
                        var e = new OwnerAssigned(NextId(), a.Id, next, d, Metadata.Empty);
                        if (late) delayed.Add(new Pending(month + 1, d, seq, e)); else Emit(d, e);
                    }
                }
                if (a.Churned)
                {
                    if (rng.NextDouble() < P(0.02)) { a.Churned = false; Start(a, Day()); } // win-back: a new contract
                    continue;
                }
                double roll = rng.NextDouble();
                var c = a.Active[rng.Next(a.Active.Count)];
                if (roll < P(0.012))
                {
                    // Churn: usually the whole account on one day; sometimes just one of several contracts.
                    var d = Day();
                    var reason = PickReason(rng);
                    var leaving = a.Active.Count > 1 && rng.NextDouble() < 0.4 ? [c] : a.Active.ToList();
                    foreach (var x in leaving)
                    {
                        Emit(d, new ContractChurned(NextId(), a.Id, x.Id, d, reason, Metadata.Empty));
                        a.Active.Remove(x);
                    }
                    a.Churned = a.Active.Count == 0;
                }
                else if (roll < P(0.012) + P(0.05))
                {
                    var d = Day();
                    var amount = Math.Max(1m, Math.Round(c.Committed * Amount(0.05m, 0.35m), 2));
                    var e = new ContractExpanded(NextId(), a.Id, c.Id, d, amount, a.Currency, rng.NextDouble() < 0.7 ? "seats" : "upsell", Metadata.Empty);
                    if (rng.NextDouble() < 0.06)
                    {
                        delayed.Add(new Pending(month + 1 + rng.Next(3), d, seq, e)); // billing sends it late
                    }
                    else
                    {
                        Emit(d, e);
                        c.Committed += amount;
                    }
                }
                else if (roll < P(0.012) + P(0.05) + P(0.025))
                {
                    var d = Day();
                    var amount = Math.Round(c.Committed * Amount(0.05m, 0.3m), 2);
                    if (amount > 0 && c.Committed - amount > 0)
                    {
                        Emit(d, new ContractContracted(NextId(), a.Id, c.Id, d, amount, a.Currency, rng.NextDouble() < 0.6 ? "downgrade" : "seats", Metadata.Empty));
                        c.Committed -= amount;
                    }
                }
                else if (roll < P(0.012) + P(0.05) + P(0.025) + P(0.008))
                {
                    Start(a, Day()); // cross-sell: a second product on the same account
                }
                else if (roll < P(0.012) + P(0.05) + P(0.025) + P(0.008) + P(0.004))
                {
                    // A keying mistake, reversed once noticed; it never counts towards committed MRR.
                    var d = Day();
                    var wrong = new ContractExpanded(NextId(), a.Id, c.Id, d, Math.Round(c.Committed * 10, 2) + 1, a.Currency, "seats", Metadata.Empty);
                    Emit(d, wrong);
                    delayed.Add(new Pending(month, d, seq, new EventReversed(NextId(), a.Id, wrong.EventId, "entered-in-error", Metadata.Empty)));
                }
            }

            foreach (var e in batch.OrderBy(x => x.Date).ThenBy(x => x.Seq)) yield return e.Event;
            // Late arrivals come after the month's regular feed, in the order they were produced.
            foreach (var p in delayed.Where(p => p.ReleaseMonth <= month).OrderBy(p => p.Seq).ToList())
            {
                yield return p.Event;
                delayed.Remove(p);
            }

            void Start(Account a, DateOnly d)
            {
                a.Contracts++;
                // 90 to 800 with a long tail (most contracts small), computed in decimal like all money.
                var u = Fraction();
                var mrr = Math.Round(90m + (710m * u * u * u), 2);
                var contract = new Contract($"{a.Id}-c{a.Contracts}", mrr);
                a.Active.Add(contract);
                // Billing systems attach their own references; the ledger keeps them verbatim.
                var meta = rng.NextDouble() < 0.3
                    ? Metadata.From([new("source", "billing"), new("plan", Plans[rng.Next(Plans.Length)]), new("invoice", $"INV-{seq:D8}")])
                    : Metadata.Empty;
                Emit(d, new ContractStarted(NextId(), a.Id, contract.Id, d, mrr, a.Currency, meta));
            }
        }
        foreach (var p in delayed.OrderBy(p => p.Seq)) yield return p.Event;
    }

    private static string? PickReason(Random rng)
    {
        int total = ChurnReasons.Sum(r => r.Weight), roll = rng.Next(total);
        foreach (var (reason, weight) in ChurnReasons)
        {
            if (roll < weight) return reason;
            roll -= weight;
        }
        return null;
    }
}
