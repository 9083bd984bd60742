using RevenueLedger.Domain;

namespace RevenueLedger.Domain.Tests;

/// <summary>Builders for events of one account ("acme" unless told), with fresh eventIds.</summary>
public static class Ev
{
    private static int _next;

    private static string Id() => $"t{Interlocked.Increment(ref _next)}";

    public static DateOnly D(string date) => DateOnly.Parse(date, System.Globalization.CultureInfo.InvariantCulture);

    public static ContractStarted Started(string contract, string date, decimal mrr, string currency = "USD", string account = "acme", string? id = null) =>
        new(id ?? Id(), account, contract, D(date), mrr, currency, Metadata.Empty);

    public static ContractExpanded Expanded(string contract, string date, decimal amount, string currency = "USD", string account = "acme", string? id = null) =>
        new(id ?? Id(), account, contract, D(date), amount, currency, null, Metadata.Empty);

    public static ContractContracted Contracted(string contract, string date, decimal amount, string currency = "USD", string account = "acme", string? id = null) =>
        new(id ?? Id(), account, contract, D(date), amount, currency, null, Metadata.Empty);

    public static ContractChurned Churned(string contract, string date, string? reason = null, string account = "acme", string? id = null) =>
        new(id ?? Id(), account, contract, D(date), reason, Metadata.Empty);

    public static OwnerAssigned Owner(string owner, string date, string account = "acme", string? id = null) =>
        new(id ?? Id(), account, owner, D(date), Metadata.Empty);

    public static EventReversed Reversal(string target, string account = "acme", string? id = null) =>
        new(id ?? Id(), account, target, null, Metadata.Empty);

    public static ContractContracted ContractedFor(string reason, string contract, string date, decimal amount, string currency = "USD", string account = "acme") =>
        new(Id(), account, contract, D(date), amount, currency, reason, Metadata.Empty);

    public static SignalRecorded Signal(string signal, string date, decimal value, string account = "acme", string? id = null) =>
        new(id ?? Id(), account, signal, value, D(date), Metadata.Empty);
}

/// <summary>Given(events) → When(event) → Then(accepted | refusal code), against the pure account decider.</summary>
public sealed class Spec
{
    private AccountState _state;
    private Decision? _decision;

    private Spec(AccountState state) => _state = state;

    public static Spec Given(params LedgerEvent[] history) =>
        new(AccountDecider.Fold(history.Length > 0 ? history[0].AccountId : "acme", history));

    public Spec When(LedgerEvent e, ExistingEvent? existing = null)
    {
        _decision = AccountDecider.Decide(new SubmitEvent(e, existing), _state);
        return this;
    }

    public Spec ThenAccepted()
    {
        var accept = Assert.IsType<Decision.Accept>(_decision);
        _state = AccountDecider.Evolve(_state, accept.Event);
        return this;
    }

    public LedgerError ThenRefused(Outcome outcome, string code)
    {
        var refuse = Assert.IsType<Decision.Refuse>(_decision);
        Assert.Equal(outcome, refuse.Error.Outcome);
        Assert.Equal(code, refuse.Error.Code);
        Assert.False(string.IsNullOrWhiteSpace(refuse.Error.Message));
        return refuse.Error;
    }

    public LedgerError ThenRejected(string code) => ThenRefused(Outcome.Rejected, code);

    public Decision.AlreadyStored ThenDuplicate() => Assert.IsType<Decision.AlreadyStored>(_decision);
}
