using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using RevenueLedger.Projector;
using RevenueLedger.Tests;

namespace RevenueLedger.Tests;

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

    private ApiHost(string backend, int rateLimit, IReadOnlyDictionary<string, string>? gatewaySettings)
    {
        string store;
        if (backend is "postgres" or "marten")
        {
            _schema = new TestSchema();
            store = backend + ":" + _schema.ConnectionString;
        }
        else
        {
            _dir = Directory.CreateTempSubdirectory("ledger-http-").FullName;
            store = "sqlite:" + Path.Combine(_dir, "ledger.db");
        }
        // The gateway's host also runs the projector here, composed in as `ledger serve` does.
        WebApplicationFactory<T> Host<T>(WebApplicationFactory<T> f, string components) where T : class => f.WithWebHostBuilder(b => b
            .ConfigureServices(s => { if (components.Contains("projector", StringComparison.Ordinal)) s.AddProjector(); })
            .UseSetting("Ledger:Store", store)
            .UseSetting("LEDGER_API_KEYS", Keys)
            .UseSetting("Ledger:Components", components)
            .UseSetting("Ledger:RateLimit", rateLimit.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .UseSetting("Ledger:PollSeconds", "0.1"));
        _ingestion = Host(new WebApplicationFactory<Ingestion.Program>(), "ingestion");
        _gateway = Host(new WebApplicationFactory<Gateway.Program>(), "gateway,projector").WithWebHostBuilder(b =>
        {
            foreach (var (key, value) in gatewaySettings ?? new Dictionary<string, string>()) b.UseSetting(key, value);
        });
    }

    public static ApiHost Start(string backend = "sqlite", int rateLimit = 100_000, IReadOnlyDictionary<string, string>? gatewaySettings = null)
    {
        var host = new ApiHost(backend, rateLimit, gatewaySettings);
        _ = host._ingestion.Server; // the ingestion host creates the store before the gateway opens it
        _ = host._gateway.Server;
        return host;
    }

    /// <summary>The gateway host's services (its bus, its digest publisher).</summary>
    public IServiceProvider GatewayServices => _gateway.Services;

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
