using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;
using RevenueLedger.Tests;

namespace RevenueLedger.Dashboard.Tests;

/// <summary>
/// One `ledger serve` process on a store and one headless Chromium (Debian's, driven by Playwright), shared by the
/// page tests. The store is the shared worked example, imported with `ledger import`; LEDGER_DASHBOARD_STORE names
/// another store instead (the 1M-event book of the benchmarks), where every test still compares the page with the
/// gateway's JSON for the same query.
/// </summary>
public class DashboardFixture : IAsyncLifetime
{
    public const string ReaderKey = "reader-dashboard-0123456789abcdef";
    public const string AuditorKey = "auditor-dashboard-0123456789abcdef";

    protected TempDir Dir { get; } = new();
    private readonly StringBuilder _log = new();
    private Process? _serve;
    private IPlaywright? _playwright;

    public Uri Base { get; private set; } = null!;
    public long Head { get; private set; }
    public bool IsWorkedExample { get; protected set; }
    public IBrowser Browser { get; private set; } = null!;
    public HttpClient Reader { get; private set; } = null!;
    public HttpClient Auditor { get; private set; } = null!;

    /// <summary>Where screenshots go: LEDGER_SCREENSHOTS (docs/screenshots when refreshing them), else the temp dir.</summary>
    public string Screenshots { get; } = Environment.GetEnvironmentVariable("LEDGER_SCREENSHOTS") is { Length: > 0 } d ? d : Directory.CreateTempSubdirectory("ledger-shots-").FullName;

    public static string Chromium { get; } = Environment.GetEnvironmentVariable("LEDGER_CHROMIUM") is { Length: > 0 } c ? c : "/usr/bin/chromium";

    public async Task InitializeAsync()
    {
        var store = await StoreAsync();
        var verify = await RunAsync("verify", "--store", store);
        Assert.True(verify.Exit == 0, verify.Output);
        Head = long.Parse(verify.Output.Split(' ')[1], CultureInfo.InvariantCulture); // "intact: N events, head hash …"

        int port = FreePort();
        var psi = Ledger("serve", "--store", store, "--urls", $"http://127.0.0.1:{port}");
        psi.Environment["LEDGER_API_KEYS"] = $"reader:{ReaderKey},auditor:{AuditorKey}";
        _serve = Process.Start(psi)!;
        _serve.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _serve.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _serve.BeginOutputReadLine();
        _serve.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(120);
        string? link = null;
        while (link is null)
        {
            Assert.False(_serve.HasExited, $"ledger serve exited: {Log}");
            Assert.True(DateTime.UtcNow < deadline, $"ledger serve did not start: {Log}");
            link = Log.Split('\n').FirstOrDefault(l => l.StartsWith("dashboard: open ", StringComparison.Ordinal))?["dashboard: open ".Length..].Trim();
            if (link is null) await Task.Delay(100);
        }
        // Keys were configured, so serve prints the plain link: the page asks for a key (given below in the fragment).
        Assert.StartsWith($"http://127.0.0.1:{port}/dashboard/", link, StringComparison.Ordinal);
        Base = new Uri($"http://127.0.0.1:{port}");
        Reader = Client(ReaderKey);
        Auditor = Client(AuditorKey);
        // The read models catch up with the imported log before any page is opened.
        while (true)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the read models did not reach position {Head}: {Log}");
            using var r = await Reader.GetAsync("/v1/ledger");
            if (r.StatusCode == HttpStatusCode.OK && JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("position").GetInt64() >= Head) break;
            await Task.Delay(200);
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true });
    }

    /// <summary>The store the pages show: the worked example, imported with `ledger import`, or LEDGER_DASHBOARD_STORE.</summary>
    protected virtual async Task<string> StoreAsync()
    {
        var store = Environment.GetEnvironmentVariable("LEDGER_DASHBOARD_STORE");
        if (!string.IsNullOrEmpty(store)) return store;
        IsWorkedExample = true;
        store = "sqlite:" + Path.Combine(Dir.Path, "ledger.db");
        var import = await RunAsync("import", Shared.File("worked-example.jsonl"), "--store", store);
        Assert.True(import.Exit == 0, import.Output);
        return store;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        Reader?.Dispose();
        Auditor?.Dispose();
        if (_serve is { HasExited: false }) _serve.Kill(entireProcessTree: true);
        _serve?.WaitForExit();
        _serve?.Dispose();
        Dir.Dispose();
    }

    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    /// <summary>The dashboard URL for a query string, with the key in the fragment as `ledger serve`'s link carries it.</summary>
    public string Page(string query, string key = ReaderKey) => $"{Base}dashboard/?{query}#key={key}";

    public async Task<JsonElement> JsonAsync(HttpClient client, string pathAndQuery)
    {
        using var r = await client.GetAsync(pathAndQuery);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.IsSuccessStatusCode, $"{pathAndQuery}: {(int)r.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private HttpClient Client(string key) => new()
    {
        BaseAddress = Base,
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
    };

    private static ProcessStartInfo Ledger(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ledger.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("LEDGER_API_KEYS");
        return psi;
    }

    protected static async Task<(int Exit, string Output)> RunAsync(params string[] args)
    {
        using var p = Process.Start(Ledger(args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, (await stdout) + (await stderr));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<DashboardFixture>
{
    public const string Name = "dashboard";
}

/// <summary>
/// The same, on a generated book whose signals drive churn (`ledger generate --signals driven`): what the deep-dive
/// and at-risk pages need (the worked example has no signals and too few accounts to compare).
/// </summary>
public sealed class InsightDashboardFixture : DashboardFixture
{
    protected override async Task<string> StoreAsync()
    {
        var generated = await RunAsync("generate", "--signals", "driven", "--accounts", "3000", "--owners", "6", "--start", "2022-01-01", "--months", "36", "--seed", "3");
        Assert.Equal(0, generated.Exit);
        var file = Path.Combine(Dir.Path, "signals.jsonl");
        await File.WriteAllTextAsync(file, generated.Output);
        var store = "sqlite:" + Path.Combine(Dir.Path, "signals.db");
        var import = await RunAsync("import", file, "--store", store);
        Assert.True(import.Exit == 0, import.Output);
        return store;
    }
}

// Run alone, after the other page tests: two servers and two browsers at once would slow the timed page tests.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InsightDashboardCollection : ICollectionFixture<InsightDashboardFixture>
{
    public const string Name = "dashboard-insights";
}
