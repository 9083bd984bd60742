using RevenueLedger.Domain;
using static RevenueLedger.Domain.Tests.Ev;

namespace RevenueLedger.Domain.Tests;

/// <summary>Spec §2: timeline and reversal rules, with the new event at its effective-date place.</summary>
public class AccountRulesTests
{
    [Fact]
    public void A_contract_starts_expands_contracts_and_churns() =>
        Spec.Given(Started("c1", "2024-01-01", 100), Expanded("c1", "2024-02-01", 50), Contracted("c1", "2024-03-01", 149.9999m))
            .When(Churned("c1", "2024-04-01")).ThenAccepted();

    [Fact]
    public void Rule1_an_event_on_an_unknown_contract_is_rejected() =>
        Spec.Given(Started("c1", "2024-01-01", 100)).When(Expanded("c9", "2024-02-01", 10)).ThenRejected(ErrorCodes.ContractNotStarted);

    [Fact]
    public void Rule1_an_event_dated_before_the_contract_start_is_rejected() =>
        Spec.Given(Started("c1", "2024-03-01", 100)).When(Expanded("c1", "2024-02-01", 10)).ThenRejected(ErrorCodes.ContractNotStarted);

    [Fact]
    public void Rule1_a_second_start_is_rejected() =>
        Spec.Given(Started("c1", "2024-01-01", 100)).When(Started("c1", "2024-05-01", 100)).ThenRejected(ErrorCodes.ContractAlreadyStarted);

    [Fact]
    public void Rule1_a_back_dated_second_start_is_rejected_too() =>
        Spec.Given(Started("c1", "2024-05-01", 100)).When(Started("c1", "2024-01-01", 100)).ThenRejected(ErrorCodes.ContractAlreadyStarted);

    [Fact]
    public void Rule2_nothing_follows_a_churn() =>
        Spec.Given(Started("c1", "2024-01-01", 100), Churned("c1", "2024-02-20")).When(Churned("c1", "2024-03-01")).ThenRejected(ErrorCodes.ContractChurned);

    [Fact]
    public void Rule2_a_back_dated_churn_before_later_events_is_rejected() =>
        Spec.Given(Started("c1", "2024-01-01", 100), Expanded("c1", "2024-03-01", 10)).When(Churned("c1", "2024-02-01")).ThenRejected(ErrorCodes.ContractChurned);

    [Fact]
    public void Rule2_a_back_dated_expansion_before_the_churn_is_accepted() =>
        Spec.Given(Started("c1", "2024-01-01", 100), Churned("c1", "2024-06-01")).When(Expanded("c1", "2024-03-01", 10)).ThenAccepted();

    [Fact]
    public void Rule2_a_win_back_is_a_new_contract() =>
        Spec.Given(Started("c1", "2024-01-01", 100), Churned("c1", "2024-02-01")).When(Started("c2", "2024-05-01", 80)).ThenAccepted();

    [Fact]
    public void Rule3_a_contraction_to_zero_is_rejected() =>
        Spec.Given(Started("c1", "2024-01-01", 100)).When(Contracted("c1", "2024-02-01", 100)).ThenRejected(ErrorCodes.ContractionExceedsMrr);

    [Fact]
    public void Rule3_a_contraction_past_the_mrr_is_rejected() =>
        Spec.Given(Started("c1", "2024-01-01", 1000), Expanded("c1", "2024-02-01", 500)).When(Contracted("c1", "2024-03-20", 5000)).ThenRejected(ErrorCodes.ContractionExceedsMrr);

    [Fact]
    public void Rule3_a_back_dated_contraction_that_breaks_a_later_one_is_rejected() =>
        Spec.Given(Started("c1", "2024-01-01", 100), Contracted("c1", "2024-03-01", 60)).When(Contracted("c1", "2024-02-01", 40)).ThenRejected(ErrorCodes.ContractionExceedsMrr);

    [Fact]
    public void Rule3_a_back_dated_expansion_counts_for_a_later_contraction() =>
        Spec.Given(Started("c1", "2024-01-01", 100), Expanded("c1", "2024-02-01", 100)).When(Contracted("c1", "2024-03-01", 150)).ThenAccepted();

    [Fact]
    public void Rule4_an_expansion_in_another_currency_is_rejected() =>
        Spec.Given(Started("c1", "2024-01-01", 100)).When(Expanded("c1", "2024-02-01", 10, "EUR")).ThenRejected(ErrorCodes.CurrencyMismatch);

    [Fact]
    public void Rule4_a_contraction_in_another_currency_is_rejected() =>
        Spec.Given(Started("c1", "2024-01-01", 100)).When(Contracted("c1", "2024-02-01", 10, "EUR")).ThenRejected(ErrorCodes.CurrencyMismatch);

    [Fact]
    public void Same_day_events_are_ordered_by_submission() =>
        Spec.Given(Started("c1", "2024-01-01", 100), Expanded("c1", "2024-02-01", 50))
            .When(Contracted("c1", "2024-02-01", 120)).ThenAccepted();

    [Fact]
    public void Reversal_of_an_unknown_event_is_rejected() =>
        Spec.Given(Started("c1", "2024-01-01", 100)).When(Reversal("nope")).ThenRejected(ErrorCodes.ReversalTargetNotFound);

    [Fact]
    public void Reversal_of_another_accounts_event_is_rejected()
    {
        var other = Started("c1", "2024-01-01", 100, account: "other");
        Spec.Given(Started("c1", "2024-01-01", 100)).When(Reversal(other.EventId)).ThenRejected(ErrorCodes.ReversalTargetNotFound);
    }

    [Fact]
    public void Reversal_of_a_reversal_is_rejected()
    {
        var x = Expanded("c1", "2024-02-01", 10);
        var r = Reversal(x.EventId);
        Spec.Given(Started("c1", "2024-01-01", 100), x, r).When(Reversal(r.EventId)).ThenRejected(ErrorCodes.ReversalOfReversal);
    }

    [Fact]
    public void Reversal_of_a_reversed_event_is_rejected()
    {
        var x = Expanded("c1", "2024-02-01", 10);
        Spec.Given(Started("c1", "2024-01-01", 100), x, Reversal(x.EventId)).When(Reversal(x.EventId)).ThenRejected(ErrorCodes.AlreadyReversed);
    }

    [Fact]
    public void Reversal_that_orphans_later_events_is_rejected()
    {
        var start = Started("c1", "2024-01-01", 100);
        Spec.Given(start, Expanded("c1", "2024-02-01", 10)).When(Reversal(start.EventId)).ThenRejected(ErrorCodes.ReversalBreaksTimeline);
    }

    [Fact]
    public void Reversal_of_an_expansion_that_a_contraction_relies_on_is_rejected()
    {
        var x = Expanded("c1", "2024-02-01", 100);
        Spec.Given(Started("c1", "2024-01-01", 100), x, Contracted("c1", "2024-03-01", 150)).When(Reversal(x.EventId)).ThenRejected(ErrorCodes.ReversalBreaksTimeline);
    }

    [Fact]
    public void Reversal_of_a_churn_reopens_the_contract()
    {
        var churn = Churned("c1", "2024-02-01");
        Spec.Given(Started("c1", "2024-01-01", 100), churn).When(Reversal(churn.EventId)).ThenAccepted()
            .When(Expanded("c1", "2024-03-01", 10)).ThenAccepted();
    }

    [Fact]
    public void Reversal_of_an_owner_assignment_is_accepted()
    {
        var owner = Owner("ana", "2024-01-01");
        Spec.Given(owner).When(Reversal(owner.EventId)).ThenAccepted();
    }

    [Fact]
    public void Resubmitting_the_same_content_is_a_duplicate()
    {
        var e = Expanded("c1", "2024-02-01", 10, id: "e21");
        var stored = new ExistingEvent(7, e.StoredType, WireFormat.ToCanonicalJson(e));
        var duplicate = Spec.Given(Started("c1", "2024-01-01", 100), e).When(e with { Amount = 10.00m }, stored).ThenDuplicate();
        Assert.Equal(7, duplicate.Position);
    }

    [Fact]
    public void Reusing_an_event_id_for_other_content_is_a_conflict()
    {
        var e = Expanded("c1", "2024-02-01", 10, id: "e21");
        var stored = new ExistingEvent(7, e.StoredType, WireFormat.ToCanonicalJson(e));
        Spec.Given(Started("c1", "2024-01-01", 100), e).When(e with { Amount = 11 }, stored).ThenRefused(Outcome.Conflict, ErrorCodes.EventIdConflict);
    }

    [Fact]
    public void Reusing_an_event_id_for_another_type_is_a_conflict()
    {
        var e = Expanded("c1", "2024-02-01", 10, id: "e21");
        var other = Contracted("c1", "2024-02-01", 10, id: "e21");
        var stored = new ExistingEvent(7, e.StoredType, WireFormat.ToCanonicalJson(e));
        Spec.Given(Started("c1", "2024-01-01", 100)).When(other, stored).ThenRefused(Outcome.Conflict, ErrorCodes.EventIdConflict);
    }
}
