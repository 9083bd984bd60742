using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using RevenueLedger.Application;

namespace RevenueLedger.Hosting;

/// <summary>
/// Who does a singleton job (projecting, relaying) among several instances. On PostgreSQL: a session advisory lock
/// held on a connection of its own, so it is released the moment its holder dies (the server sees the socket close)
/// and a standby takes over at its next try. The jobs commit with compare-and-swap anyway, so a brief overlap (a
/// holder that lost its connection but has not noticed yet) can cost work, never correctness.
/// </summary>
public sealed class Lease : IAsyncDisposable
{
    private readonly NpgsqlConnection? _connection;
    private readonly CancellationTokenSource _lost = new();
    private readonly Task _watch;

    private Lease(NpgsqlConnection? connection)
    {
        _connection = connection;
        _watch = connection is null ? Task.CompletedTask : WatchAsync(connection);
    }

    /// <summary>Cancelled when the lease is lost (its connection broke): stop the job and try to acquire it again.</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>
    /// The lease on <paramref name="name"/> for this store, or null when another process holds it. SQLite is the
    /// embedded, one-process configuration: its lease is always granted.
    /// </summary>
    public static async Task<Lease?> TryAcquireAsync(StoreUri store, string name, CancellationToken ct)
    {
        if (!store.Scheme.Equals("postgres", StringComparison.OrdinalIgnoreCase)) return new Lease(null);
        // Its own small pool: the lock lives as long as this one connection, which must never go back to a pool.
        var builder = new NpgsqlConnectionStringBuilder(store.Target) { Pooling = false, ApplicationName = $"revenueledger-lease-{name}", KeepAlive = 5 };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            // One lock per database, schema and job: test databases and schemas side by side do not contend.
            // The server must notice a holder whose machine died (no FIN ever comes) within seconds, not hours.
            await using (var keepalive = new NpgsqlCommand("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3", connection))
                await keepalive.ExecuteNonQueryAsync(ct);
            await using var cmd = new NpgsqlCommand("SELECT current_database() || '/' || current_schema()", connection);
            var scope = (string)(await cmd.ExecuteScalarAsync(ct))!;
            long key = BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes($"revenueledger:{scope}:{name}")), 0);
            await using var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock(@k)", connection);
            tryLock.Parameters.AddWithValue("k", key);
            if ((bool)(await tryLock.ExecuteScalarAsync(ct))!) return new Lease(connection);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        await connection.DisposeAsync();
        return null;
    }

    private async Task WatchAsync(NpgsqlConnection connection)
    {
        try
        {
            while (!_lost.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _lost.Token);
                await using var ping = new NpgsqlCommand("SELECT 1", connection) { CommandTimeout = 5 };
                await ping.ExecuteScalarAsync(_lost.Token);
            }
        }
        catch (OperationCanceledException) when (_lost.IsCancellationRequested)
        {
            // released
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
        {
            // The connection broke (database restarted, network): the server has dropped the lock with it.
            await _lost.CancelAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_lost.IsCancellationRequested) await _lost.CancelAsync();
        await _watch;
        // Closing the session releases the lock.
        if (_connection is not null) await _connection.DisposeAsync();
        _lost.Dispose();
    }
}

/// <summary>Runs a singleton job while holding its lease; a standby retries every second, logging once that it waits.</summary>
public static class LeasedJob
{
    public static async Task RunAsync(StoreUri store, string name, Func<CancellationToken, Task> job, ILogger logger, CancellationToken stoppingToken, LeaseState? state = null)
    {
        bool waiting = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            Lease? lease;
            try
            {
                lease = await Lease.TryAcquireAsync(store, name, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
            {
                logger.LogWarning("{Job}: the store does not answer ({Error}); retrying", name, ex.Message);
                lease = null;
            }
            if (lease is null)
            {
                if (!waiting) logger.LogInformation("{Job}: standby (another instance is active)", name);
                waiting = true;
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            waiting = false;
            await using (lease)
            {
                if (state is not null) state.Active = true;
                logger.LogInformation("{Job}: active", name);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lease.Lost);
                try
                {
                    await job(linked.Token);
                }
                catch (OperationCanceledException) when (linked.IsCancellationRequested)
                {
                    // stopping, or the lease was lost
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Whatever the job did not handle (often a query cut off with the lease's connection): the process
                    // stays up, gives the lease back and competes for it again.
                    logger.LogError(ex, "{Job}: failed; releasing the lease and retrying", name);
                    await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                }
                if (state is not null) state.Active = false;
                if (lease.Lost.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
                    logger.LogWarning("{Job}: lease lost; trying to take it again", name);
            }
        }
    }
}

/// <summary>Whether this process holds a job's lease right now (the projector's: then its gateway needs no poll).</summary>
public class LeaseState
{
    private volatile bool _active;

    public bool Active
    {
        get => _active;
        set => _active = value;
    }
}
