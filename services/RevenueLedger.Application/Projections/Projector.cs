using RevenueLedger.EventStore;

namespace RevenueLedger.Application.Projections;

/// <summary>
/// Keeps read models caught up with the log. Each step folds the events after the checkpoint and commits the changed
/// rows together with the new checkpoint (compare-and-swap), so a crash at any point leaves rows and checkpoint
/// agreeing, and two projectors racing never count anything twice: the loser carries on from the winner's checkpoint.
/// Without a fixed generation it follows the current one, so a rebuild's switch moves it to the new generation.
/// </summary>
public sealed class Projector(IEventStore log, IReadModelStore readModels, int? fixedGeneration = null, int maxEventsPerStep = 1_000_000)
{
    private Projection _projection = new();
    private int _generation = -1;

    public int Generation => _generation;

    /// <summary>Hears the log position the fold has read up to, every few thousand events (for a progress display).</summary>
    public Action<long>? Progress { get; init; }

    /// <summary>
    /// Catches up to the log's head (as it was when the call began). Returns the checkpoint reached.
    /// <paramref name="committed"/> hears of each step this projector committed: (generation, first position, last position).
    /// </summary>
    public Task<long> CatchUpAsync(CancellationToken ct = default) => CatchUpAsync(null, ct);

    /// <inheritdoc cref="CatchUpAsync(CancellationToken)"/>
    public async Task<long> CatchUpAsync(Func<int, long, long, Task>? committed, CancellationToken ct = default)
    {
        long target = (await log.GetHeadAsync(ct)).Position;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            int generation = fixedGeneration ?? await readModels.CurrentGenerationAsync(ct);
            if (generation != _generation)
            {
                _generation = generation;
                _projection = new Projection();
            }
            long checkpoint = await readModels.CheckpointAsync(generation, ct);
            if (checkpoint >= target) return checkpoint;
            await ResumeAtAsync(checkpoint, ct);
            long to = Math.Min(target, checkpoint + maxEventsPerStep);
            await FoldAsync(checkpoint + 1, to, ct);
            // A lost compare-and-swap (another projector advanced first, or the generation was retired) needs nothing
            // here: the next round reads the new checkpoint (or generation) and folds forward from where this one is.
            if (await readModels.CommitAsync(generation, checkpoint, _projection.Flush(), ct) && committed is not null)
                await committed(generation, checkpoint + 1, to);
        }
    }

    /// <summary>Brings the in-memory fold to <paramref name="checkpoint"/>: forward when behind, from scratch when ahead.</summary>
    private async Task ResumeAtAsync(long checkpoint, CancellationToken ct)
    {
        if (_projection.Position == checkpoint) return;
        // Ahead means this fold includes a step that was never committed (a lost race with a smaller step, or a
        // failed commit): a fold cannot be undone, so start over.
        if (_projection.Position > checkpoint) _projection = new Projection();
        await FoldAsync(_projection.Position + 1, checkpoint, ct);
        _projection.Flush();
    }

    /// <summary>
    /// Streams the log into the fold, straight from stored bytes, so a catch-up never holds its events as objects.
    /// Rows are read on this thread while the previous group is folded on another (in order: one fold at a time).
    /// </summary>
    private async Task FoldAsync(long from, long to, CancellationToken ct)
    {
        try
        {
            await FoldRangeAsync(from, to, ct);
        }
        catch
        {
            // Folded part of the way: its position and changes belong to no checkpoint, so the next round starts afresh.
            _projection = new Projection();
            throw;
        }
    }

    private async Task FoldRangeAsync(long from, long to, CancellationToken ct)
    {
        if (from > to) return;
        var projection = _projection; // what the fold on the other thread works on, whatever becomes of the field
        var folding = Task.CompletedTask;
        try
        {
            var group = new List<RawEventBatch>();
            int rows = 0;
            long read = from - 1;
            await foreach (var batch in log.ReadRawAsync(from, to, null, ct))
            {
                group.Add(batch);
                read += batch.Count;
                if ((rows += batch.Count) < 16_384) continue;
                await folding;
                Progress?.Invoke(read - rows);
                var ready = group;
                folding = Task.Run(() => { foreach (var b in ready) projection.Add(b); }, ct);
                (group, rows) = ([], 0);
            }
            await folding;
            foreach (var b in group) projection.Add(b);
            Progress?.Invoke(read);
        }
        finally
        {
            // A failed read leaves no fold running behind it (its own failure, if any, surfaces here).
            await folding;
        }
    }

    /// <summary>
    /// Rebuilds every read model from position 0 into a new generation while queries keep reading the current one,
    /// then switches queries over and drops the old rows. The switch waits until the new generation has caught up
    /// with the current one, so the position reports state never goes back.
    /// </summary>
    public static async Task<int> RebuildAsync(IEventStore log, IReadModelStore readModels, Action<long>? progress = null, CancellationToken ct = default)
    {
        int next = await readModels.CurrentGenerationAsync(ct) + 1;
        var projector = new Projector(log, readModels, next) { Progress = progress };
        do
        {
            await projector.CatchUpAsync(ct);
        }
        while (!await readModels.SwitchAsync(next, ct));
        return next;
    }
}
