using System.Threading.Channels;

namespace RevenueLedger.Hosting;

/// <summary>"The log moved": raised by this process's writes, so an in-process projector starts at once instead of at its next poll.</summary>
public sealed class LedgerSignals
{
    private readonly Channel<long> _appended = Channel.CreateBounded<long>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });

    public void Appended(long head) => _appended.Writer.TryWrite(head);

    /// <summary>Waits for an append or for <paramref name="timeout"/>, whichever comes first.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await _appended.Reader.WaitToReadAsync(cts.Token);
            _appended.Reader.TryRead(out _);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // the timeout: a poll is due
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
