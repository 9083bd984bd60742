namespace RevenueLedger.Domain.Reporting;

public enum MovementKind { New, Expansion, Contraction, Churn, Reactivation }

/// <summary>A reason's part of a churn movement's MRR.</summary>
public readonly record struct ChurnShare(string Reason, decimal Mrr);

/// <summary>One account's netted change on one effective day (spec §4): <c>Before</c> = MRR(d), <c>After</c> = MRR(d+1).</summary>
public sealed record Movement(DateOnly Day, MovementKind Kind, decimal Amount, decimal Before, decimal After, ChurnShare[] ChurnShares, string? ChurnReason);

/// <summary>
/// An account's MRR over time, its netted daily movements and its owner timeline, folded from its active
/// (not reversed) events. Every report is a sum over these.
/// </summary>
public sealed class AccountHistory
{
    public const string UnspecifiedReason = "unspecified";

    private readonly DateOnly[] _changeDays;   // days whose changes alter MRR, ascending
    private readonly decimal[] _mrrAfter;      // MRR(d+1) for each change day
    private readonly DateOnly[] _ownerDays;    // distinct OwnerAssigned dates, ascending
    private readonly string?[] _owners;        // owner in force from that day (the last one recorded that day)

    private AccountHistory(string accountId, List<Movement> movements, DateOnly[] changeDays, decimal[] mrrAfter, DateOnly[] ownerDays, string?[] owners)
    {
        AccountId = accountId;
        Movements = movements;
        _changeDays = changeDays;
        _mrrAfter = mrrAfter;
        _ownerDays = ownerDays;
        _owners = owners;
    }

    public string AccountId { get; }

    public IReadOnlyList<Movement> Movements { get; }

    public IReadOnlyList<DateOnly> OwnerChangeDays => _ownerDays;

    /// <summary>MRR in force at the start of day d: every active event with effectiveDate &lt; d applied.</summary>
    public decimal MrrAt(DateOnly d)
    {
        int i = UpperBound(_changeDays, d.AddDays(-1));
        return i < 0 ? 0 : _mrrAfter[i];
    }

    /// <summary>The owner during day d: the latest OwnerAssigned with effectiveDate ≤ d; null when none.</summary>
    public string? OwnerDuring(DateOnly d)
    {
        int i = UpperBound(_ownerDays, d);
        return i < 0 ? null : _owners[i];
    }

    /// <summary>Index of the last element ≤ d, or −1.</summary>
    private static int UpperBound(DateOnly[] days, DateOnly d)
    {
        int i = Array.BinarySearch(days, d);
        return i >= 0 ? i : ~i - 1;
    }

    /// <summary>Index of the first movement on or after d.</summary>
    public int FirstMovementFrom(DateOnly d)
    {
        int lo = 0, hi = Movements.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (Movements[mid].Day < d) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>
    /// Folds the account's active events, given in commit (stream) order. Reversed events and the reversals
    /// themselves must already be left out: a reversal removes its target as if it had never happened.
    /// </summary>
    public static AccountHistory Build(string accountId, IReadOnlyList<LedgerEvent> activeInCommitOrder)
    {
        // Stable sort by effective date keeps commit order within a day, as the spec orders (effectiveDate, position).
        var contractEvents = new List<ContractEvent>();
        var ownerEvents = new List<OwnerAssigned>();
        foreach (var e in activeInCommitOrder)
        {
            if (e is ContractEvent c) contractEvents.Add(c);
            else if (e is OwnerAssigned o) ownerEvents.Add(o);
        }
        var ordered = contractEvents.OrderBy(e => e.EffectiveDate).ToList();

        var movements = new List<Movement>();
        var changeDays = new List<DateOnly>();
        var mrrAfter = new List<decimal>();
        var contractMrr = new Dictionary<string, decimal>(StringComparer.Ordinal);
        decimal total = 0;
        bool everActive = false;
        int i = 0;
        while (i < ordered.Count)
        {
            var day = ordered[i].EffectiveDate;
            decimal before = total;
            List<(string Reason, decimal Removed)>? churns = null;
            for (; i < ordered.Count && ordered[i].EffectiveDate == day; i++)
            {
                var e = ordered[i];
                decimal current = contractMrr.GetValueOrDefault(e.ContractId);
                decimal next = e switch
                {
                    ContractStarted s => s.Mrr,
                    ContractExpanded x => current + x.Amount,
                    ContractContracted c => current - c.Amount,
                    ContractChurned => 0m,
                    _ => current,
                };
                if (e is ContractChurned ch)
                    (churns ??= []).Add((ch.Reason ?? UnspecifiedReason, current));
                contractMrr[e.ContractId] = next;
                total += next - current;
            }
            if (total == before) continue;
            changeDays.Add(day);
            mrrAfter.Add(total);
            movements.Add(Classify(day, before, total, everActive, churns));
            if (total > 0) everActive = true;
        }

        var owners = ownerEvents.OrderBy(o => o.EffectiveDate).ToList();
        var ownerDays = new List<DateOnly>();
        var ownerIds = new List<string?>();
        foreach (var o in owners)
        {
            if (ownerDays.Count > 0 && ownerDays[^1] == o.EffectiveDate) ownerIds[^1] = o.OwnerId;
            else { ownerDays.Add(o.EffectiveDate); ownerIds.Add(o.OwnerId); }
        }
        return new AccountHistory(accountId, movements, [.. changeDays], [.. mrrAfter], [.. ownerDays], [.. ownerIds]);
    }

    private static Movement Classify(DateOnly day, decimal a, decimal b, bool everActive, List<(string Reason, decimal Removed)>? churns)
    {
        if (a == 0) return new Movement(day, everActive ? MovementKind.Reactivation : MovementKind.New, b, a, b, [], null);
        if (b > a) return new Movement(day, MovementKind.Expansion, b - a, a, b, [], null);
        if (b > 0) return new Movement(day, MovementKind.Contraction, a - b, a, b, [], null);
        var (shares, primary) = SplitChurn(a, churns ?? []);
        return new Movement(day, MovementKind.Churn, a, a, b, shares, primary);
    }

    /// <summary>
    /// Splits the churned MRR over the day's churn reasons in proportion to the MRR each removed; shares are
    /// rounded to 4 places and the largest takes the rounding remainder so that they add up to the movement exactly.
    /// The account counts once, under the reason that removed the most (ties: alphabetical).
    /// </summary>
    private static (ChurnShare[] Shares, string Primary) SplitChurn(decimal churned, List<(string Reason, decimal Removed)> churns)
    {
        if (churns.Count == 1) return ([new ChurnShare(churns[0].Reason, churned)], churns[0].Reason);
        var byReason = churns.GroupBy(c => c.Reason, StringComparer.Ordinal)
            .Select(g => (Reason: g.Key, Removed: g.Sum(x => x.Removed)))
            .OrderByDescending(x => x.Removed).ThenBy(x => x.Reason, StringComparer.Ordinal)
            .ToList();
        decimal removedTotal = byReason.Sum(x => x.Removed);
        if (byReason.Count == 0 || removedTotal <= 0)
            return ([new ChurnShare(UnspecifiedReason, churned)], UnspecifiedReason);
        var shares = new ChurnShare[byReason.Count];
        decimal allocated = 0;
        for (int k = 1; k < byReason.Count; k++)
        {
            var part = byReason[k].Removed == removedTotal ? churned : Math.Round(churned * byReason[k].Removed / removedTotal, 4, MidpointRounding.ToEven);
            shares[k] = new ChurnShare(byReason[k].Reason, part);
            allocated += part;
        }
        shares[0] = new ChurnShare(byReason[0].Reason, churned - allocated);
        return (shares, byReason[0].Reason);
    }
}
