using System.CommandLine;
using RevenueLedger.Application;
using RevenueLedger.EventStore;
using RevenueLedger.EventStore.Audit;
using RevenueLedger.Storage;

namespace RevenueLedger.Cli;

/// <summary>`ledger keys create`, `ledger digest`, `ledger export`: what an auditor takes away (docs/audit.md).</summary>
internal static class AuditCommands
{
    public static Command Keys(TextWriter stdout)
    {
        var dir = new Option<DirectoryInfo>("--out") { Description = "Directory for NAME-private.pem (mode 600) and NAME-public.pem", Required = true };
        var name = new Option<string>("--name") { Description = "File name prefix", DefaultValueFactory = _ => "ledger" };
        var create = new Command("create", "Create a P-256 key pair for signing digests; prints the key id and the public key's path, never the private key") { dir, name };
        create.SetAction(async (p, ct) =>
        {
            if (p.GetValue(name) is not { Length: > 0 } n || n.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || n.Contains('/', StringComparison.Ordinal))
                throw new LedgerUsageException("--name must be a plain file name prefix");
            var (privatePath, publicPath, keyId) = SigningKey.Create(p.GetValue(dir)!.FullName, n);
            await stdout.WriteLineAsync($"key {keyId}: private key written to {privatePath} (owner read/write only; keep it off the ledger's machine if you can), public key {publicPath}");
            return LedgerCli.Ok;
        });
        return new Command("keys", "Signing keys for digests") { create };
    }

    public static Command Digest(TextWriter stdout)
    {
        var key = new Option<FileInfo>("--key") { Description = "Private key (PEM) from `ledger keys create`", Required = true };
        var output = new Option<FileInfo?>("--out") { Description = "Write the digest here (default: stdout)" };
        var store = LedgerCli.StoreOption();
        var cmd = new Command("digest", "Sign a statement of the log's head (position, hash, its recordedAt, signing time, key id)") { key, output, store };
        cmd.SetAction(async (p, ct) =>
        {
            using var signing = LoadKey(p.GetValue(key)!.FullName);
            await using var events = await StoreUri.Parse(p.GetValue(store)).OpenAsync(mustExist: true, ct: ct);
            AuditDigest digest;
            try
            {
                digest = await AuditDigest.SignHeadAsync(events, TimeProvider.System.GetUtcNow(), signing, ct);
            }
            catch (InvalidOperationException ex)
            {
                throw new LedgerFailedException(ex.Message);
            }
            if (p.GetValue(output) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, digest.ToJson(), ct);
                await stdout.WriteLineAsync($"digest of position {digest.Position} (head {digest.HeadHash}) signed by key {digest.KeyId}: {file.FullName}");
            }
            else await stdout.WriteAsync(digest.ToJson());
            return LedgerCli.Ok;
        });
        return cmd;
    }

    public static Command Export(TextWriter stdout)
    {
        var to = new Option<FileInfo>("--to") { Description = "The export file (JSON Lines, docs/audit.md)", Required = true };
        var store = LedgerCli.StoreOption();
        var cmd = new Command("export", "Write every stored event with its position, recordedAt and hash, in the documented canonical format") { to, store };
        cmd.SetAction(async (p, ct) =>
        {
            await using var events = await StoreUri.Parse(p.GetValue(store)).OpenAsync(mustExist: true, ct: ct);
            var path = p.GetValue(to)!.FullName;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            (long n, StoreHead head) result;
            await using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                result = await LogExport.WriteAsync(events, file, ct);
            await stdout.WriteLineAsync($"exported {result.n:N0} events to {path} (head position {result.head.Position}, hash {result.head.Hash}); took " +
                Output.Throughput(result.n, "events", clock.Elapsed));
            return LedgerCli.Ok;
        });
        return cmd;
    }

    /// <summary>The digests a verify was given, each checked against the public key before any is trusted.</summary>
    public static List<AuditDigest> LoadDigests(IReadOnlyList<FileInfo> files, FileInfo? publicKey)
    {
        if (files.Count == 0) return [];
        if (publicKey is null) throw new LedgerUsageException("--digest needs --public-key: a digest is only worth its signature");
        using var key = Wrap(() => SigningKey.LoadPublic(publicKey.FullName));
        var digests = new List<AuditDigest>();
        foreach (var f in files)
        {
            if (!f.Exists) throw new LedgerUsageException($"no such file '{f.FullName}'");
            var d = Wrap(() => AuditDigest.Parse(File.ReadAllText(f.FullName), f.Name));
            if (d.KeyId != SigningKey.KeyIdOf(key))
                throw new LedgerFailedException($"digest {f.Name} was signed by key {d.KeyId}, not by {publicKey.Name} (key {SigningKey.KeyIdOf(key)})");
            if (!d.IsSignedBy(key)) throw new LedgerFailedException($"digest {f.Name}: the signature does not verify: the file was altered or not signed by this key");
            digests.Add(d);
        }
        return digests;
    }

    private static SigningKey LoadKey(string path) => Wrap(() => SigningKey.LoadPrivate(path));

    private static T Wrap<T>(Func<T> load)
    {
        try
        {
            return load();
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new LedgerUsageException(ex.Message);
        }
    }
}

/// <summary>The ledger says no (exit 1): a signature that does not verify, a log that cannot be signed.</summary>
internal sealed class LedgerFailedException(string message) : Exception(message);
