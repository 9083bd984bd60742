using System.Security.Cryptography;
using System.Text;
using Npgsql;
using RevenueLedger.Application;

namespace RevenueLedger.Postgres;

/// <summary>
/// Who does a singleton job (projecting, relaying) among several instances: a session advisory lock
/// held on a connection of its own, so it is released the moment its holder dies (the server sees the socket close)
/// and a standby takes over at its next try. The jobs commit with compare-and-swap anyway, so a brief overlap (a
/// holder that lost its connection but has not noticed yet) can cost work, never correctness.
/// </summary>
public sealed class PostgresLease : ILease
{
    private readonly NpgsqlConnection _connection;
    private readonly CancellationTokenSource _lost = new();
    private readonly Task _watch;

    private PostgresLease(NpgsqlConnection connection)
    {
        _connection = connection;
        _watch = WatchAsync(connection);
    }

    /// <summary>Cancelled when the lease is lost (its connection broke): stop the job and try to acquire it again.</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>The lease on <paramref name="name"/> for the store at this connection string, or null when another process holds it.</summary>
    public static async Task<PostgresLease?> TryAcquireAsync(string connectionString, string name, CancellationToken ct)
    {
        // Its own small pool: the lock lives as long as this one connection, which must never go back to a pool.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = $"revenueledger-lease-{name}", KeepAlive = 5 };
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
            if ((bool)(await tryLock.ExecuteScalarAsync(ct))!) return new PostgresLease(connection);
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
        await _connection.DisposeAsync();
        _lost.Dispose();
    }
}
