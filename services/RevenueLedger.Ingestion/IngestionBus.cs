using System.Net.Mime;
using System.Text;
using MassTransit;
using RevenueLedger.Application;
using RevenueLedger.Contracts;
using RevenueLedger.Domain;
using RevenueLedger.Hosting;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Ingestion;

/// <summary>
/// Submissions over the bus, decided and appended exactly as over HTTP (the same parser, rules, group commit and
/// idempotency). A refusal is an answer, not a failure: it is acknowledged and answered with
/// <see cref="RevenueEventRefused"/>. A store outage is a failure: retried with backoff, the message kept on the
/// broker meanwhile. Anything else (a body that is not JSON at all) ends in the queue's <c>_error</c> queue.
/// </summary>
internal sealed class IngestionBusEndpoints(HostSettings settings) : IBusEndpoints
{
    public void Configure(IBusRegistrationContext context, IBusFactoryConfigurator bus)
    {
        if (!settings.Components.HasFlag(LedgerComponents.Ingestion)) return;
        bus.ReceiveEndpoint(Queues.Commands, e =>
        {
            e.UseStoreRetry();
            e.Consumer(() => new RecordRevenueEventConsumer(context.GetRequiredService<SubmissionQueue>()));
            e.Consumer(() => new RecordRevenueEventsConsumer(context.GetRequiredService<SubmissionQueue>()));
        });
        // For systems that are not MassTransit: the body is the event itself, no envelope, no content type needed.
        bus.ReceiveEndpoint(Queues.RawJson, e =>
        {
            e.ConfigureConsumeTopology = false;
            e.DefaultContentType = new ContentType("application/json");
            e.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
            e.UseStoreRetry();
            e.Consumer(() => new RawRevenueEventConsumer(context.GetRequiredService<SubmissionQueue>()));
        });
    }

    /// <summary>
    /// Delivery is at least once, so an event sent without eventId gets one that a redelivery reproduces: from the
    /// message id, or, without one either, from the body's content (the same body twice is then one event).
    /// </summary>
    internal static ParseResult Parse(ConsumeContext context, string json, int? index = null)
    {
        string source = context.MessageId is { } id
            ? $"msg-{id:N}"
            : "body-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..32];
        var parsed = WireFormat.Parse(json, () => index is { } i ? $"{source}-{i}" : source);
        return parsed with { TraceContext = LedgerTelemetry.CurrentContext() };
    }

    internal static async Task AnswerAsync(ConsumeContext context, SubmissionResult result)
    {
        if (result.Outcome is Outcome.Accepted or Outcome.Duplicate)
        {
            if (context.ResponseAddress is not null)
                await context.RespondAsync(new RevenueEventAccepted(result.EventId!, result.Position!.Value, result.Outcome == Outcome.Duplicate));
            return;
        }
        await RefuseAsync(context, result.Error!, result.EventId, null);
    }

    internal static async Task RefuseAsync(ConsumeContext context, LedgerError error, string? eventId, int? index)
    {
        var refused = new RevenueEventRefused(eventId, index, error.Outcome.WireName(), error.Code, error.Field, error.Message);
        if (context.ResponseAddress is not null) await context.RespondAsync(refused);
        else await context.Publish(refused);
    }
}

internal sealed class RecordRevenueEventConsumer(SubmissionQueue queue) : IConsumer<RecordRevenueEvent>
{
    public async Task Consume(ConsumeContext<RecordRevenueEvent> context)
    {
        var parsed = IngestionBusEndpoints.Parse(context, context.Message.Event.GetRawText());
        var result = parsed.Error is null
            ? await queue.SubmitAsync(parsed, context.CancellationToken)
            : new SubmissionResult(parsed.Error.Outcome, null, null, parsed.Error);
        await IngestionBusEndpoints.AnswerAsync(context, result);
    }
}

internal sealed class RecordRevenueEventsConsumer(SubmissionQueue queue) : IConsumer<RecordRevenueEvents>
{
    public async Task Consume(ConsumeContext<RecordRevenueEvents> context)
    {
        var events = context.Message.Events ?? [];
        if (events.Count == 0 || events.Count > HostSettings.MaxBatchEvents)
        {
            var error = LedgerError.Invalid(events.Count == 0 ? Problems.InvalidBatch : Problems.BatchTooLarge, "events",
                events.Count == 0 ? "the batch holds no events" : $"a batch may hold at most {HostSettings.MaxBatchEvents} events, this one holds {events.Count}");
            await IngestionBusEndpoints.RefuseAsync(context, error, null, null);
            return;
        }
        var items = events.Select((e, i) => IngestionBusEndpoints.Parse(context, e.GetRawText(), i)).ToList();
        var result = await queue.SubmitBatchAsync(items, context.CancellationToken);
        if (!result.Stored)
        {
            var failure = result.Failure!;
            await IngestionBusEndpoints.RefuseAsync(context, failure.Error!, failure.EventId, result.FailedIndex);
            return;
        }
        var accepted = result.Items.Where(r => r.Outcome == Outcome.Accepted).Select(r => r.Position!.Value).ToList();
        if (context.ResponseAddress is not null)
            await context.RespondAsync(new RevenueEventsAccepted(
                accepted.Count > 0 ? accepted.Min() : null, accepted.Count > 0 ? accepted.Max() : null, accepted.Count, result.Items.Count - accepted.Count,
                result.Items.Select((r, i) => new RevenueEventOutcome(i, r.EventId!, r.Outcome.WireName(), r.Position!.Value)).ToList()));
    }
}

/// <summary>The plain-JSON queue's message: only a handle, the consumer reads the body itself with the ledger's parser.</summary>
public sealed class RawRevenueEvent;

internal sealed class RawRevenueEventConsumer(SubmissionQueue queue) : IConsumer<RawRevenueEvent>
{
    public async Task Consume(ConsumeContext<RawRevenueEvent> context)
    {
        var json = Encoding.UTF8.GetString(context.ReceiveContext.Body.GetBytes());
        var parsed = IngestionBusEndpoints.Parse(context, json);
        var result = parsed.Error is null
            ? await queue.SubmitAsync(parsed, context.CancellationToken)
            : new SubmissionResult(parsed.Error.Outcome, null, null, parsed.Error);
        await IngestionBusEndpoints.AnswerAsync(context, result);
    }
}
