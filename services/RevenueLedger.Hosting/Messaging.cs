using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RevenueLedger.Contracts;

namespace RevenueLedger.Hosting;

/// <summary>A part of a host with endpoints on the bus; every registered part is asked once, when the bus is built.</summary>
public interface IBusEndpoints
{
    void Configure(IBusRegistrationContext context, IBusFactoryConfigurator bus);
}

/// <summary>Queue names other systems send to: part of the public interface, like the HTTP paths.</summary>
public static class Queues
{
    /// <summary><see cref="RecordRevenueEvent"/> and <see cref="RecordRevenueEvents"/> in MassTransit's envelope.</summary>
    public const string Commands = "ledger-record-revenue-event";

    /// <summary>Plain JSON bodies (the spec's event wire format), from any AMQP client: no envelope, no headers needed.</summary>
    public const string RawJson = "ledger-revenue-events-json";
}

public static class MessagingExtensions
{
    /// <summary>
    /// MassTransit over RabbitMQ when <c>LEDGER_RABBITMQ</c> (an amqp:// URI) is set, else the in-memory transport:
    /// the same endpoints and messages either way, so the embedded <c>ledger serve</c> runs the distributed code.
    /// </summary>
    public static IServiceCollection AddLedgerBus(this IServiceCollection services, IConfiguration config)
    {
        var rabbit = HostSettings.RabbitMqFrom(config);
        services.AddMassTransit(x =>
        {
            // The broker is not the store: a host whose broker is away still serves HTTP, so it stays ready.
            x.ConfigureHealthCheckOptions(o =>
            {
                o.Name = "bus";
                o.Tags.Clear();
                o.Tags.Add("bus");
                o.MinimalFailureStatus = HealthStatus.Degraded;
            });
            if (rabbit is null)
                x.UsingInMemory((context, bus) => ConfigureEndpoints(context, bus));
            else
                x.UsingRabbitMq((context, bus) =>
                {
                    bus.Host(rabbit, h => h.ConnectionName($"revenueledger-{Environment.ProcessId}"));
                    ConfigureEndpoints(context, bus);
                });
        });
        // Hosts start without waiting for the broker: HTTP ingestion and queries work while it is away, and the bus
        // connects (and reconnects) in the background.
        services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = false;
            o.StopTimeout = TimeSpan.FromSeconds(10);
        });
        services.AddSingleton<IBusEndpoints, NotificationEndpoints>();
        services.AddAnnouncer<LedgerAdvanced>();
        services.AddAnnouncer<ReadModelAdvanced>();
        return services;
    }

    private static void AddAnnouncer<T>(this IServiceCollection services) where T : class
    {
        services.AddSingleton<Announcer<T>>();
        services.AddHostedService(sp => sp.GetRequiredService<Announcer<T>>());
    }

    private static void ConfigureEndpoints(IBusRegistrationContext context, IBusFactoryConfigurator bus)
    {
        foreach (var part in context.GetServices<IBusEndpoints>()) part.Configure(context, bus);
    }

    /// <summary>
    /// Transient failures (the database restarting, a timeout) are retried with backoff for about 20 minutes while the
    /// message stays unacknowledged on the broker (inside RabbitMQ's 30-minute consumer timeout); a message still failing
    /// then goes to the error queue, from where it can be moved back. Permanent failures are not retried.
    /// </summary>
    public static void UseStoreRetry(this IReceiveEndpointConfigurator endpoint) => endpoint.UseMessageRetry(r =>
    {
        r.Handle<Npgsql.NpgsqlException>(LedgerStores.IsConnectionLoss);
        r.Handle<Microsoft.Data.Sqlite.SqliteException>(e => e.SqliteErrorCode is 5 or 6); // SQLITE_BUSY, SQLITE_LOCKED
        r.Handle<TimeoutException>();
        r.Handle<IOException>();
        r.Exponential(50, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500));
    });
}

/// <summary>
/// Each process's own queue (temporary: deleted when the process goes) for the notifications every instance must see:
/// projectors wake on <see cref="LedgerAdvanced"/>, gateways learn of <see cref="ReadModelAdvanced"/>.
/// </summary>
internal sealed class NotificationEndpoints(HostSettings settings) : IBusEndpoints
{
    public void Configure(IBusRegistrationContext context, IBusFactoryConfigurator bus)
    {
        // Projectors wake on appends, and so does the relay (in every ingestion instance: whichever holds its lease).
        bool projector = settings.Components.HasFlag(LedgerComponents.Projector) || settings.Components.HasFlag(LedgerComponents.Ingestion);
        bool gateway = settings.Components.HasFlag(LedgerComponents.Gateway);
        if (!projector && !gateway) return;
        bus.ReceiveEndpoint(new TemporaryEndpointDefinition("notifications"), DefaultEndpointNameFormatter.Instance, e =>
        {
            // Resolved when a message arrives, not while the bus is built (the signals publish through the bus).
            if (projector)
                e.Handler<LedgerAdvanced>(m =>
                {
                    context.GetRequiredService<LedgerSignals>().Heard(m.Message.Position);
                    return Task.CompletedTask;
                });
            if (gateway)
                e.Handler<ReadModelAdvanced>(m =>
                {
                    context.GetRequiredService<ReadModelWatcher>().Publish(m.Message.Generation, m.Message.Position);
                    return Task.CompletedTask;
                });
        });
    }
}

/// <summary>
/// Publishes the latest of a notification in the background: a burst collapses into its newest message, and a
/// broker that is away delays notifications without slowing writes (the slow polls cover what is missed).
/// </summary>
public sealed class Announcer<T>(IBus bus, ILogger<Announcer<T>> logger) : BackgroundService where T : class
{
    private readonly Channel<T> _latest = Channel.CreateBounded<T>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });

    public void Announce(T message) => _latest.Writer.TryWrite(message);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _latest.Reader.WaitToReadAsync(stoppingToken))
            {
                if (!_latest.Reader.TryRead(out var message)) continue;
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    timeout.CancelAfter(TimeSpan.FromSeconds(10));
                    await bus.Publish(message, timeout.Token);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning("could not publish {Message}: {Error}; readers fall back to polling", message, ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }
}
