namespace RevenueLedger.Domain;

/// <summary>What the ledger says about a submission (spec §2).</summary>
public enum Outcome { Accepted, Duplicate, Conflict, Invalid, Rejected }

public static class Outcomes
{
    /// <summary>The outcome as clients see it ("accepted", …); one shared string each, as every stored event reports one.</summary>
    public static string WireName(this Outcome outcome) => outcome switch
    {
        Outcome.Accepted => "accepted",
        Outcome.Duplicate => "duplicate",
        Outcome.Conflict => "conflict",
        Outcome.Invalid => "invalid",
        Outcome.Rejected => "rejected",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };
}

/// <summary>A refusal: a stable code (for clients and problem types), the field or rule it concerns, and a message for people.</summary>
public sealed record LedgerError(Outcome Outcome, string Code, string? Field, string Message)
{
    public static LedgerError Invalid(string code, string? field, string message) => new(Outcome.Invalid, code, field, message);

    public static LedgerError Rejected(string code, string message) => new(Outcome.Rejected, code, null, message);

    public override string ToString() => Field is null ? $"{Code}: {Message}" : $"{Code} ({Field}): {Message}";
}

/// <summary>Stable codes. Clients match on these; change them only with a new API version.</summary>
public static class ErrorCodes
{
    public const string MalformedJson = "malformed-json";
    public const string UnknownType = "unknown-type";
    public const string UnknownField = "unknown-field";
    public const string MissingField = "missing-field";
    public const string InvalidField = "invalid-field";

    public const string ContractNotStarted = "contract-not-started";
    public const string ContractAlreadyStarted = "contract-already-started";
    public const string ContractChurned = "contract-churned";
    public const string ContractionExceedsMrr = "contraction-exceeds-mrr";
    public const string CurrencyMismatch = "currency-mismatch";
    public const string AccountCurrencyMismatch = "account-currency-mismatch";
    public const string ReversalTargetNotFound = "reversal-target-not-found";
    public const string ReversalOfReversal = "reversal-of-reversal";
    public const string AlreadyReversed = "already-reversed";
    public const string ReversalBreaksTimeline = "reversal-breaks-timeline";

    public const string EventIdConflict = "event-id-conflict";

    /// <summary>A report that needs an exchange rate the log does not hold (spec §10).</summary>
    public const string FxRateMissing = "fx-rate-missing";

    /// <summary>A report whose total would reach 10^14 reporting units (spec §10).</summary>
    public const string AmountOverflow = "amount-overflow";
}
