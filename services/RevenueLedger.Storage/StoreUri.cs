using RevenueLedger.Application;
using RevenueLedger.Application.Projections;
using RevenueLedger.EventStore;
using RevenueLedger.Marten;
using RevenueLedger.Postgres;
using RevenueLedger.Sqlite;

namespace RevenueLedger.Storage;

/// <summary>
/// Where the log and its read models live, and the one place that knows every backend: <c>sqlite:PATH</c> (the
/// embedded default), <c>postgres:CONNECTION-STRING</c> (Npgsql syntax), or <c>marten:CONNECTION-STRING</c> (the log in
/// Marten's event store, read models and leases in the same PostgreSQL schema as with <c>postgres:</c>).
/// </summary>
public sealed record StoreUri(string Scheme, string Target)
{
    public const string Default = "sqlite:./data/ledger.db";

    public static StoreUri Parse(string? uri)
    {
        uri = string.IsNullOrWhiteSpace(uri) ? Default : uri.Trim();
        int colon = uri.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0) throw new LedgerUsageException($"store URI '{uri}' has no scheme; use sqlite:PATH, postgres:CONNECTION-STRING or marten:CONNECTION-STRING");
        var scheme = uri[..colon].ToLowerInvariant();
        var target = uri[(colon + 1)..];
        return scheme switch
        {
            "sqlite" when target.Length > 0 => new StoreUri(scheme, target),
            "sqlite" => throw new LedgerUsageException("sqlite: store URI needs a path, e.g. sqlite:./data/ledger.db"),
            "postgres" or "postgresql" when ValidConnectionString(target) => new StoreUri("postgres", target),
            "postgres" or "postgresql" => throw new LedgerUsageException("postgres: store URI needs an Npgsql connection string, e.g. postgres:Host=localhost;Username=ledger;Password=…;Database=ledger"),
            "marten" when ValidConnectionString(target) => new StoreUri(scheme, target),
            "marten" => throw new LedgerUsageException("marten: store URI needs an Npgsql connection string, e.g. marten:Host=localhost;Username=ledger;Password=…;Database=ledger"),
            _ => throw new LedgerUsageException($"unknown store scheme '{scheme}' in '{uri}'; supported: sqlite:PATH, postgres:CONNECTION-STRING, marten:CONNECTION-STRING"),
        };
    }

    /// <summary>The PostgreSQL database this store lives in (connection string), or null for the embedded SQLite file.</summary>
    public string? PostgresConnectionString => Scheme is "postgres" or "marten" ? Target : null;

    /// <summary>Opens the store; <paramref name="mustExist"/> refuses to create one (reports on a missing store are an error).</summary>
    public async Task<IEventStore> OpenAsync(bool mustExist, TimeProvider? time = null, CancellationToken ct = default)
    {
        if (PostgresConnectionString is { } connectionString)
        {
            try
            {
                return Scheme == "marten"
                    ? await MartenEventStore.OpenAsync(connectionString, time, create: !mustExist, ct)
                    : await PostgresEventStore.OpenAsync(connectionString, time, create: !mustExist, ct);
            }
            catch (InvalidOperationException ex) when (mustExist && ex.Message.StartsWith("no ledger store", StringComparison.Ordinal))
            {
                throw new LedgerUsageException(ex.Message);
            }
        }
        if (mustExist && !File.Exists(Target)) throw new LedgerUsageException($"no ledger store at '{Target}' (import or demo creates one)");
        return await SqliteEventStore.OpenAsync(Target, time, create: !mustExist, ct);
    }

    /// <summary>The read models kept next to this log (in the same database or file; the log must exist).</summary>
    public async Task<IReadModelStore> OpenReadModelsAsync(CancellationToken ct = default) =>
        PostgresConnectionString is { } connectionString
            ? await PostgresReadModelStore.OpenAsync(connectionString, ct)
            : await SqliteReadModelStore.OpenAsync(Target, ct);

    /// <summary>
    /// The lease on the job <paramref name="name"/> for this store, or null when another process holds it. SQLite is
    /// the embedded, one-process configuration: its lease is always granted.
    /// </summary>
    public async Task<ILease?> TryAcquireLeaseAsync(string name, CancellationToken ct = default) =>
        PostgresConnectionString is { } connectionString ? await PostgresLease.TryAcquireAsync(connectionString, name, ct) : new GrantedLease();

    private static bool ValidConnectionString(string s)
    {
        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(s);
            return s.Length > 0;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The URI without secrets, for messages and logs.</summary>
    public override string ToString() =>
        PostgresConnectionString is { } connectionString ? $"{Scheme}:{new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { Password = null }}" : $"{Scheme}:{Target}";
}
