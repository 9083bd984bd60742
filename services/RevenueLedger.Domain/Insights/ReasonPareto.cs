using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Domain.Insights;

public static class LossKinds
{
    public const string Churn = "churn", Contraction = "contraction", Lost = "lost";

    /// <summary>`lost` is churn and contraction together: all MRR an existing book lost.</summary>
    public static readonly IReadOnlyList<string> All = [Churn, Contraction, Lost];
}

/// <summary>One reason's part of a kind of loss: MRR (reporting currency), logos under their main reason, Pareto shares.</summary>
public sealed record ParetoRow(string Kind, string Reason, string Label, string Function, decimal Mrr, int Logos, decimal Share, decimal CumulativeShare, bool VitalFew);

/// <summary>The same summed by the function responsible for the reasons.</summary>
public sealed record FunctionRow(string Kind, string Function, decimal Mrr, int Logos, decimal Share, bool ControllableByOwner);

public sealed record ReasonParetoReport(
    Window Window, OwnerGroup Owner, string Currency, decimal ChurnMrr, decimal ContractionMrr,
    IReadOnlyList<ParetoRow> Rows, IReadOnlyList<FunctionRow> Functions, IReadOnlyList<RateUsed> Rates)
{
    public decimal LostMrr => ChurnMrr + ContractionMrr;
}

/// <summary>
/// Churn and contraction by reason and by responsible function for a window, company-wide or for one owner. Each
/// movement is the bridge's (spec §4, §7: netted per day, attributed to the owner during its day), split over its
/// reasons as spec §4 splits churn — a contraction over that day's contractions and churned contracts in proportion to
/// the MRR each removed (docs/semantics.md §12) — so the totals are the bridge's churn and contraction lines exactly.
/// Amounts convert at the window's opening rate like every other line (spec §10).
/// </summary>
public static class ReasonPareto
{
    /// <summary>The vital few: the largest reasons, down to the first whose cumulative MRR reaches this share.</summary>
    public const decimal VitalShare = 0.8m;

    public static ReasonParetoReport Compute(IEnumerable<AccountHistory> accounts, Window window, OwnerGroup owner, ReasonCatalogue catalogue,
        string currency, FxRateTable rates, long asOfPosition = long.MaxValue)
    {
        // Native sums per (account currency, kind, reason); converted once per currency at the end (exact: linear).
        var sums = new Dictionary<(string Currency, string Kind, string Reason), (decimal Mrr, int Logos)>();
        foreach (var account in accounts)
        {
            var movements = account.Movements;
            for (int i = account.FirstMovementFrom(window.From); i < movements.Count && movements[i].Day < window.To; i++)
            {
                var m = movements[i];
                if (m.Kind is not (MovementKind.Churn or MovementKind.Contraction)) continue;
                if (!owner.IsAll && account.OwnerDuring(m.Day) != owner.Id) continue;
                string kind = m.Kind == MovementKind.Churn ? LossKinds.Churn : LossKinds.Contraction;
                var shares = m.ChurnShares.Length > 0 ? m.ChurnShares : [new ChurnShare(AccountHistory.UnspecifiedReason, m.Amount)];
                string primary = m.ChurnReason ?? shares[0].Reason;
                foreach (var share in shares)
                {
                    int logo = share.Reason == primary ? 1 : 0;
                    Add(sums, (account.Currency, kind, share.Reason), share.Mrr, logo);
                    Add(sums, (account.Currency, LossKinds.Lost, share.Reason), share.Mrr, logo);
                }
            }
        }
        var used = new List<RateUsed>();
        var factor = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var c in sums.Keys.Select(k => k.Currency).Distinct())
        {
            if (c == currency || c.Length == 0) { factor[c] = 1; continue; }
            var rate = rates.InForce(c, currency, window.From, asOfPosition) ?? throw new FxRateMissingException(c, currency, window.From);
            factor[c] = rate.Rate;
            used.Add(new RateUsed(c, currency, window.From, rate.Rate, rate.Position));
        }
        var converted = sums
            .GroupBy(kv => (kv.Key.Kind, kv.Key.Reason), kv => (Mrr: kv.Value.Mrr * factor[kv.Key.Currency], kv.Value.Logos))
            .ToDictionary(g => g.Key, g => (Mrr: g.Sum(x => x.Mrr), Logos: g.Sum(x => x.Logos)));

        var rows = new List<ParetoRow>();
        var functions = new List<FunctionRow>();
        foreach (var kind in LossKinds.All)
        {
            var ofKind = converted.Where(kv => kv.Key.Kind == kind).Select(kv => (kv.Key.Reason, kv.Value.Mrr, kv.Value.Logos))
                .OrderByDescending(x => x.Mrr).ThenBy(x => x.Reason, StringComparer.Ordinal).ToList();
            decimal total = ofKind.Sum(x => x.Mrr), before = 0;
            foreach (var (reason, mrr, logos) in ofKind)
            {
                var entry = catalogue[reason];
                bool vital = total > 0 && before < VitalShare * total;
                before += mrr;
                rows.Add(new ParetoRow(kind, reason, entry.Label, entry.Function, mrr, logos, Share(mrr, total), Share(before, total), vital));
            }
            functions.AddRange(ofKind.GroupBy(x => catalogue[x.Reason].Function, StringComparer.Ordinal)
                .Select(g => (Function: g.Key, Mrr: g.Sum(x => x.Mrr), Logos: g.Sum(x => x.Logos)))
                .OrderByDescending(x => x.Mrr).ThenBy(x => x.Function, StringComparer.Ordinal)
                .Select(x => new FunctionRow(kind, x.Function, x.Mrr, x.Logos, Share(x.Mrr, total), ResponsibleFunctions.IsControllableByOwner(x.Function))));
        }
        decimal Total(string kind) => converted.Where(kv => kv.Key.Kind == kind).Sum(kv => kv.Value.Mrr);
        return new ReasonParetoReport(window, owner, currency, Total(LossKinds.Churn), Total(LossKinds.Contraction), rows, functions, used);
    }

    private static decimal Share(decimal part, decimal total) => total == 0 ? 0 : part / total;

    private static void Add(Dictionary<(string, string, string), (decimal Mrr, int Logos)> sums, (string, string, string) key, decimal mrr, int logos)
    {
        var (m, l) = sums.GetValueOrDefault(key);
        sums[key] = (m + mrr, l + logos);
    }
}
