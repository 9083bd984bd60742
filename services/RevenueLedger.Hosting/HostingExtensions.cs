using System.Data.Common;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RevenueLedger.Application;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Hosting;

/// <summary>An HTTP host of the ledger: the service defaults, the stores, per-key rate limits and the store-aware error handler.</summary>
public static class HostingExtensions
{
    public static WebApplicationBuilder AddLedgerHost(this WebApplicationBuilder builder, LedgerComponents defaultComponents)
    {
        var services = builder.Services;
        // Request-by-request framework logs drown what matters; configuration can still turn them back on.
        foreach (var category in new[] { "Microsoft.AspNetCore", "Microsoft.AspNetCore.DataProtection" })
            builder.Configuration[$"Logging:LogLevel:{category}"] ??= category.EndsWith("DataProtection", StringComparison.Ordinal) ? "Error" : "Warning";
        services.AddLedgerCore(builder.Configuration, defaultComponents);
        services.AddLedgerServiceDefaults(sp => sp.GetRequiredService<HostSettings>().ApiKeys is { } spec ? ApiKeyRing.Parse(spec) : ApiKeyRing.Generate());
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = HostSettings.MaxBodyBytes);
        services.AddExceptionHandler<LedgerExceptionHandler>();

        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            var rate = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                // Per key: one client's burst does not starve the others. Unauthenticated requests are refused by
                // authentication before doing any work, and health probes must always answer.
                if (http.User.FindFirstValue(ApiKeyAuthenticationHandler.KeyClaim) is not { } key) return RateLimitPartition.GetNoLimiter("anonymous");
                int perSecond = http.RequestServices.GetRequiredService<HostSettings>().RateLimitPerSecond;
                // Refilled ten times a second (smoothly) when the rate divides evenly, else once a second: exactly the rate.
                var (period, tokens) = perSecond % 10 == 0 ? (TimeSpan.FromMilliseconds(100), perSecond / 10) : (TimeSpan.FromSeconds(1), perSecond);
                return RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = perSecond,
                    TokensPerPeriod = tokens,
                    ReplenishmentPeriod = period,
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            // And queries per key at once: a few expensive reads from one key hold at most this many request threads.
            // Writes are not limited so: each is bounded (a batch at most 1,000 events) and they queue for the log.
            var inFlight = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                http.User.FindFirstValue(ApiKeyAuthenticationHandler.KeyClaim) is not { } key || !HttpMethods.IsGet(http.Request.Method)
                    ? RateLimitPartition.GetNoLimiter("anonymous")
                    : RateLimitPartition.GetConcurrencyLimiter(key, _ => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = http.RequestServices.GetRequiredService<HostSettings>().ConcurrencyPerKey,
                        QueueLimit = 0,
                    }));
            o.GlobalLimiter = PartitionedRateLimiter.CreateChained(rate, inFlight);
            o.OnRejected = async (ctx, ct) =>
            {
                var settings = ctx.HttpContext.RequestServices.GetRequiredService<HostSettings>();
                ctx.HttpContext.Response.Headers.RetryAfter = "1";
                await Problems.WriteAsync(ctx.HttpContext, StatusCodes.Status429TooManyRequests, Problems.RateLimited, "Too many requests",
                    $"this key may make {settings.RateLimitPerSecond} requests per second, {settings.ConcurrencyPerKey} queries at once");
            };
        });

        services.AddLedgerHealthChecks(sp => Readiness(sp.GetRequiredService<HostSettings>()))
            .AddCheck<StoreHealthCheck>("store", tags: [HealthExtensions.ReadyTag]);
        return builder;
    }

    /// <summary>
    /// What every ledger process has, web or not: settings, the stores, the bus (RabbitMQ or in memory), telemetry.
    /// The background jobs belong to the components that run them (the projector's, the ingestion's relay, the
    /// gateway's read-model poller); each host adds the ones it runs.
    /// </summary>
    public static IServiceCollection AddLedgerCore(this IServiceCollection services, IConfiguration config, LedgerComponents defaultComponents)
    {
        // Telemetry first: its listeners must exist before anything else starts.
        services.AddLedgerTelemetry(config, ServiceName(config, defaultComponents));
        services.AddSingleton(sp => HostSettings.From(sp.GetRequiredService<IConfiguration>(), defaultComponents));
        // Opened once, before the first request: a host that cannot reach its store fails at start with the reason.
        services.AddSingleton(sp => LedgerStores.OpenAsync(sp.GetRequiredService<HostSettings>().Store).GetAwaiter().GetResult());
        services.AddSingleton<LedgerSignals>();
        services.AddSingleton<ReadModelWatcher>();
        services.AddSingleton<ProjectorLease>();
        services.AddLedgerBus(config);
        return services;
    }

    private static ReadinessTargets Readiness(HostSettings settings) =>
        new(settings.Store.PostgresConnectionString, settings.RabbitMq);

    private static string ServiceName(IConfiguration config, LedgerComponents defaultComponents) =>
        (config["Ledger:Components"] ?? config["LEDGER_COMPONENTS"] ?? defaultComponents.ToString()).ToLowerInvariant() switch
        {
            "ingestion" => "ledger-ingestion",
            "gateway" => "ledger-gateway",
            "projector" => "ledger-projector",
            _ => "ledger",
        };

    /// <summary>Middleware in the order that matters: errors, authentication, per-key limits, authorization.</summary>
    public static WebApplication UseLedgerHost(this WebApplication app)
    {
        var keys = app.Services.GetRequiredService<ApiKeyRing>();
        if (keys.Generated is { } generated)
        {
            var urls = app.Configuration["urls"] ?? app.Configuration["ASPNETCORE_URLS"] ?? "http://localhost:5000";
            if (!IsLoopbackOnly(urls))
                throw new LedgerUsageException($"no API keys configured (LEDGER_API_KEYS): refusing to listen on {urls}; generated keys are for loopback only");
            // Printed once, to the console only (never logged): whoever started the process is who may use them.
            Console.WriteLine("No API keys configured (LEDGER_API_KEYS); generated for this run:");
            foreach (var (role, secret) in generated) Console.WriteLine($"  {role,-8} {secret}");
        }
        _ = app.Services.GetRequiredService<LedgerStores>();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.MapLedgerHealth();
        app.MapOpenApi().AllowAnonymous();
        return app;
    }

    /// <summary>True when every URL binds a loopback address (or localhost).</summary>
    public static bool IsLoopbackOnly(string urls) => urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).All(u =>
        Uri.TryCreate(u, UriKind.Absolute, out var parsed)
        && (parsed.Host == "localhost" || (System.Net.IPAddress.TryParse(parsed.Host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip))));

    public static LedgerComponents Components(this WebApplication app) => app.Services.GetRequiredService<HostSettings>().Components;
}

/// <summary>Ready when the log answers.</summary>
public sealed class StoreHealthCheck(LedgerStores stores) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(TimeSpan.FromSeconds(2));
            var head = await stores.Log.GetHeadAsync(cts.Token);
            return HealthCheckResult.Healthy($"log head at position {head.Position}");
        }
        catch (Exception ex) when (ex is DbException or IOException or TimeoutException or OperationCanceledException)
        {
            stores.OnFailure(ex);
            return HealthCheckResult.Unhealthy("the store does not answer", ex);
        }
    }
}

/// <summary>
/// Unhandled errors as problem details: a store that is down is 503 (retry later; nothing was stored), a caller's
/// mistake 400, a body over the limit 413, anything else 500. Every one is logged by the middleware.
/// </summary>
public sealed class LedgerExceptionHandler(LedgerStores stores, ILogger<LedgerExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var (status, code, title, detail) = exception switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                (413, Problems.BodyTooLarge, "Request body too large", $"the body may be at most {HostSettings.MaxBodyBytes} bytes"),
            BadHttpRequestException b => (b.StatusCode, Problems.InvalidQuery, "Bad request", b.Message),
            LedgerUsageException u => (400, Problems.InvalidQuery, "Bad request", u.Message),
            DbException or TimeoutException or IOException => (503, Problems.Unavailable, "The store is unavailable", "nothing was stored; retry later"),
            _ => (500, Problems.Internal, "Internal error", "the error was logged"),
        };
        if (status >= 500) logger.LogError(exception, "{Method} {Path} failed", http.Request.Method, http.Request.Path);
        stores.OnFailure(exception);
        if (status == 503) http.Response.Headers.RetryAfter = "5";
        await Problems.WriteAsync(http, status, code, title, detail);
        return true;
    }
}
