using RevenueLedger.Contracts;

namespace RevenueLedger.Hosting;

/// <summary>
/// "The log moved": raised by this process's writes, which wakes an in-process projector at once and announces
/// <see cref="LedgerAdvanced"/> on the bus for projectors elsewhere; and by that announcement when heard from others.
/// </summary>
public sealed class LedgerSignals(Announcer<LedgerAdvanced> announcer)
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>This process appended up to <paramref name="head"/>.</summary>
    public void Appended(long head)
    {
        Pulse();
        announcer.Announce(new LedgerAdvanced(head));
    }

    /// <summary>Another process (or this one, through the bus) appended up to <paramref name="head"/>.</summary>
    public void Heard(long head) => Pulse();

    private void Pulse() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>
    /// Completes at the next append or after <paramref name="timeout"/>. Every waiter sees every pulse; call it
    /// before looking at the log and await it after, so an append in between is not slept through.
    /// </summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        var next = Volatile.Read(ref _next).Task;
        try
        {
            await next.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            // a poll is due
        }
    }
}

/// <summary>
/// The read models' position as this process last saw it: fed by an in-process projector, and by a poller when the
/// projector runs elsewhere. Queries use it to tell whether a cached answer is current and to wait for a position
/// (<c>minPosition</c>) without each waiting request querying the database.
/// </summary>
public sealed class ReadModelWatcher
{
    private readonly Lock _lock = new();
    private readonly List<(long Position, TaskCompletionSource Done)> _waiters = [];
    private long _position;
    private int _generation = -1;

    public long Position => Volatile.Read(ref _position);

    public int Generation => Volatile.Read(ref _generation);

    public bool HasWaiters
    {
        get
        {
            lock (_lock) return _waiters.Count > 0;
        }
    }

    public void Publish(int generation, long position)
    {
        List<TaskCompletionSource> done = [];
        lock (_lock)
        {
            // An older reading (a racing poll) never moves the position back; a rebuilt generation is switched to only
            // once it has caught up, so it arrives here at the same position or later.
            if (position < _position) return;
            Volatile.Write(ref _generation, generation);
            Volatile.Write(ref _position, position);
            for (int i = _waiters.Count - 1; i >= 0; i--)
                if (_waiters[i].Position <= position)
                {
                    done.Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
        }
        foreach (var d in done) d.TrySetResult();
    }

    /// <summary>True once the read models reach <paramref name="position"/>; false after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForAsync(long position, TimeSpan timeout, CancellationToken ct)
    {
        TaskCompletionSource done;
        lock (_lock)
        {
            if (_position >= position) return true;
            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((position, done));
        }
        try
        {
            await done.Task.WaitAsync(timeout, ct);
            return true;
        }
        catch (TimeoutException)
        {
            return Position >= position;
        }
        finally
        {
            // Also when the caller went away: a waiter left behind would keep the poller polling fast forever.
            lock (_lock) _waiters.RemoveAll(w => w.Done == done);
        }
    }
}
