using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Npgsql;
using OpenTelemetry.Logs;

namespace RevenueLedger.ServiceDefaults;

/// <summary>
/// The ledger's own spans and metrics. A submission's trace context is stored beside its event, so the relay and
/// the projectors continue the submitter's trace, however much later and in whichever process they handle it.
/// </summary>
public static class LedgerTelemetry
{
    public const string Name = "RevenueLedger";

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);

    public static readonly Counter<long> EventsAppended = Meter.CreateCounter<long>("ledger.events.appended", "{event}", "Events appended to the log (rate: appends/s)");

    public static readonly Histogram<double> AppendDuration = Meter.CreateHistogram<double>("ledger.append.duration", "s", "Deciding and appending one group commit or batch");

    private static long _projectionLagPositions;
    private static double _projectionLagSeconds;
    private static long _relayLagPositions;

    private static readonly ObservableGauge<long> ProjectionLagGauge =
        Meter.CreateObservableGauge("ledger.projection.lag", () => Volatile.Read(ref _projectionLagPositions), "{position}", "Log head minus the projector's checkpoint");

    private static readonly ObservableGauge<double> ProjectionLagTimeGauge =
        Meter.CreateObservableGauge("ledger.projection.lag.time", () => Volatile.Read(ref _projectionLagSeconds), "s", "From an event's recording to its projection (last step)");

    static LedgerTelemetry()
    {
        Meter.CreateObservableGauge("ledger.relay.lag", () => Volatile.Read(ref _relayLagPositions), "{position}", "Log head minus the relay's cursor");
    }

    /// <summary>Whether anything collects the projection lags: measuring them costs a query per step, so only then.</summary>
    public static bool ProjectionLagObserved => ProjectionLagGauge.Enabled || ProjectionLagTimeGauge.Enabled;

    public static void ProjectionLag(long positions) => Volatile.Write(ref _projectionLagPositions, positions);

    /// <summary>From the recording of a step's last event to the step's commit: how stale the read models were.</summary>
    public static void ProjectionLagTime(double seconds) => Volatile.Write(ref _projectionLagSeconds, seconds);

    public static void RelayLag(long positions) => Volatile.Write(ref _relayLagPositions, positions);

    /// <summary>The current span's context as a W3C traceparent, to store with an event; null when it is not recorded (nothing would continue it).</summary>
    public static string? CurrentContext() => Activity.Current is { IdFormat: ActivityIdFormat.W3C, Recorded: true } a ? a.Id : null;

    /// <summary>A span continuing a stored submission's trace (a root span when there is none or it does not parse).</summary>
    public static Activity? StartContinuing(string name, ActivityKind kind, string? storedContext) =>
        storedContext is not null && ActivityContext.TryParse(storedContext, null, out var parent)
            ? Source.StartActivity(name, kind, parent)
            : Source.StartActivity(name, kind);

    /// <summary>
    /// OpenTelemetry through <c>AddOpenTelemetry()</c>: traces, metrics and logs with the standard resource and
    /// exporter variables (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, <c>OTEL_TRACES_EXPORTER</c> / <c>OTEL_METRICS_EXPORTER</c> /
    /// <c>OTEL_LOGS_EXPORTER</c> = <c>otlp</c> | <c>none</c>, <c>OTEL_SERVICE_NAME</c>); <c>LEDGER_TRACE_FILE</c> /
    /// <c>LEDGER_METRICS_FILE</c> also write every span, and every metric each second, as JSON lines (for tests and a
    /// look without a collector). Nothing is registered when nothing is to be exported: a recorded span is a stored
    /// trace context per event and a few microseconds per append, which a process nobody observes should not pay.
    /// </summary>
    public static IServiceCollection AddLedgerTelemetry(this IServiceCollection services, IConfiguration config, string serviceName)
    {
        bool anyOtlp = config["OTEL_EXPORTER_OTLP_ENDPOINT"] is { Length: > 0 };
        bool Otlp(string signal) => !string.Equals(config[$"OTEL_{signal}_EXPORTER"], "none", StringComparison.OrdinalIgnoreCase)
            && (anyOtlp || config[$"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"] is { Length: > 0 }
                || string.Equals(config[$"OTEL_{signal}_EXPORTER"], "otlp", StringComparison.OrdinalIgnoreCase));
        bool otlpTraces = Otlp("TRACES"), otlpMetrics = Otlp("METRICS"), otlpLogs = Otlp("LOGS");
        string? file = config["LEDGER_TRACE_FILE"] is { Length: > 0 } f ? f : null;
        string? metricsFile = config["LEDGER_METRICS_FILE"] is { Length: > 0 } mf ? mf : null;
        bool traces = otlpTraces || file is not null, metrics = otlpMetrics || metricsFile is not null;
        if (!traces && !metrics && !otlpLogs) return services;

        // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the component's default name.
        var name = config["OTEL_SERVICE_NAME"] is { Length: > 0 } configured ? configured : serviceName;
        var otel = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(name, serviceInstanceId: $"{Environment.MachineName}-{Environment.ProcessId}"));
        if (traces)
            otel.WithTracing(t =>
            {
                t.AddSource(Name, "MassTransit")
                    .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/health"))
                    .AddHttpClientInstrumentation()
                    .AddNpgsql();
                if (otlpTraces) t.AddOtlpExporter();
                if (file is not null) t.AddProcessor(new SimpleActivityExportProcessor(new JsonLinesSpanExporter(file, name)));
            });
        if (metrics)
            otel.WithMetrics(m =>
            {
                m.AddMeter(Name, "MassTransit")
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddNpgsqlInstrumentation();
                if (otlpMetrics) m.AddOtlpExporter();
                if (metricsFile is not null) m.AddReader(new PeriodicExportingMetricReader(new JsonLinesMetricExporter(metricsFile, name), 1_000));
            });
        if (otlpLogs) otel.WithLogging(l => l.AddOtlpExporter());
        return services;
    }
}

/// <summary>Every finished span as one JSON line: trace, span and parent ids, name, source, service, duration, tags.</summary>
internal sealed class JsonLinesSpanExporter(string path, string service) : BaseExporter<Activity>
{
    private readonly Lock _lock = new();

    public override ExportResult Export(in Batch<Activity> batch)
    {
        var lines = new List<string>();
        foreach (var a in batch)
            lines.Add(JsonSerializer.Serialize(new
            {
                traceId = a.TraceId.ToHexString(),
                spanId = a.SpanId.ToHexString(),
                parentSpanId = a.ParentSpanId == default ? null : a.ParentSpanId.ToHexString(),
                name = a.DisplayName,
                source = a.Source.Name,
                kind = a.Kind.ToString(),
                service,
                start = a.StartTimeUtc,
                durationMs = a.Duration.TotalMilliseconds,
                tags = a.TagObjects.ToDictionary(t => t.Key, t => t.Value?.ToString()),
            }));
        try
        {
            lock (_lock) File.AppendAllLines(path, lines);
            return ExportResult.Success;
        }
        catch (IOException)
        {
            return ExportResult.Failure;
        }
    }
}

/// <summary>Every metric point as one JSON line: name, unit, service, the value (a histogram's count and sum).</summary>
internal sealed class JsonLinesMetricExporter(string path, string service) : BaseExporter<Metric>
{
    public override ExportResult Export(in Batch<Metric> batch)
    {
        var lines = new List<string>();
        foreach (var metric in batch)
            foreach (ref readonly var point in metric.GetMetricPoints())
            {
                (double Value, double? Sum) reading = metric.MetricType switch
                {
                    MetricType.LongSum or MetricType.LongSumNonMonotonic => (point.GetSumLong(), null),
                    MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic => (point.GetSumDouble(), null),
                    MetricType.LongGauge => (point.GetGaugeLastValueLong(), null),
                    MetricType.DoubleGauge => (point.GetGaugeLastValueDouble(), null),
                    MetricType.Histogram => (point.GetHistogramCount(), point.GetHistogramSum()),
                    _ => (double.NaN, null),
                };
                var (value, sum) = reading;
                if (double.IsNaN(value)) continue;
                lines.Add(JsonSerializer.Serialize(new { name = metric.Name, unit = metric.Unit, service, type = metric.MetricType.ToString(), value, sum, time = point.EndTime }));
            }
        try
        {
            File.AppendAllLines(path, lines);
            return ExportResult.Success;
        }
        catch (IOException)
        {
            return ExportResult.Failure;
        }
    }
}
