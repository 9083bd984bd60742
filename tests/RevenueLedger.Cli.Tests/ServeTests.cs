using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace RevenueLedger.Cli.Tests;

/// <summary>`ledger serve` as a real process: ingestion, gateway and projector together on the embedded store.</summary>
public sealed class ServeTests : IDisposable
{
    private readonly TempDir _dir = new();
    private Process? _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    public void Dispose()
    {
        if (_process is { HasExited: false }) _process.Kill(entireProcessTree: true);
        _process?.WaitForExit();
        _process?.Dispose();
        _dir.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task StartAsync(string urls, string? keys)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "ledger.dll"), "serve", "--store", "sqlite:" + _dir.File("ledger.db"), "--urls", urls })
            psi.ArgumentList.Add(a);
        psi.Environment.Remove("LEDGER_API_KEYS");
        if (keys is not null) psi.Environment["LEDGER_API_KEYS"] = keys;
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { lock (_stdout) _stdout.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Out.Contains("listening on", StringComparison.Ordinal))
        {
            Assert.False(_process.HasExited, $"serve exited: {Err}");
            Assert.True(DateTime.UtcNow < deadline, $"serve did not start: {Out} {Err}");
            await Task.Delay(100);
        }
    }

    private string Out
    {
        get
        {
            lock (_stdout) return _stdout.ToString();
        }
    }

    private string Err
    {
        get
        {
            lock (_stderr) return _stderr.ToString();
        }
    }

    private static HttpClient Client(int port, string key) => new()
    {
        BaseAddress = new Uri($"http://127.0.0.1:{port}"),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
    };

    [Fact]
    public async Task Serve_accepts_events_and_answers_reports_that_reflect_them()
    {
        int port = FreePort();
        await StartAsync($"http://127.0.0.1:{port}", "writer:writer-secret-0123456789,reader:reader-secret-0123456789");
        using var writer = Client(port, "writer-secret-0123456789");
        using var reader = Client(port, "reader-secret-0123456789");
        Assert.DoesNotContain("writer-secret-0123456789", Out + Err, StringComparison.Ordinal);

        long position = 0;
        foreach (var body in new[]
        {
            """{"type":"ContractStarted","accountId":"acme","contractId":"c1","effectiveDate":"2024-01-01","mrr":"100","currency":"USD"}""",
            """{"type":"ContractExpanded","accountId":"acme","contractId":"c1","effectiveDate":"2024-05-01","amount":"25.5","currency":"USD"}""",
        })
        {
            var r = await writer.PostAsync("/v1/events", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
            position = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("position").GetInt64();
        }
        var report = await reader.GetAsync($"/v1/nrr/windows?window=quarter&from=2024-04-01&to=2024-07-01&groupBy=none&minPosition={position}");
        Assert.Equal(HttpStatusCode.OK, report.StatusCode);
        Assert.Equal(position.ToString(System.Globalization.CultureInfo.InvariantCulture), report.Headers.GetValues("Ledger-Position").Single());
        var row = JsonDocument.Parse(await report.Content.ReadAsStringAsync()).RootElement.GetProperty("windows")[0].GetProperty("rows")[0];
        Assert.Equal("25.5", row.GetProperty("expansion").GetString());
        Assert.Equal("1.255000", row.GetProperty("nrr").GetRawText());
    }

    [Fact]
    public async Task Without_keys_serve_prints_one_key_per_role_and_listens_on_loopback_only()
    {
        int port = FreePort();
        await StartAsync($"http://0.0.0.0:{port}", keys: null);
        Assert.Contains($"listening on http://127.0.0.1:{port} only", Err, StringComparison.Ordinal);
        var keys = Out.Split('\n').Select(l => l.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(p => p.Length == 2 && p[0] is "writer" or "reader" or "auditor" or "admin").ToDictionary(p => p[0], p => p[1]);
        Assert.Equal(["admin", "auditor", "reader", "writer"], keys.Keys.Order());
        using var auditor = Client(port, keys["auditor"]);
        Assert.Equal(HttpStatusCode.OK, (await auditor.GetAsync("/v1/log")).StatusCode);
        using var reader = Client(port, keys["reader"]);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.GetAsync("/v1/log")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Client(port, "nope-nope-nope-nope").GetAsync("/v1/log")).StatusCode);
    }
}
