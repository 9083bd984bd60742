using RevenueLedger.Domain.Reporting;
using static RevenueLedger.Domain.Tests.Ev;

namespace RevenueLedger.Domain.Tests;

/// <summary>Spec §3–4: MRR in force at the start of a day, one netted movement per account and day.</summary>
public class MovementTests
{
    private static AccountHistory History(params LedgerEvent[] events) => AccountHistory.Build("acme", events);

    private static (MovementKind Kind, decimal Amount) Only(AccountHistory h) => Assert.Single(h.Movements) is var m ? (m.Kind, m.Amount) : default;

    [Fact]
    public void Mrr_is_in_force_from_the_start_of_the_effective_day()
    {
        var h = History(Started("c1", "2024-01-10", 100), Expanded("c1", "2024-02-01", 50));
        Assert.Equal(0, h.MrrAt(D("2024-01-10")));
        Assert.Equal(100, h.MrrAt(D("2024-01-11")));
        Assert.Equal(100, h.MrrAt(D("2024-02-01")));
        Assert.Equal(150, h.MrrAt(D("2024-02-02")));
    }

    [Fact]
    public void First_mrr_is_new_and_a_later_return_is_reactivation()
    {
        var h = History(Started("c1", "2024-01-01", 100), Churned("c1", "2024-02-01", "cost"), Started("c2", "2024-05-01", 80));
        Assert.Equal([(MovementKind.New, 100m), (MovementKind.Churn, 100m), (MovementKind.Reactivation, 80m)], h.Movements.Select(m => (m.Kind, m.Amount)));
    }

    [Fact]
    public void A_second_contract_on_an_active_account_is_expansion() =>
        Assert.Equal((MovementKind.Expansion, 50m), History(Started("c1", "2024-01-01", 100), Started("c2", "2024-03-01", 50)).Movements.Skip(1).Select(m => (m.Kind, m.Amount)).Single());

    [Fact]
    public void Churning_one_of_two_contracts_is_contraction() =>
        Assert.Equal((MovementKind.Contraction, 40m), History(Started("c1", "2024-01-01", 100), Started("c2", "2024-01-01", 40), Churned("c2", "2024-03-01")).Movements.Skip(1).Select(m => (m.Kind, m.Amount)).Single());

    [Fact]
    public void A_same_day_swap_nets_out()
    {
        var h = History(Started("c1", "2024-01-01", 100), Churned("c1", "2024-03-01"), Started("c2", "2024-03-01", 100));
        Assert.Equal((MovementKind.New, 100m), Only(h));
    }

    [Fact]
    public void Same_day_changes_net_into_one_movement()
    {
        var h = History(Started("c1", "2024-01-01", 100), Expanded("c1", "2024-03-01", 30), Contracted("c1", "2024-03-01", 50));
        Assert.Equal((MovementKind.Contraction, 20m), h.Movements.Skip(1).Select(m => (m.Kind, m.Amount)).Single());
    }

    [Fact]
    public void Churn_without_reason_is_unspecified()
    {
        var churn = History(Started("c1", "2024-01-01", 100), Churned("c1", "2024-02-01")).Movements[1];
        Assert.Equal(AccountHistory.UnspecifiedReason, churn.ChurnReason);
        Assert.Equal([new ChurnShare("unspecified", 100)], churn.ChurnShares);
    }

    [Fact]
    public void Churn_is_split_by_mrr_removed_and_counted_under_the_largest_reason()
    {
        var h = History(Started("c1", "2024-01-01", 300), Started("c2", "2024-01-01", 100), Churned("c1", "2024-02-01", "cost"), Churned("c2", "2024-02-01", "fit"));
        var churn = h.Movements[1];
        Assert.Equal(MovementKind.Churn, churn.Kind);
        Assert.Equal("cost", churn.ChurnReason);
        Assert.Equal([new ChurnShare("cost", 300), new ChurnShare("fit", 100)], churn.ChurnShares);
    }

    [Fact]
    public void Churn_reason_ties_go_alphabetically_and_shares_add_up_exactly()
    {
        var h = History(Started("a", "2024-01-01", 100), Started("b", "2024-01-01", 100), Started("c", "2024-01-01", 100),
            Churned("a", "2024-02-01", "support"), Churned("b", "2024-02-01", "cost"), Churned("c", "2024-02-01", "fit"));
        var churn = h.Movements[1];
        Assert.Equal("cost", churn.ChurnReason);
        Assert.Equal(300m, churn.ChurnShares.Sum(s => s.Mrr));
    }

    [Fact]
    public void The_owner_during_a_day_is_the_latest_assignment_on_or_before_it()
    {
        var h = History(Owner("ana", "2024-01-01"), Owner("ben", "2024-02-10"), Owner("cy", "2024-02-10"));
        Assert.Null(h.OwnerDuring(D("2023-12-31")));
        Assert.Equal("ana", h.OwnerDuring(D("2024-02-09")));
        Assert.Equal("cy", h.OwnerDuring(D("2024-02-10")));
    }
}
