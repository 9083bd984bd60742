using RevenueLedger.Domain.Reporting;
using static RevenueLedger.Domain.Tests.Ev;

namespace RevenueLedger.Domain.Tests;

/// <summary>Spec §5–7 on small books whose numbers can be checked by hand.</summary>
public class ReportTests
{
    private static readonly Window Q1 = new(D("2024-01-01"), D("2024-04-01"));

    private static WindowReport Report(params LedgerEvent[] events) =>
        Reports.Compute(events.GroupBy(e => e.AccountId).Select(g => AccountHistory.Build(g.Key, g.ToList())), Q1);

    [Fact]
    public void New_business_is_never_in_the_cohort_but_is_in_the_bridge()
    {
        var r = Report(Owner("ana", "2023-01-01", "a"), Started("c", "2023-06-01", 100, account: "a"),
                       Owner("ana", "2024-01-01", "b"), Started("c", "2024-02-01", 50, account: "b"));
        var nrr = Assert.Single(r.Nrr, x => x.Owner.IsAll);
        Assert.Equal((100m, 100m, 1), (nrr.OpeningMrr, nrr.ClosingMrr, nrr.AccountsOpening));
        var bridge = Assert.Single(r.Bridge, x => x.Owner.IsAll);
        Assert.Equal((100m, 50m, 150m), (bridge.OpeningMrr, bridge.New, bridge.ClosingMrr));
    }

    [Fact]
    public void A_handover_on_the_first_day_moves_the_account_into_the_new_owners_cohort()
    {
        var r = Report(Owner("ana", "2023-01-01"), Started("c1", "2023-06-01", 100), Owner("ben", "2024-01-01"));
        Assert.Equal(OwnerGroup.Of("ben"), Assert.Single(r.Nrr, x => !x.Owner.IsAll).Owner);
        // The bridge opens on the previous day's owner, so the handover is a transfer inside the window.
        var ana = Assert.Single(r.Bridge, x => x.Owner == OwnerGroup.Of("ana"));
        var ben = Assert.Single(r.Bridge, x => x.Owner == OwnerGroup.Of("ben"));
        Assert.Equal((100m, 100m, 0m), (ana.OpeningMrr, ana.TransferOut, ana.ClosingMrr));
        Assert.Equal((0m, 100m, 100m), (ben.OpeningMrr, ben.TransferIn, ben.ClosingMrr));
    }

    [Fact]
    public void A_handover_moves_the_mrr_before_that_days_movement()
    {
        var r = Report(Owner("ana", "2023-01-01"), Started("c1", "2023-06-01", 100), Owner("ben", "2024-02-10"), Expanded("c1", "2024-02-10", 25));
        var ana = Assert.Single(r.Bridge, x => x.Owner == OwnerGroup.Of("ana"));
        var ben = Assert.Single(r.Bridge, x => x.Owner == OwnerGroup.Of("ben"));
        Assert.Equal((100m, 0m, 100m), (ana.TransferOut, ana.Expansion, ben.TransferIn));
        Assert.Equal((25m, 125m), (ben.Expansion, ben.ClosingMrr));
        // NRR keeps the whole quarter with the cohort owner.
        Assert.Equal(25m, Assert.Single(r.Nrr, x => x.Owner == OwnerGroup.Of("ana")).Expansion);
    }

    [Fact]
    public void Unassigned_accounts_have_a_null_owner_row()
    {
        var r = Report(Started("c1", "2023-06-01", 100));
        Assert.Contains(r.Nrr, x => !x.Owner.IsAll && x.Owner.Id is null);
    }

    [Fact]
    public void A_cohort_account_that_churns_and_returns_is_reactivation()
    {
        var r = Report(Started("c1", "2023-06-01", 100), Churned("c1", "2024-01-15", "cost"), Started("c2", "2024-03-01", 70));
        var all = Assert.Single(r.Nrr, x => x.Owner.IsAll);
        Assert.Equal((100m, 100m, 70m, 70m, 1), (all.OpeningMrr, all.Churn, all.Reactivation, all.ClosingMrr, all.AccountsRetained));
        Assert.Equal(0.7m, all.Nrr);
        Assert.Equal(0m, all.Grr);
    }

    [Fact]
    public void An_empty_cohort_has_no_rows_and_all_zero_bridge_rows_are_left_out()
    {
        var r = Report(Started("c1", "2024-06-01", 100));
        Assert.Empty(r.Nrr);
        Assert.Empty(r.Bridge);
    }

    [Fact]
    public void Calendar_windows_cover_whole_periods()
    {
        Assert.Equal([new Window(D("2024-01-01"), D("2024-04-01")), new Window(D("2024-04-01"), D("2024-07-01"))],
            Window.Calendar(WindowKind.Quarter, D("2024-02-15"), D("2024-04-02")));
        Assert.Equal(12, Window.Calendar(WindowKind.Month, D("2024-01-01"), D("2025-01-01")).Count);
        Assert.Single(Window.Calendar(WindowKind.Year, D("2024-01-01"), D("2025-01-01")));
        Assert.Throws<ArgumentException>(() => Window.Calendar(WindowKind.Month, D("2024-02-01"), D("2024-02-01")));
    }
}
