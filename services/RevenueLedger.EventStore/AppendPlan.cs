namespace RevenueLedger.EventStore;

/// <summary>A stored event's content, as an append compares a resubmitted id with it.</summary>
public readonly record struct StoredContent(long Position, string Type, string Payload);

/// <summary>A row an append writes: its global position, its stream version and the event.</summary>
public readonly record struct PlannedRow(long Position, long Version, EventData Data);

/// <summary>
/// The rules every backend applies to an append, written once: each event belongs to the stream it is appended to;
/// an eventId given twice in one append, or already stored, is a duplicate when its content is the same and an
/// <see cref="EventIdConflictException"/> when not; the expected version is checked at a stream's first new event
/// (a stream whose events are all duplicates is idempotent); new events take the next global positions and stream
/// versions in the order given. The backend reads the head and the stream versions under its write lock, then writes
/// <see cref="Rows"/> (chaining their hashes) and moves the head to <see cref="HeadPosition"/>.
/// </summary>
public sealed class AppendPlan
{
    private AppendPlan(int count)
    {
        Rows = new List<PlannedRow>(count);
        Positions = new List<long>(count);
        Duplicates = new List<bool>(count);
    }

    /// <summary>The rows to write, in position order.</summary>
    public List<PlannedRow> Rows { get; }

    /// <summary>Per appended event, in order: its position (the stored one for a duplicate).</summary>
    public List<long> Positions { get; }

    /// <summary>Per appended event, in order: whether it was a duplicate.</summary>
    public List<bool> Duplicates { get; }

    public long HeadPosition { get; private set; }

    public AppendResult Result => new(Positions, Duplicates, HeadPosition);

    /// <param name="appends">The append, as given.</param>
    /// <param name="head">The log's head position, read under the backend's write lock.</param>
    /// <param name="versions">Every appended stream's version before the append; updated to its version after.</param>
    /// <param name="findStored">The stored event under an id, or null; null when ids are trusted to be new (the backend's unique index then refuses a repeat).</param>
    public static AppendPlan Make(IReadOnlyList<StreamAppend> appends, long head, Dictionary<string, long> versions, Func<string, StoredContent?>? findStored)
    {
        int count = 0;
        foreach (var a in appends) count += a.Events.Count;
        var plan = new AppendPlan(count);
        // Events of this append by id: an id given twice is compared with its first.
        var inAppend = new Dictionary<string, (long Position, EventData Data)>(count, StringComparer.Ordinal);
        long position = head;
        foreach (var append in appends)
        {
            long streamVersion = versions.TryGetValue(append.AccountId, out var v)
                ? v
                : throw new ArgumentException($"no stream version given for '{append.AccountId}'", nameof(versions));
            bool versionChecked = false;
            foreach (var data in append.Events)
            {
                var e = data.Event;
                if (e.AccountId != append.AccountId)
                    throw new ArgumentException($"event '{e.EventId}' of account '{e.AccountId}' appended to stream '{append.AccountId}'", nameof(appends));
                if (inAppend.TryGetValue(e.EventId, out var earlier))
                {
                    if (!data.SameContentAs(earlier.Data)) throw new EventIdConflictException(e.EventId, earlier.Position);
                    plan.Positions.Add(earlier.Position);
                    plan.Duplicates.Add(true);
                    continue;
                }
                if (findStored?.Invoke(e.EventId) is { } stored)
                {
                    if (stored.Type != data.StoredType || stored.Payload != data.Payload) throw new EventIdConflictException(e.EventId, stored.Position);
                    plan.Positions.Add(stored.Position);
                    plan.Duplicates.Add(true);
                    continue;
                }
                if (!versionChecked && append.ExpectedVersion is { } expected && expected != streamVersion)
                    throw new WrongExpectedVersionException(append.AccountId, expected, streamVersion);
                versionChecked = true;
                position++;
                streamVersion++;
                plan.Rows.Add(new PlannedRow(position, streamVersion, data));
                plan.Positions.Add(position);
                plan.Duplicates.Add(false);
                inAppend.Add(e.EventId, (position, data));
            }
            versions[append.AccountId] = streamVersion;
        }
        plan.HeadPosition = position;
        return plan;
    }
}
