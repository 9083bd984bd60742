using System.Security.Cryptography;

namespace RevenueLedger.EventStore.Audit;

/// <summary>
/// The key pair that signs digests: ECDSA P-256 from the .NET base library, as PEM files that `openssl` reads as they
/// are (PKCS#8 private key, SubjectPublicKeyInfo public key). P-256 rather than Ed25519: no dependency beyond the
/// runtime, and an auditor checks a signature with the stock `openssl dgst -sha256 -verify` of any OpenSSL version.
/// The key id is the first 16 hex digits of SHA-256 over the public key's DER, so a digest names the key it needs.
/// </summary>
public sealed class SigningKey : IDisposable
{
    private const UnixFileMode OthersMayTouch = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private SigningKey(ECDsa key)
    {
        Key = key;
        KeyId = KeyIdOf(key);
    }

    public ECDsa Key { get; }

    public string KeyId { get; }

    public void Dispose() => Key.Dispose();

    public static string KeyIdOf(ECDsa key) => Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()))[..16];

    /// <summary>
    /// Writes a new pair as <paramref name="name"/>-private.pem (owner read/write only, created so from the start) and
    /// <paramref name="name"/>-public.pem; refuses to overwrite either. Returns the paths and the key id.
    /// </summary>
    public static (string PrivatePath, string PublicPath, string KeyId) Create(string directory, string name = "ledger")
    {
        Directory.CreateDirectory(directory);
        string privatePath = Path.Combine(directory, $"{name}-private.pem"), publicPath = Path.Combine(directory, $"{name}-public.pem");
        foreach (var p in new[] { privatePath, publicPath })
            if (File.Exists(p)) throw new IOException($"{p} already exists; a key is never overwritten (move it away first)");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var w = new StreamWriter(privatePath, System.Text.Encoding.ASCII, options)) w.Write(key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(publicPath, key.ExportSubjectPublicKeyInfoPem());
        return (privatePath, publicPath, KeyIdOf(key));
    }

    /// <summary>Loads a private key, refusing a file that anyone but its owner may read or write.</summary>
    public static SigningKey LoadPrivate(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no private key at {path}", path);
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & OthersMayTouch) != 0)
            throw new UnauthorizedAccessException($"the private key {path} may be read or written by others (mode {Convert.ToString((int)File.GetUnixFileMode(path), 8)}); chmod 600 it");
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(path));
            if (key.KeySize != 256) throw new CryptographicException("not a P-256 key");
            return new SigningKey(key);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            key.Dispose();
            // The message names the file only: never any of its content.
            throw new InvalidDataException($"{path} is not a P-256 private key in PEM", ex);
        }
    }

    /// <summary>Loads a public key (PEM SubjectPublicKeyInfo).</summary>
    public static ECDsa LoadPublic(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no public key at {path}", path);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(path));
            return key;
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new InvalidDataException($"{path} is not a P-256 public key in PEM", ex);
        }
    }
}
