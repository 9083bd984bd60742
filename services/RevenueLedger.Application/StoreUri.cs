using RevenueLedger.EventStore;
using RevenueLedger.EventStore.Sqlite;

namespace RevenueLedger.Application;

/// <summary>Where the log lives: <c>sqlite:PATH</c> (the embedded default).</summary>
public sealed record StoreUri(string Scheme, string Target)
{
    public const string Default = "sqlite:./data/ledger.db";

    public static StoreUri Parse(string? uri)
    {
        uri = string.IsNullOrWhiteSpace(uri) ? Default : uri.Trim();
        int colon = uri.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0) throw new LedgerUsageException($"store URI '{uri}' has no scheme; use sqlite:PATH");
        var scheme = uri[..colon].ToLowerInvariant();
        var target = uri[(colon + 1)..];
        return scheme switch
        {
            "sqlite" when target.Length > 0 => new StoreUri(scheme, target),
            "sqlite" => throw new LedgerUsageException("sqlite: store URI needs a path, e.g. sqlite:./data/ledger.db"),
            _ => throw new LedgerUsageException($"unknown store scheme '{scheme}' in '{uri}'; supported: sqlite:PATH"),
        };
    }

    /// <summary>Opens the store; <paramref name="mustExist"/> refuses to create one (reports on a missing file are an error).</summary>
    public async Task<IEventStore> OpenAsync(bool mustExist, TimeProvider? time = null, CancellationToken ct = default)
    {
        if (mustExist && !File.Exists(Target)) throw new LedgerUsageException($"no ledger store at '{Target}' (import or demo creates one)");
        return await SqliteEventStore.OpenAsync(Target, time, create: !mustExist, ct);
    }

    public override string ToString() => $"{Scheme}:{Target}";
}

/// <summary>A caller's mistake (bad arguments, missing store): reported as a message, never as a stack trace.</summary>
public sealed class LedgerUsageException(string message) : Exception(message);
