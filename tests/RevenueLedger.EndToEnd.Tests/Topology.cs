using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MassTransit;
using Npgsql;
using RabbitMQ.Client;

namespace RevenueLedger.EndToEnd.Tests;

/// <summary>
/// The servers the end-to-end tests use, as tests/run.sh provides them: a PostgreSQL cluster of these tests' own
/// (they restart it), RabbitMQ, and the commands that stop and start them. Missing settings fail the tests.
/// </summary>
public static class Servers
{
    public static string Postgres { get; } = Required("LEDGER_TEST_E2E_POSTGRES");

    /// <summary>"VERSION NAME" of the cluster, for pg_ctlcluster.</summary>
    public static string PostgresCluster { get; } = Required("LEDGER_TEST_E2E_PG_CLUSTER");

    public static Uri RabbitMq { get; } = new(Required("LEDGER_TEST_RABBITMQ"));

    private static string Required(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v
        ? v
        : throw new InvalidOperationException($"{name} is not set: run the suite with tests/run.sh, which starts the servers");

    public static async Task RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {await output} {await error}");
    }

    public static Task StopRabbitMqAsync() => RunAsync("rabbitmqctl", "-q", "stop_app");

    public static async Task StartRabbitMqAsync()
    {
        await RunAsync("rabbitmqctl", "-q", "start_app");
        await RunAsync("rabbitmqctl", "-q", "await_startup", "--timeout", "60");
    }

    /// <summary>pg_ctlcluster on the end-to-end cluster: "stop", "start", "restart" (fast shutdown: sessions are cut).</summary>
    public static Task PostgresAsync(string action)
    {
        var parts = PostgresCluster.Split(' ', 2);
        return action == "start" ? RunAsync("pg_ctlcluster", parts[0], parts[1], action) : RunAsync("pg_ctlcluster", parts[0], parts[1], action, "-m", "fast");
    }
}

/// <summary>One service process, its output kept for assertions and for the message when a test fails.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public ServiceProcess(string name, string dll, IEnumerable<string> args, IDictionary<string, string> env)
    {
        Name = name;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        psi.Environment["Logging__Console__FormatterName"] = "simple";
        psi.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.False(_process.HasExited, $"{Name} exited: {Output}");
            Assert.True(clock.Elapsed < timeout, $"{Name} did not print '{text}' within {timeout.TotalSeconds} s: {Output}");
            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL: no shutdown, no cleanup, as when a machine dies.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}

/// <summary>
/// The distributed topology as real processes: Ingestion, Gateway and two Projectors on a database and a RabbitMQ
/// virtual host of this instance's own; every process writes its spans to a file the test reads.
/// </summary>
public sealed class Topology : IAsyncDisposable
{
    public const string WriterKey = "e2e-writer-0123456789abcdef";
    public const string ReaderKey = "e2e-reader-0123456789abcdef";
    public const string AuditorKey = "e2e-auditor-0123456789abcdef";
    private const string Keys = $"writer:{WriterKey},reader:{ReaderKey},auditor:{AuditorKey}";

    private readonly string _id = Guid.NewGuid().ToString("N")[..12];
    private readonly List<ServiceProcess> _processes = [];
    private IBusControl? _bus;

    private Topology()
    {
        Directory.CreateDirectory(Dir);
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "ledger-e2e-" + Guid.NewGuid().ToString("N")[..8]);

    public string Database => "e2e_" + _id;

    public string VirtualHost => "e2e-" + _id;

    public string ConnectionString => new NpgsqlConnectionStringBuilder(Servers.Postgres) { Database = Database }.ConnectionString;

    public Uri Broker => new UriBuilder(Servers.RabbitMq) { Path = "/" + VirtualHost }.Uri;

    public ServiceProcess Ingestion { get; private set; } = null!;

    public ServiceProcess Gateway { get; private set; } = null!;

    public List<ServiceProcess> Projectors { get; } = [];

    public HttpClient Writer { get; private set; } = null!;

    /// <summary>A second ingestion instance (scale-out): the same log, the relay's lease contested.</summary>
    public ServiceProcess Ingestion2 { get; private set; } = null!;

    public HttpClient Writer2 { get; private set; } = null!;

    public HttpClient Reader { get; private set; } = null!;

    public HttpClient Auditor { get; private set; } = null!;

    /// <summary>The auditor on the ingestion service, which serves the log.</summary>
    public HttpClient LogReader { get; private set; } = null!;

    /// <summary>This test's own MassTransit bus, for sending commands as another .NET system would.</summary>
    public IBus Bus => _bus!;

    public BusHealthStatus BusHealth() => _bus!.CheckHealth().Status;

    /// <summary>The last lines of every process's output, for the message of a failed test.</summary>
    public string Diagnostics() => string.Join("\n", _processes.Select(p =>
        $"--- {p.Name}{(p.HasExited ? " (exited)" : "")}\n" + string.Join("\n", p.Output.Split('\n').TakeLast(40))));

    public static async Task<Topology> StartAsync()
    {
        var t = new Topology();
        try
        {
            await t.CreateServersAsync();
            t.StartServices();
            await t.WaitReadyAsync();
            return t;
        }
        catch
        {
            await t.DisposeAsync();
            throw;
        }
    }

    private async Task CreateServersAsync()
    {
        await using (var c = new NpgsqlConnection(Servers.Postgres))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{Database}\"", c);
            await cmd.ExecuteNonQueryAsync();
        }
        var user = Uri.UnescapeDataString(Servers.RabbitMq.UserInfo.Split(':')[0]);
        await Servers.RunAsync("rabbitmqctl", "-q", "add_vhost", VirtualHost);
        await Servers.RunAsync("rabbitmqctl", "-q", "set_permissions", "-p", VirtualHost, user, ".*", ".*", ".*");
    }

    private Dictionary<string, string> Env(string name) => new()
    {
        ["LEDGER_STORE"] = "postgres:" + ConnectionString,
        ["LEDGER_RABBITMQ"] = Broker.ToString(),
        ["LEDGER_API_KEYS"] = Keys,
        ["LEDGER_TRACE_FILE"] = Path.Combine(Dir, name + ".spans.jsonl"),
        ["LEDGER_METRICS_FILE"] = Path.Combine(Dir, name + ".metrics.jsonl"),
        ["OTEL_SERVICE_NAME"] = "ledger-" + name,
    };

    private void StartServices()
    {
        int ingestionPort = FreePort(), gatewayPort = FreePort();
        int ingestion2Port = FreePort();
        Ingestion = Start("ingestion", "RevenueLedger.Ingestion.dll", ["--urls", $"http://127.0.0.1:{ingestionPort}"]);
        Ingestion2 = Start("ingestion-2", "RevenueLedger.Ingestion.dll", ["--urls", $"http://127.0.0.1:{ingestion2Port}"]);
        Gateway = Start("gateway", "RevenueLedger.Gateway.dll", ["--urls", $"http://127.0.0.1:{gatewayPort}"]);
        for (int i = 1; i <= 2; i++)
            Projectors.Add(Start($"projector-{i}", "RevenueLedger.Projector.dll", ["--store", "postgres:" + ConnectionString]));
        Writer = Client(ingestionPort, WriterKey);
        Writer2 = Client(ingestion2Port, WriterKey);
        Reader = Client(gatewayPort, ReaderKey);
        Auditor = Client(gatewayPort, AuditorKey);
        LogReader = Client(ingestionPort, AuditorKey);
    }

    public ServiceProcess Start(string name, string dll, string[] args)
    {
        var p = new ServiceProcess(name, dll, args, Env(name));
        _processes.Add(p);
        return p;
    }

    private static HttpClient Client(int port, string key)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private async Task WaitReadyAsync()
    {
        var clock = Stopwatch.StartNew();
        foreach (var (client, process) in new[] { (Writer, Ingestion), (Writer2, Ingestion2), (Reader, Gateway) })
            while (true)
            {
                Assert.False(process.HasExited, $"{process.Name} exited: {process.Output}");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{process.Name} not ready: {process.Output}");
                try
                {
                    if ((await client.GetAsync("/health/ready")).IsSuccessStatusCode) break;
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }
                await Task.Delay(200);
            }
        foreach (var p in _processes) await p.WaitForOutputAsync("Bus started", TimeSpan.FromSeconds(60));
        _bus = MassTransit.Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(Broker));
        await _bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
    }

    /// <summary>The projector that holds the lease, and the one standing by (waiting for the lease to be taken).</summary>
    public async Task<(ServiceProcess Active, ServiceProcess Standby)> ProjectorRolesAsync()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var active = Projectors.Where(p => !p.HasExited && p.Output.Contains("projector: active", StringComparison.Ordinal)).ToList();
            if (active.Count == 1 && Projectors.Any(p => p != active[0] && p.Output.Contains("projector: standby", StringComparison.Ordinal)))
                return (active[0], Projectors.Single(p => p != active[0] && !p.HasExited));
            Assert.True(active.Count <= 1 && clock.Elapsed < TimeSpan.FromSeconds(30),
                $"exactly one projector must be active, the other standing by: {string.Join("\n---\n", Projectors.Select(p => p.Output))}");
            await Task.Delay(100);
        }
    }

    /// <summary>An AMQP channel on this instance's virtual host, for what non-MassTransit clients do.</summary>
    public async Task<(IConnection, IChannel)> OpenChannelAsync()
    {
        var connection = await new ConnectionFactory { Uri = Broker }.CreateConnectionAsync();
        return (connection, await connection.CreateChannelAsync());
    }

    /// <summary>Every span the processes exported so far.</summary>
    public List<JsonElement> Spans()
    {
        var spans = new List<JsonElement>();
        foreach (var line in Directory.GetFiles(Dir, "*.spans.jsonl").SelectMany(File.ReadAllLines))
        {
            try
            {
                spans.Add(JsonDocument.Parse(line).RootElement.Clone());
            }
            catch (JsonException)
            {
                // the last line of a file still being written; read again on the next look
            }
        }
        return spans;
    }

    /// <summary>The latest value of every metric each process exported: "service/metric" → value.</summary>
    public Dictionary<string, double> Metrics()
    {
        var latest = new Dictionary<string, double>();
        foreach (var line in Directory.GetFiles(Dir, "*.metrics.jsonl").SelectMany(File.ReadAllLines))
        {
            try
            {
                var m = JsonDocument.Parse(line).RootElement;
                latest[$"{m.GetProperty("service").GetString()}/{m.GetProperty("name").GetString()}"] = m.GetProperty("value").GetDouble();
            }
            catch (JsonException)
            {
                // a line still being written
            }
        }
        return latest;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_bus is not null) await _bus.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        foreach (var p in _processes) await p.DisposeAsync();
        foreach (var c in new[] { Writer, Writer2, Reader, Auditor, LogReader }) c?.Dispose();
        try
        {
            NpgsqlConnection.ClearAllPools();
            await using var c = new NpgsqlConnection(Servers.Postgres);
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Database}\" WITH (FORCE)", c);
            await cmd.ExecuteNonQueryAsync();
            await Servers.RunAsync("rabbitmqctl", "-q", "delete_vhost", VirtualHost);
        }
        finally
        {
            Directory.Delete(Dir, recursive: true);
        }
    }
}
