using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RevenueLedger.Application;

namespace RevenueLedger.ServiceDefaults;

/// <summary>What a key may do. A key has exactly one role; give a client several keys for several roles.</summary>
public static class Roles
{
    public const string Writer = "writer";
    public const string Reader = "reader";
    public const string Auditor = "auditor";
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Writer, Reader, Auditor, Admin];
}

/// <summary>Authorization policies, named after what they allow.</summary>
public static class Policies
{
    public const string Submit = "submit";
    public const string Report = "report";
    public const string Audit = "audit";
    public const string Administer = "administer";
}

/// <summary>A configured key: its role and a name for logs and rate limits (never the secret).</summary>
public sealed record ApiKey(string Role, string Id, byte[] SecretHash);

/// <summary>
/// The configured API keys (<c>LEDGER_API_KEYS="role:secret,role:secret"</c>). Only SHA-256 hashes of the secrets are
/// kept, and a presented secret is compared with every key in constant time, so neither timing nor length tells an
/// attacker how close a guess was.
/// </summary>
public sealed class ApiKeyRing
{
    public const int MinSecretLength = 16;

    private readonly ApiKey[] _keys;

    private ApiKeyRing(ApiKey[] keys, IReadOnlyDictionary<string, string>? generated)
    {
        _keys = keys;
        Generated = generated;
    }

    public IReadOnlyList<ApiKey> Keys => _keys;

    /// <summary>Set when no keys were configured and these (role → secret) were made up for this run.</summary>
    public IReadOnlyDictionary<string, string>? Generated { get; }

    public static ApiKeyRing Parse(string spec)
    {
        var keys = new List<ApiKey>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var raw in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int colon = raw.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) throw new LedgerUsageException("LEDGER_API_KEYS: each entry must be role:secret (roles: writer, reader, auditor, admin)");
            var role = raw[..colon].Trim().ToLowerInvariant();
            var secret = raw[(colon + 1)..].Trim();
            if (!Roles.All.Contains(role)) throw new LedgerUsageException($"LEDGER_API_KEYS: unknown role '{role}' (roles: writer, reader, auditor, admin)");
            if (secret.Length < MinSecretLength) throw new LedgerUsageException($"LEDGER_API_KEYS: the {role} secret is shorter than {MinSecretLength} characters");
            seen[role] = seen.GetValueOrDefault(role) + 1;
            keys.Add(new ApiKey(role, $"{role}#{seen[role]}", Hash(secret)));
        }
        if (keys.Count == 0) throw new LedgerUsageException("LEDGER_API_KEYS is set but holds no role:secret entry");
        return new ApiKeyRing([.. keys], null);
    }

    /// <summary>One fresh key per role, for a local run where nobody configured any.</summary>
    public static ApiKeyRing Generate()
    {
        var generated = Roles.All.ToDictionary(r => r, r => $"{r}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}");
        return new ApiKeyRing([.. generated.Select(kv => new ApiKey(kv.Key, $"{kv.Key}#1", Hash(kv.Value)))], generated);
    }

    public ApiKey? Find(string secret)
    {
        var hash = Hash(secret);
        ApiKey? found = null;
        foreach (var key in _keys)
            if (CryptographicOperations.FixedTimeEquals(hash, key.SecretHash)) found ??= key; // no early exit
        return found;
    }

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}

/// <summary><c>Authorization: Bearer &lt;secret&gt;</c> against the key ring; failures answer in problem+json.</summary>
public sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyRing keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyClaim = "ledger:key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header)) return Task.FromResult(AuthenticateResult.NoResult());
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(AuthenticateResult.Fail("the Authorization header must be 'Bearer <api key>'"));
        var key = keys.Find(header["Bearer ".Length..].Trim());
        if (key is null) return Task.FromResult(AuthenticateResult.Fail("unknown API key"));
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Role, key.Role), new Claim(KeyClaim, key.Id), new Claim(ClaimTypes.Name, key.Id)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure?.Message;
        await Problems.WriteAsync(Context, StatusCodes.Status401Unauthorized, "unauthenticated", "Authentication required",
            failure ?? "send an API key as 'Authorization: Bearer <api key>'");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, StatusCodes.Status403Forbidden, "forbidden", "Not allowed for this key's role",
            Article(Context.User.FindFirstValue(ClaimTypes.Role)) + " key may not do this");

    /// <summary>"an admin", "an auditor", "a reader", "a writer".</summary>
    internal static string Article(string? role) => role is null ? "this" : (role[0] is 'a' or 'e' or 'i' or 'o' or 'u' ? "an " : "a ") + role;
}
