using System.Text.Json;
using HealthChecks.NpgSql;
using HealthChecks.RabbitMQ;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using RabbitMQ.Client;

namespace RevenueLedger.ServiceDefaults;

/// <summary>What a host's readiness depends on: its PostgreSQL (null on SQLite) and its broker (null on the in-memory bus).</summary>
public sealed record ReadinessTargets(string? PostgresConnectionString, Uri? RabbitMq);

/// <summary>
/// <c>/health/live</c> (the process answers) and <c>/health/ready</c>: the ledger's own store check plus the maintained
/// PostgreSQL and RabbitMQ checks (Xabaril's). A broker that is away makes the host <em>degraded</em>, still 200:
/// HTTP ingestion and queries work without it (the relay catches up when it returns), so a load balancer must not
/// take the host out; a database that is away is 503.
/// </summary>
public static class HealthExtensions
{
    public const string ReadyTag = "ready";

    public static IHealthChecksBuilder AddLedgerHealthChecks(this IServiceCollection services, Func<IServiceProvider, ReadinessTargets> targets)
    {
        services.AddSingleton(sp => new ReadinessChecks(sp, targets(sp)));
        return services.AddHealthChecks()
            .Add(new HealthCheckRegistration("postgresql", sp => sp.GetRequiredService<ReadinessChecks>().Postgres, HealthStatus.Unhealthy, [ReadyTag], TimeSpan.FromSeconds(3)))
            .Add(new HealthCheckRegistration("rabbitmq", sp => sp.GetRequiredService<ReadinessChecks>().Broker, HealthStatus.Degraded, [ReadyTag], TimeSpan.FromSeconds(3)));
    }

    public static IEndpointRouteBuilder MapLedgerHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync }).AllowAnonymous();
        return app;
    }

    /// <summary>The overall status and each check's, so an operator sees which dependency is away (never exception details).</summary>
    private static Task WriteAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(http.Response.Body, new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        }, cancellationToken: http.RequestAborted);
    }
}

/// <summary>The readiness checks of one host, built once (the packages' checks keep their connection between probes).</summary>
internal sealed class ReadinessChecks
{
    private readonly ConnectionFactory? _factory;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private IConnection? _connection;

    public ReadinessChecks(IServiceProvider services, ReadinessTargets targets)
    {
        Postgres = targets.PostgresConnectionString is { } cs
            ? new NpgSqlHealthCheck(new NpgSqlHealthCheckOptions(cs))
            : new NotUsed("the store is SQLite");
        if (targets.RabbitMq is { } uri)
        {
            _factory = new ConnectionFactory { Uri = uri, ClientProvidedName = $"revenueledger-health-{Environment.ProcessId}", RequestedConnectionTimeout = TimeSpan.FromSeconds(2) };
            Broker = new RabbitMQHealthCheck(services, _ => ConnectAsync());
        }
        else Broker = new NotUsed("the bus is in memory");
    }

    public IHealthCheck Postgres { get; }

    public IHealthCheck Broker { get; }

    /// <summary>The open connection, or a new one: a connection lost while the broker was away is replaced, not reused.</summary>
    private async Task<IConnection> ConnectAsync()
    {
        if (_connection is { IsOpen: true } open) return open;
        await _connecting.WaitAsync();
        try
        {
            if (_connection is { IsOpen: true } again) return again;
            if (_connection is { } closed) await closed.DisposeAsync();
            _connection = null;
            return _connection = await _factory!.CreateConnectionAsync();
        }
        finally
        {
            _connecting.Release();
        }
    }

    private sealed class NotUsed(string why) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(HealthCheckResult.Healthy($"not used: {why}"));
    }
}
