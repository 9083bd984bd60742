using System.Net;
using System.Net.Http.Headers;
using RevenueLedger.ServiceDefaults;
using RevenueLedger.Tests;
using static RevenueLedger.Tests.Http;

namespace RevenueLedger.ServiceDefaults.Tests;

/// <summary>Every role against every endpoint: allowed means neither 401 nor 403; not allowed is 403; no or an unknown key is 401.</summary>
public sealed class AuthTests : IAsyncLifetime
{
    private ApiHost _api = null!;

    public async Task InitializeAsync()
    {
        _api = ApiHost.Start();
        await _api.Writer.PostAsync("/v1/events", Started("acme"));
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    public static TheoryData<string, string, string, string> Matrix()
    {
        var endpoints = new (string Host, string Method, string Path, string[] Allowed)[]
        {
            ("ingestion", "POST", "/v1/events", ["writer"]),
            ("ingestion", "POST", "/v1/events/batch", ["writer"]),
            ("ingestion", "GET", "/v1/accounts/acme/events", ["auditor"]),
            ("ingestion", "GET", "/v1/log", ["auditor"]),
            ("gateway", "GET", "/v1/nrr?from=2024-01-01&to=2025-01-01", ["reader", "auditor"]),
            ("gateway", "GET", "/v1/nrr/windows?window=quarter&from=2024-01-01&to=2025-01-01", ["reader", "auditor"]),
            ("gateway", "GET", "/v1/bridge?from=2024-01-01&to=2025-01-01", ["reader", "auditor"]),
            ("gateway", "GET", "/v1/bridge/windows?window=year&from=2024-01-01&to=2025-01-01", ["reader", "auditor"]),
            ("gateway", "GET", "/v1/churn-reasons?from=2024-01-01&to=2025-01-01", ["reader", "auditor"]),
            ("gateway", "GET", "/v1/accounts/acme/timeline", ["reader", "auditor"]),
            ("gateway", "GET", "/v1/nrr?from=2024-01-01&to=2025-01-01&asOfPosition=1", ["auditor"]),
            ("gateway", "GET", "/v1/nrr/windows?window=month&from=2024-01-01&to=2025-01-01&asOfPosition=1", ["auditor"]),
            ("gateway", "GET", "/v1/churn-reasons?from=2024-01-01&to=2025-01-01&asOfPosition=1", ["auditor"]),
            ("gateway", "GET", "/v1/accounts/acme/timeline?asOfPosition=1", ["auditor"]),
            ("gateway", "POST", "/v1/admin/rebuild", ["admin"]),
            ("gateway", "GET", "/v1/admin/rebuild", ["admin"]),
        };
        var data = new TheoryData<string, string, string, string>();
        foreach (var (host, method, path, allowed) in endpoints)
            foreach (var role in new[] { "writer", "reader", "auditor", "admin", "none", "unknown" })
                data.Add(host, method, path, role + ":" + (role is "none" or "unknown" ? "401" : allowed.Contains(role) ? "ok" : "403"));
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Each_role_against_each_endpoint(string host, string method, string path, string roleAndExpected)
    {
        var (role, expected) = (roleAndExpected.Split(':')[0], roleAndExpected.Split(':')[1]);
        string? key = role switch
        {
            "writer" => ApiHost.WriterKey,
            "reader" => ApiHost.ReaderKey,
            "auditor" => ApiHost.AuditorKey,
            "admin" => ApiHost.AdminKey,
            "unknown" => "reader-key-0123456789abcdeX",
            _ => null,
        };
        var client = host == "ingestion" ? _api.Ingestion(key) : _api.Gateway(key);
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
            request.Content = Json(path.EndsWith("batch", StringComparison.Ordinal) ? Batch(Started("beta")) : path.Contains("admin", StringComparison.Ordinal) ? "" : Started("gamma"));
        var response = await client.SendAsync(request);
        var status = (int)response.StatusCode;
        switch (expected)
        {
            case "ok":
                Assert.True(status is >= 200 and < 300 or 409, $"{role} {method} {path}: {status} {await response.Content.ReadAsStringAsync()}");
                break;
            case "401":
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
                Assert.Equal("https://revenueledger.dev/problems/unauthenticated", (await BodyAsync(response)).GetProperty("type").GetString());
                break;
            default:
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
                Assert.Equal("https://revenueledger.dev/problems/forbidden", (await BodyAsync(response)).GetProperty("type").GetString());
                break;
        }
    }

    [Fact]
    public async Task A_malformed_authorization_header_is_401_and_the_secret_is_never_echoed()
    {
        var client = _api.Gateway(null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", ApiHost.ReaderKey);
        var response = await client.GetAsync("/v1/nrr?from=2024-01-01&to=2025-01-01");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.DoesNotContain(ApiHost.ReaderKey, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public void Key_configuration_is_checked_and_only_hashes_are_kept()
    {
        var ring = ApiKeyRing.Parse(ApiHost.Keys);
        Assert.Equal(["writer", "writer", "reader", "auditor", "admin"], ring.Keys.Select(k => k.Role));
        Assert.Equal(["writer#1", "writer#2", "reader#1", "auditor#1", "admin#1"], ring.Keys.Select(k => k.Id));
        Assert.Equal("writer#2", ring.Find(ApiHost.SecondWriterKey)?.Id);
        Assert.Null(ring.Find("nope"));
        Assert.All(ring.Keys, k => Assert.Equal(32, k.SecretHash.Length));
        Assert.Throws<Application.LedgerUsageException>(() => ApiKeyRing.Parse("owner:0123456789abcdef0123"));
        Assert.Throws<Application.LedgerUsageException>(() => ApiKeyRing.Parse("reader:short"));
        Assert.Throws<Application.LedgerUsageException>(() => ApiKeyRing.Parse("reader0123456789abcdef"));
        var generated = ApiKeyRing.Generate();
        Assert.Equal(Roles.All.Order(), generated.Generated!.Keys.Order());
        Assert.All(generated.Generated!, kv => Assert.Equal(kv.Key, generated.Find(kv.Value)?.Role));
    }
}
