using System.Data.Common;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;
using RevenueLedger.EventStore;
using RevenueLedger.EventStore.Audit;
using RevenueLedger.Tests;

namespace RevenueLedger.Cli.Tests;

/// <summary>
/// The tamper matrix of docs/audit.md on one store: each change behind the ledger's back is found at the right position
/// by `ledger verify` and, from an export, by the independent Python verifier; nothing is reported on an intact store.
/// </summary>
public abstract class AuditTests : IAsyncLifetime
{
    protected readonly TempDir Dir = new();

    protected abstract string Store { get; }

    protected abstract DbConnection Connect();

    protected abstract void ClearPools();

    /// <summary>A change behind the ledger's back, straight in the store's tables.</summary>
    private async Task ExecAsync(string sql)
    {
        ClearPools();
        await using (var c = Connect())
        {
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            Assert.True(await cmd.ExecuteNonQueryAsync() > 0);
        }
        ClearPools();
    }

    private async Task<List<(long Position, long Version, string RecordedAt, string Account, string Type, string EventId, string Payload, string Hash)>> RowsAsync()
    {
        await using var c = Connect();
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT position, stream_version, recorded_at, account_id, event_type, event_id, payload, hash FROM events ORDER BY position";
        await using var r = await cmd.ExecuteReaderAsync();
        var rows = new List<(long, long, string, string, string, string, string, string)>();
        while (await r.ReadAsync()) rows.Add((r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetString(7)));
        return rows;
    }

    public virtual async Task InitializeAsync()
    {
        var import = await Cli.RunAsync("import", Shared.File("worked-example.jsonl"), "--store", Store);
        Assert.True(import.Exit == 0, import.Err);
        Assert.Equal(0, (await Cli.RunAsync("keys", "create", "--out", Dir.File("keys"))).Exit);
    }

    public virtual Task DisposeAsync()
    {
        Dir.Dispose();
        return Task.CompletedTask;
    }

    private string PublicKey => Dir.File("keys/ledger-public.pem");

    private async Task<string> DigestAsync(string name)
    {
        var r = await Cli.RunAsync("digest", "--key", Dir.File("keys/ledger-private.pem"), "--store", Store, "--out", Dir.File(name));
        Assert.True(r.Exit == 0, r.Err);
        return Dir.File(name);
    }

    /// <summary>What `ledger verify` says, and what the Python verifier says of an export of the same store.</summary>
    private async Task<(CliResult Ledger, (int Exit, string Out) Python)> VerifyBothAsync(params string[] digests)
    {
        var args = new List<string> { "verify", "--store", Store };
        foreach (var d in digests) args.AddRange(["--digest", d]);
        if (digests.Length > 0) args.AddRange(["--public-key", PublicKey]);
        var ledger = await Cli.RunAsync([.. args]);
        var export = Dir.File($"export-{Guid.NewGuid():N}.jsonl");
        var exported = await Cli.RunAsync("export", "--to", export, "--store", Store);
        Assert.True(exported.Exit == 0, exported.Err);
        var python = await Tool.RunAsync("python3", [Tool.Verifier, export, .. digests.SelectMany(d => new[] { "--digest", d })]);
        return (ledger, python);
    }

    private static void BothSayBrokenAt(long position, (CliResult Ledger, (int Exit, string Out) Python) r)
    {
        Assert.Equal(LedgerCli.Failed, r.Ledger.Exit);
        Assert.StartsWith($"broken at position {position}:", r.Ledger.Err, StringComparison.Ordinal);
        Assert.Equal(1, r.Python.Exit);
        Assert.StartsWith($"broken at position {position}:", r.Python.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_intact_store_is_intact_to_both_verifiers_with_the_same_head()
    {
        var digest = await DigestAsync("d22.json");
        var (ledger, python) = await VerifyBothAsync(digest);
        Assert.True(ledger.Exit == 0, ledger.Err);
        Assert.Equal(0, python.Exit);
        var head = (await RowsAsync())[^1].Hash;
        Assert.StartsWith($"intact: 22 events, head hash {head}; agrees with 1 signed digest(s) at position(s) 22", ledger.Out, StringComparison.Ordinal);
        Assert.Equal($"intact: 22 events, head hash {head}", python.Out.Trim());
    }

    public static TheoryData<string, string, long> Tampering => new()
    {
        { "one payload byte", "UPDATE events SET payload = replace(payload, '\"1000\"', '\"1001\"') WHERE position = 2", 2 },
        { "a deleted row", "DELETE FROM events WHERE position = 7", 7 },
        { "two swapped rows", "UPDATE events SET position = -1 WHERE position = 5; UPDATE events SET position = 5 WHERE position = 9; UPDATE events SET position = 9 WHERE position = -1", 5 },
        { "a truncated tail", "DELETE FROM events WHERE position > 18", 19 },
        // SQLite verifies positions 1..11 and 11..22 at once (split at half the head): the cases around the split.
        { "a payload byte in the later half", "UPDATE events SET payload = replace(payload, '\"eventId\"', '\"eventID\"') WHERE position = 15", 15 },
        { "a payload byte at the split", "UPDATE events SET payload = replace(payload, '\"eventId\"', '\"eventID\"') WHERE position = 11", 11 },
        { "the row at the split deleted", "DELETE FROM events WHERE position = 11", 11 },
        { "the row after the split deleted", "DELETE FROM events WHERE position = 12", 12 },
        { "the rows before and at the split deleted", "DELETE FROM events WHERE position IN (10, 11)", 10 },
        { "damage in both halves", "UPDATE events SET payload = replace(payload, '\"eventId\"', '\"eventID\"') WHERE position IN (3, 16)", 3 },
    };

    [Theory]
    [MemberData(nameof(Tampering))]
    public async Task Tampering_is_found_at_its_position_by_both_verifiers(string what, string sql, long position)
    {
        Assert.NotEmpty(what);
        await ExecAsync(sql);
        BothSayBrokenAt(position, await VerifyBothAsync());
    }

    [Fact]
    public async Task A_consistent_rewrite_after_a_position_is_caught_only_by_a_digest_signed_after_it()
    {
        // What an insider with write access could do: change an event after position 10 and recompute every hash and
        // the head, so the chain is consistent again. Digests were published at 10 and at 22 before that.
        var rows = await RowsAsync();
        using var key = SigningKey.LoadPrivate(Dir.File("keys/ledger-private.pem"));
        var at10 = AuditDigest.Sign(10, rows[9].Hash, rows[9].RecordedAt, DateTimeOffset.UtcNow, key);
        await File.WriteAllTextAsync(Dir.File("d10.json"), at10.ToJson());
        var d22 = await DigestAsync("d22.json");

        string previous = rows[9].Hash;
        bool changed = false;
        var sql = new List<string>();
        foreach (var r in rows.Skip(10))
        {
            string payload = r.Payload;
            if (!changed && payload.Contains("\"mrr\":\"", StringComparison.Ordinal))
            {
                payload = payload.Replace("\"mrr\":\"", "\"mrr\":\"9", StringComparison.Ordinal);
                changed = true;
            }
            string hash = HashChain.Link(r.Position, r.Version, r.RecordedAt, previous, HashChain.ContentDigest(r.Account, r.Type, r.EventId, payload));
            sql.Add($"UPDATE events SET payload = '{payload.Replace("'", "''", StringComparison.Ordinal)}', hash = '{hash}' WHERE position = {r.Position}");
            previous = hash;
        }
        Assert.True(changed);
        sql.Add($"UPDATE ledger_head SET hash = '{previous}' WHERE id = 1");
        await ExecAsync(string.Join(";\n", sql));

        // The chain alone is fooled, by either verifier: this is what the signed digest is for.
        var plain = await VerifyBothAsync();
        Assert.Equal(0, plain.Ledger.Exit);
        Assert.Equal(0, plain.Python.Exit);
        // The digest at 10 still holds (the prefix is untouched and the log extends it); the one at 22 does not.
        var early = await VerifyBothAsync(Dir.File("d10.json"));
        Assert.True(early.Ledger.Exit == 0, early.Ledger.Err);
        Assert.Equal(0, early.Python.Exit);
        BothSayBrokenAt(22, await VerifyBothAsync(Dir.File("d10.json"), d22));
    }

    [Fact]
    public async Task The_python_verifier_refuses_a_digest_whose_fields_are_not_the_statement_it_signs()
    {
        // openssl checks the signature over the statement only: edited fields beside it must not be believed.
        var digest = await File.ReadAllTextAsync(await DigestAsync("d22.json"));
        Assert.Contains("\"position\": 22", digest, StringComparison.Ordinal);
        await File.WriteAllTextAsync(Dir.File("edited.json"), digest.Replace("\"position\": 22", "\"position\": 21", StringComparison.Ordinal));
        var export = Dir.File("edited-export.jsonl");
        Assert.Equal(0, (await Cli.RunAsync("export", "--to", export, "--store", Store)).Exit);
        var python = await Tool.RunAsync("python3", [Tool.Verifier, export, "--digest", Dir.File("edited.json")]);
        Assert.Equal(1, python.Exit);
        Assert.Contains("a digest's fields are not the statement it signs", python.Out, StringComparison.Ordinal);
        Assert.Equal(0, (await Tool.RunAsync("python3", [Tool.Verifier, export, "--digest", Dir.File("d22.json")])).Exit);
    }

    [Fact]
    public async Task A_removed_tail_with_its_head_rewritten_is_caught_by_the_digest()
    {
        var rows = await RowsAsync();
        var d22 = await DigestAsync("d22.json");
        await ExecAsync($"DELETE FROM events WHERE position > 20; UPDATE ledger_head SET position = 20, hash = '{rows[19].Hash}' WHERE id = 1");
        var plain = await VerifyBothAsync();
        Assert.Equal(0, plain.Ledger.Exit);
        BothSayBrokenAt(21, await VerifyBothAsync(d22));
    }
}

public sealed class SqliteAuditTests : AuditTests
{
    private string Path => Dir.File("ledger.db");

    protected override string Store => "sqlite:" + Path;

    protected override DbConnection Connect() => new SqliteConnection($"Data Source={Path}");

    // The ledger's pooled connections must not keep pages from before the change behind its back.
    protected override void ClearPools() => SqliteConnection.ClearAllPools();
}

public sealed class PostgresAuditTests : AuditTests
{
    private readonly TestSchema _schema = new();

    protected override string Store => "postgres:" + _schema.ConnectionString;

    protected override DbConnection Connect() => new NpgsqlConnection(_schema.ConnectionString);

    protected override void ClearPools() => NpgsqlConnection.ClearAllPools();

    public override async Task DisposeAsync()
    {
        await _schema.DropAsync();
        await base.DisposeAsync();
    }
}

/// <summary>Tools an auditor has: python3 (standard library) and openssl.</summary>
public static class Tool
{
    /// <summary>docs/audit/verify_export.py of this repository.</summary>
    public static string Verifier { get; } = Locate();

    public static async Task<(int Exit, string Out)> RunAsync(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RevenueLedger.sln")))
                return Path.Combine(dir.FullName, "docs", "audit", "verify_export.py");
        throw new DirectoryNotFoundException("repository root (RevenueLedger.sln) not found above the test binaries");
    }
}

/// <summary>Keys and digests: the private key stays private, and a digest is checkable with openssl alone.</summary>
public sealed class SigningTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Store => "sqlite:" + _dir.File("ledger.db");

    private async Task<string> ImportAndSignAsync()
    {
        Assert.Equal(0, (await Cli.RunAsync("import", Shared.File("worked-example.jsonl"), "--store", Store)).Exit);
        var keys = await Cli.RunAsync("keys", "create", "--out", _dir.File("keys"));
        Assert.True(keys.Exit == 0, keys.Err);
        var digest = await Cli.RunAsync("digest", "--key", _dir.File("keys/ledger-private.pem"), "--store", Store, "--out", _dir.File("d.json"));
        Assert.True(digest.Exit == 0, digest.Err);
        foreach (var output in new[] { keys.Out + keys.Err, digest.Out + digest.Err })
        {
            Assert.DoesNotContain("PRIVATE KEY", output, StringComparison.Ordinal);
            Assert.DoesNotContain(File.ReadAllLines(_dir.File("keys/ledger-private.pem"))[1], output, StringComparison.Ordinal);
        }
        return _dir.File("d.json");
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes; the suite runs on Linux
    public async Task The_private_key_is_owner_only_and_a_readable_one_is_refused()
    {
        await ImportAndSignAsync();
        var key = _dir.File("keys/ledger-private.pem");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var r = await Cli.RunAsync("digest", "--key", key, "--store", Store);
        Assert.Equal(LedgerCli.Usage, r.Exit);
        Assert.Contains("may be read or written by others (mode 644); chmod 600 it", r.Err, StringComparison.Ordinal);
        var again = await Cli.RunAsync("keys", "create", "--out", _dir.File("keys"));
        Assert.Equal(LedgerCli.Failed, again.Exit);
        Assert.Contains("a key is never overwritten", again.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Openssl_checks_a_digest_with_the_public_key_alone()
    {
        var digest = AuditDigest.Parse(await File.ReadAllTextAsync(await ImportAndSignAsync()), "d.json");
        await File.WriteAllTextAsync(_dir.File("statement"), digest.Statement);
        await File.WriteAllBytesAsync(_dir.File("signature.der"), digest.SignatureBytes);
        var ok = await Tool.RunAsync("openssl", ["dgst", "-sha256", "-verify", _dir.File("keys/ledger-public.pem"), "-signature", _dir.File("signature.der"), _dir.File("statement")]);
        Assert.Equal((0, "Verified OK"), (ok.Exit, ok.Out.Trim()));
        await File.WriteAllTextAsync(_dir.File("statement"), digest.Statement.Replace("position=22", "position=23", StringComparison.Ordinal));
        var forged = await Tool.RunAsync("openssl", ["dgst", "-sha256", "-verify", _dir.File("keys/ledger-public.pem"), "-signature", _dir.File("signature.der"), _dir.File("statement")]);
        Assert.Equal(1, forged.Exit);
    }

    [Fact]
    public async Task A_digest_altered_or_signed_by_another_key_is_refused_before_the_log_is_read()
    {
        var file = await ImportAndSignAsync();
        var digest = AuditDigest.Parse(await File.ReadAllTextAsync(file), "d.json");
        // The fields and the statement changed together: only the signature can tell.
        await File.WriteAllTextAsync(_dir.File("moved.json"), (digest with { Position = 21 }).ToJson());
        var moved = await Cli.RunAsync("verify", "--store", Store, "--digest", _dir.File("moved.json"), "--public-key", _dir.File("keys/ledger-public.pem"));
        Assert.Equal(LedgerCli.Failed, moved.Exit);
        Assert.Contains("the signature does not verify", moved.Err, StringComparison.Ordinal);

        Assert.Equal(0, (await Cli.RunAsync("keys", "create", "--out", _dir.File("other"))).Exit);
        var other = await Cli.RunAsync("verify", "--store", Store, "--digest", file, "--public-key", _dir.File("other/ledger-public.pem"));
        Assert.Equal(LedgerCli.Failed, other.Exit);
        Assert.Contains($"was signed by key {digest.KeyId}", other.Err, StringComparison.Ordinal);

        var unsigned = await Cli.RunAsync("verify", "--store", Store, "--digest", file);
        Assert.Equal(LedgerCli.Usage, unsigned.Exit);
        Assert.Contains("--digest needs --public-key", unsigned.Err, StringComparison.Ordinal);
    }
}

/// <summary>docs/audit.md's worked example is the chain: recomputed here from its own lines, by the ledger's code and by the Python verifier.</summary>
public sealed class AuditDocTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_three_documented_links_are_what_both_verifiers_compute()
    {
        var doc = await File.ReadAllLinesAsync(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Tool.Verifier))!, "audit.md"));
        var exportLines = doc.SkipWhile(l => l != "```jsonl").Skip(1).TakeWhile(l => l != "```").ToList();
        var example = doc.SkipWhile(l => !l.StartsWith("## Worked example", StringComparison.Ordinal)).TakeWhile(l => !l.StartsWith("## The export", StringComparison.Ordinal)).ToList();
        string Field(string name, int link) => example.Where(l => l.StartsWith(name + " ", StringComparison.Ordinal)).ElementAt(link)[name.Length..].Trim();
        Assert.Equal(3, exportLines.Count);
        string previous = HashChain.Genesis;
        for (int i = 0; i < 3; i++)
        {
            using var e = System.Text.Json.JsonDocument.Parse(exportLines[i]);
            string S(string p) => e.RootElement.GetProperty(p).GetString()!;
            long position = e.RootElement.GetProperty("position").GetInt64(), version = e.RootElement.GetProperty("streamVersion").GetInt64();
            Assert.Equal(i + 1, position);
            Assert.Equal($"{S("accountId")}|{S("storedType")}|{S("eventId")}|{S("payload")}", Field("content preimage", i));
            string digest = HashChain.ContentDigest(S("accountId"), S("storedType"), S("eventId"), S("payload"));
            Assert.Equal(digest, Field("contentDigest", i));
            Assert.Equal($"{position}|{version}|{S("recordedAt")}|{previous}|{digest}", Field("link preimage", i));
            string hash = HashChain.Link(position, version, S("recordedAt"), previous, digest);
            Assert.Equal(hash, Field("hash", i));
            Assert.Equal(hash, S("hash"));
            previous = hash;
        }
        var export = _dir.File("three.jsonl");
        await File.WriteAllLinesAsync(export, [$$"""{"format":"revenueledger.export.v1","genesis":"{{HashChain.Genesis}}","headPosition":3,"headHash":"{{previous}}"}""", .. exportLines]);
        var python = await Tool.RunAsync("python3", [Tool.Verifier, export]);
        Assert.Equal((0, $"intact: 3 events, head hash {previous}"), (python.Exit, python.Out.Trim()));
    }

    [Fact]
    public void The_independent_verifier_stays_short_enough_to_read()
    {
        Assert.InRange(File.ReadAllLines(Tool.Verifier).Length, 20, 80);
    }
}
