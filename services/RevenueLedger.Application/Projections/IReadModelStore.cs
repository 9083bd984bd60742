using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Application.Projections;

/// <summary>
/// Where a projection's rows live. A generation is one complete set of read models; queries read the current one
/// while a rebuild fills the next, then <see cref="SwitchAsync"/> makes it current.
/// </summary>
public sealed record ReadModelView(int Generation, long Position, IReadOnlyList<WindowReport> Windows, IReadOnlyList<AccountHistory>? Histories)
{
    /// <summary>The exchange rates recorded up to <see cref="Position"/>: windows are stored native and converted per request.</summary>
    public IReadOnlyList<RecordedRate> Rates { get; init; } = [];
}

public interface IReadModelStore : IAsyncDisposable
{
    Task<int> CurrentGenerationAsync(CancellationToken ct = default);

    /// <summary>The position this generation's rows reflect (0: empty).</summary>
    Task<long> CheckpointAsync(int generation, CancellationToken ct = default);

    /// <summary>
    /// Writes the changed rows and moves the checkpoint from <paramref name="expectedCheckpoint"/> to
    /// <c>changes.Position</c> in one transaction. Returns false, writing nothing, when another projector moved the
    /// checkpoint first (compare-and-swap): the rows and the checkpoint never disagree, and nothing counts twice.
    /// </summary>
    Task<bool> CommitAsync(int generation, long expectedCheckpoint, ProjectionChanges changes, CancellationToken ct = default);

    /// <summary>
    /// Makes <paramref name="generation"/> the one queries read, and drops the older ones — only if it has caught up
    /// with the current one (returns false otherwise, changing nothing). A retired generation's commits then fail.
    /// </summary>
    Task<bool> SwitchAsync(int generation, CancellationToken ct = default);

    /// <summary>
    /// One consistent read for a report: the current generation, its position, the window rows of <paramref name="kind"/>
    /// in [from, to) when a kind is given, and the account histories when asked for or when any of those windows has
    /// no rows (it lies beyond the projected horizon). Null when there are no read models yet.
    /// </summary>
    Task<ReadModelView?> ReadViewAsync(WindowKind? kind, DateOnly from, DateOnly to, bool histories, Func<int, long, bool>? historiesHeld = null, CancellationToken ct = default);

    /// <summary>The stored reports of the calendar windows of <paramref name="kind"/> that start in [from, to).</summary>
    Task<IReadOnlyList<WindowReport>> WindowReportsAsync(int generation, WindowKind kind, DateOnly from, DateOnly to, CancellationToken ct = default);

    /// <summary>Every account's history: what answers an arbitrary date range without replaying the log.</summary>
    Task<IReadOnlyList<AccountHistory>> AccountHistoriesAsync(int generation, CancellationToken ct = default);

    /// <summary>How far a named reader of the log (the outbound relay) has got: 0 before its first advance.</summary>
    Task<long> CursorAsync(string name, CancellationToken ct = default);

    /// <summary>
    /// Moves a named cursor from <paramref name="expected"/> to <paramref name="position"/>; false, changing nothing,
    /// when another process moved it first (compare-and-swap, as for checkpoints).
    /// </summary>
    Task<bool> AdvanceCursorAsync(string name, long expected, long position, CancellationToken ct = default);
}
