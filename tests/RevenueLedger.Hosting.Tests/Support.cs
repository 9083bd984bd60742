using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using RevenueLedger.Tests;

namespace RevenueLedger.Hosting.Tests;

/// <summary>
/// The two services as the distributed topology runs them: Ingestion and Gateway in their own hosts (in memory, via
/// WebApplicationFactory), on one store; the gateway hosts the projector. Each instance gets its own store (a
/// temporary SQLite file or a fresh PostgreSQL schema).
/// </summary>
public sealed class ApiHost : IAsyncDisposable
{
    public const string WriterKey = "writer-key-0123456789abcdef";
    public const string SecondWriterKey = "writer-key-fedcba9876543210";
    public const string ReaderKey = "reader-key-0123456789abcdef";
    public const string AuditorKey = "auditor-key-0123456789abcdef";
    public const string AdminKey = "admin-key-0123456789abcdef";
    public const string Keys = $"writer:{WriterKey},writer:{SecondWriterKey},reader:{ReaderKey},auditor:{AuditorKey},admin:{AdminKey}";

    private readonly WebApplicationFactory<Ingestion.Program> _ingestion;
    private readonly WebApplicationFactory<Gateway.Program> _gateway;
    private readonly string? _dir;
    private readonly TestSchema? _schema;

    private ApiHost(string backend, int rateLimit)
    {
        string store;
        if (backend == "postgres")
        {
            _schema = new TestSchema();
            store = "postgres:" + _schema.ConnectionString;
        }
        else
        {
            _dir = Directory.CreateTempSubdirectory("ledger-http-").FullName;
            store = "sqlite:" + Path.Combine(_dir, "ledger.db");
        }
        WebApplicationFactory<T> Host<T>(WebApplicationFactory<T> f, string components) where T : class => f.WithWebHostBuilder(b => b
            .UseSetting("Ledger:Store", store)
            .UseSetting("LEDGER_API_KEYS", Keys)
            .UseSetting("Ledger:Components", components)
            .UseSetting("Ledger:RateLimit", rateLimit.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .UseSetting("Ledger:PollSeconds", "0.1"));
        _ingestion = Host(new WebApplicationFactory<Ingestion.Program>(), "ingestion");
        _gateway = Host(new WebApplicationFactory<Gateway.Program>(), "gateway,projector");
    }

    public static ApiHost Start(string backend = "sqlite", int rateLimit = 100_000)
    {
        var host = new ApiHost(backend, rateLimit);
        _ = host._ingestion.Server; // the ingestion host creates the store before the gateway opens it
        _ = host._gateway.Server;
        return host;
    }

    public HttpClient Ingestion(string? key) => WithKey(_ingestion.CreateClient(), key);

    public HttpClient Gateway(string? key) => WithKey(_gateway.CreateClient(), key);

    public HttpClient Writer => Ingestion(WriterKey);

    public HttpClient Reader => Gateway(ReaderKey);

    public HttpClient Auditor => Gateway(AuditorKey);

    private static HttpClient WithKey(HttpClient client, string? key)
    {
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _ingestion.DisposeAsync();
        if (_schema is not null) await _schema.DropAsync();
        if (_dir is not null)
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(_dir, recursive: true);
        }
    }
}

public static class Http
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(this HttpClient client, string path, string json)
    {
        var response = await client.PostAsync(path, Json(json));
        return (response.StatusCode, await BodyAsync(response), response);
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> GetJsonAsync(this HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        return (response.StatusCode, await BodyAsync(response), response);
    }

    public static async Task<JsonElement> BodyAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public static long LedgerPosition(this HttpResponseMessage response) =>
        long.Parse(response.Headers.GetValues("Ledger-Position").Single(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Asserts a problem+json answer with this status and problem type code; returns its body.</summary>
    public static JsonElement AssertProblem(this (HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response) r, HttpStatusCode status, string code)
    {
        Assert.Equal(status, r.Status);
        Assert.Equal("application/problem+json", r.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("https://revenueledger.dev/problems/" + code, r.Body.GetProperty("type").GetString());
        Assert.Equal((int)status, r.Body.GetProperty("status").GetInt32());
        return r.Body;
    }

    public static string Started(string account, string contract = "c1", string date = "2024-01-01", string mrr = "100", string? eventId = null) =>
        $$"""{"type":"ContractStarted",{{Id(eventId)}}"accountId":"{{account}}","contractId":"{{contract}}","effectiveDate":"{{date}}","mrr":"{{mrr}}","currency":"USD"}""";

    public static string Expanded(string account, string contract, string date, string amount, string? eventId = null) =>
        $$"""{"type":"ContractExpanded",{{Id(eventId)}}"accountId":"{{account}}","contractId":"{{contract}}","effectiveDate":"{{date}}","amount":"{{amount}}","currency":"USD"}""";

    public static string Churned(string account, string contract, string date, string reason, string? eventId = null) =>
        $$"""{"type":"ContractChurned",{{Id(eventId)}}"accountId":"{{account}}","contractId":"{{contract}}","effectiveDate":"{{date}}","reason":"{{reason}}"}""";

    public static string Owner(string account, string owner, string date, string? eventId = null) =>
        $$"""{"type":"OwnerAssigned",{{Id(eventId)}}"accountId":"{{account}}","ownerId":"{{owner}}","effectiveDate":"{{date}}"}""";

    public static string Reversed(string account, string target, string? eventId = null) =>
        $$"""{"type":"EventReversed",{{Id(eventId)}}"accountId":"{{account}}","targetEventId":"{{target}}"}""";

    public static string Batch(params string[] events) => $"{{\"events\":[{string.Join(',', events)}]}}";

    private static string Id(string? eventId) => eventId is null ? "" : $"\"eventId\":\"{eventId}\",";
}
