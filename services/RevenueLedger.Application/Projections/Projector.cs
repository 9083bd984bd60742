using RevenueLedger.EventStore;

namespace RevenueLedger.Application.Projections;

/// <summary>
/// Keeps one generation of read models caught up with the log. Each step folds the events after the checkpoint
/// and commits the changed rows together with the new checkpoint (compare-and-swap), so a crash at any point leaves
/// rows and checkpoint agreeing, and two projectors racing never count anything twice: the loser re-reads the
/// winner's checkpoint and carries on from there.
/// </summary>
public sealed class Projector(IEventStore log, IReadModelStore readModels, int generation, int maxEventsPerStep = 1_000_000)
{
    private Projection _projection = new();

    public int Generation => generation;

    /// <summary>Catches up to the log's head (as it was when the call began). Returns the checkpoint reached.</summary>
    public async Task<long> CatchUpAsync(CancellationToken ct = default)
    {
        long target = (await log.GetHeadAsync(ct)).Position;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            long checkpoint = await readModels.CheckpointAsync(generation, ct);
            if (checkpoint >= target) return checkpoint;
            if (_projection.Position != checkpoint) await ResumeAtAsync(checkpoint, ct);
            long to = Math.Min(target, checkpoint + maxEventsPerStep);
            await FoldAsync(checkpoint + 1, to, ct);
            if (!await readModels.CommitAsync(generation, checkpoint, _projection.Flush(), ct))
                _projection = new Projection(); // another projector advanced first: resume from its checkpoint
        }
    }

    /// <summary>Rebuilds the in-memory fold to match what the read models hold at <paramref name="checkpoint"/>.</summary>
    private async Task ResumeAtAsync(long checkpoint, CancellationToken ct)
    {
        _projection = new Projection();
        if (checkpoint == 0) return;
        await FoldAsync(1, checkpoint, ct);
        _projection.Flush();
    }

    /// <summary>Streams the log into the fold in slices, so a catch-up never holds all its events at once.</summary>
    private async Task FoldAsync(long from, long to, CancellationToken ct)
    {
        var slice = new List<PositionedEvent>(16_384);
        await foreach (var e in log.ReadEventsAsync(from, to, ct))
        {
            slice.Add(e);
            if (slice.Count < slice.Capacity) continue;
            _projection.Add(slice);
            slice.Clear();
        }
        _projection.Add(slice);
    }

    /// <summary>
    /// Rebuilds every read model from position 0 into a new generation while queries keep reading the current one,
    /// then switches queries over and drops the old rows.
    /// </summary>
    public static async Task<int> RebuildAsync(IEventStore log, IReadModelStore readModels, CancellationToken ct = default)
    {
        int next = await readModels.CurrentGenerationAsync(ct) + 1;
        var projector = new Projector(log, readModels, next);
        await projector.CatchUpAsync(ct);
        await readModels.SwitchAsync(next, ct);
        return next;
    }
}
