namespace RevenueLedger.Application;

/// <summary>
/// The right to run a singleton job (projecting, relaying) among several instances of a service, for as long as it
/// is held. Jobs commit with compare-and-swap anyway, so a brief overlap can cost work, never correctness.
/// </summary>
public interface ILease : IAsyncDisposable
{
    /// <summary>Cancelled when the lease is lost: stop the job and try to acquire it again.</summary>
    CancellationToken Lost { get; }
}

/// <summary>The lease of a store only one process uses (the embedded SQLite file): always granted, never lost.</summary>
public sealed class GrantedLease : ILease
{
    public CancellationToken Lost => CancellationToken.None;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
