using JasperFx.Events;
using Marten.Events.Aggregation;
using RevenueLedger.Domain;

namespace RevenueLedger.Benchmarks;

/// <summary>One document per account: its contracts' MRR, its owner and the MRR after each change (what a report needs of it).</summary>
public sealed class AccountRevenue
{
    public string Id { get; set; } = "";

    public string? Owner { get; set; }

    public Dictionary<string, decimal> Contracts { get; set; } = [];

    public decimal Mrr { get; set; }

    public List<MrrChange> History { get; set; } = [];
}

public sealed record MrrChange(DateOnly Date, decimal Mrr, string EventId);

/// <summary>
/// The Marten projection the rebuild is measured with: per account, the state the ledger's account histories keep.
/// Lighter than the ledger's projector, which also folds every window's NRR, bridge and churn-reason rows per owner; a
/// reversal is recorded, not undone.
/// </summary>
public sealed class AccountRevenueProjection : SingleStreamProjection<AccountRevenue, string>
{
    public override AccountRevenue Evolve(AccountRevenue? snapshot, string id, IEvent e)
    {
        var doc = snapshot ?? new AccountRevenue { Id = id };
        switch (e.Data)
        {
            case ContractStarted s:
                doc.Contracts[s.ContractId] = s.Mrr;
                break;
            case ContractExpanded x:
                doc.Contracts[x.ContractId] = doc.Contracts.GetValueOrDefault(x.ContractId) + x.Amount;
                break;
            case ContractContracted c:
                doc.Contracts[c.ContractId] = doc.Contracts.GetValueOrDefault(c.ContractId) - c.Amount;
                break;
            case ContractChurned c:
                doc.Contracts.Remove(c.ContractId);
                break;
            case OwnerAssigned o:
                doc.Owner = o.OwnerId;
                return doc;
            case EventReversed:
                break;
            default:
                return doc;
        }
        doc.Mrr = doc.Contracts.Values.Sum();
        doc.History.Add(new MrrChange(e.Data is ContractEvent ce ? ce.EffectiveDate : DateOnly.FromDateTime(e.Timestamp.UtcDateTime), doc.Mrr, ((LedgerEvent)e.Data).EventId));
        return doc;
    }
}
