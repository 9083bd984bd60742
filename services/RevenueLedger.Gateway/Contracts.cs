namespace RevenueLedger.Gateway;

// Response shapes. Money is a string holding an exact decimal; ratios are JSON numbers with at least 6 decimals, or
// null when undefined (no opening MRR). ownerId: "*" company-wide, null unassigned.

public sealed record NrrRowDto(string? OwnerId, string OpeningMrr, string Expansion, string Contraction, string Churn, string Reactivation,
    string ClosingMrr, int AccountsOpening, int AccountsRetained, decimal? Nrr, decimal? Grr);

public sealed record BridgeRowDto(string? OwnerId, string OpeningMrr, string New, string Expansion, string Contraction, string Churn,
    string Reactivation, string TransferIn, string TransferOut, string FxImpact, string ClosingMrr, int AccountsChurned);

/// <summary>A rate a report converted with: 1 Currency = Rate QuoteCurrency, in force on Date, recorded at Position.</summary>
public sealed record RateDto(string Currency, string QuoteCurrency, string Date, string Rate, long Position);

public sealed record ParetoRowDto(string Reason, string MrrLost, int Accounts, decimal Share, decimal CumulativeShare);

public sealed record NrrReport(long Position, string From, string To, string Currency, IReadOnlyList<RateDto> Rates, IReadOnlyList<NrrRowDto> Rows);

public sealed record NrrWindow(string From, string To, string Currency, IReadOnlyList<RateDto> Rates, IReadOnlyList<NrrRowDto> Rows);

public sealed record NrrWindows(long Position, string Currency, IReadOnlyList<NrrWindow> Windows);

public sealed record BridgeReport(long Position, string From, string To, string Currency, IReadOnlyList<RateDto> Rates, IReadOnlyList<BridgeRowDto> Rows);

public sealed record BridgeWindow(string From, string To, string Currency, IReadOnlyList<RateDto> Rates, IReadOnlyList<BridgeRowDto> Rows);

public sealed record BridgeWindows(long Position, string Currency, IReadOnlyList<BridgeWindow> Windows);

public sealed record ChurnReasonsReport(long Position, string From, string To, string OwnerId, string Currency, IReadOnlyList<RateDto> Rates, IReadOnlyList<ParetoRowDto> Rows);

public sealed record TimelineMovement(string Day, string Kind, string Amount, string? OwnerId, string MrrBefore, string MrrAfter, string? ChurnReason);

public sealed record TimelineOwner(string From, string? OwnerId);

/// <summary>A stored event of the account: reversed ones name the reversal (spec §3), and stay in the log.</summary>
public sealed record TimelineEvent(long Position, string RecordedAt, string Type, string EventId, string? EffectiveDate, string Detail, string? ReversedBy);

/// <summary>An account's movements and owners (from its active events) and every stored event behind them; amounts in its currency.</summary>
public sealed record AccountTimeline(long Position, string AccountId, string Currency, IReadOnlyList<TimelineMovement> Movements,
    IReadOnlyList<TimelineOwner> Owners, IReadOnlyList<TimelineEvent> Events);

/// <summary>What a dashboard needs before its first report: what the book covers and a sensible default range.</summary>
public sealed record LedgerInfo(long Position, string Currency, IReadOnlyList<string> Currencies, string? FirstDay, string? LastDay, int Accounts,
    IReadOnlyList<string> Owners, string DefaultFrom, string DefaultTo);

public sealed record PositionAt(long Position, string? RecordedAt, long Head);

public sealed record AccountRow(string AccountId, string Currency, string? OpeningOwnerId, string OpeningMrr, string? ClosingOwnerId, string ClosingMrr);

public sealed record AccountsReport(long Position, string From, string To, string? OwnerId, IReadOnlyList<AccountRow> Accounts);

public sealed record RebuildStatus(bool Running, int? Generation, string? StartedAt, string? FinishedAt, string? Error);
