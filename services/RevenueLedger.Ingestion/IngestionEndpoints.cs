using System.ComponentModel;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.EventStore;
using RevenueLedger.Hosting;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Ingestion;

public static class IngestionEndpoints
{
    public const int MaxLogPage = 10_000;

    public static WebApplicationBuilder AddIngestion(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SubmissionQueue>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SubmissionQueue>());
        builder.Services.AddSingleton<IBusEndpoints, IngestionBusEndpoints>();
        builder.Services.AddHostedService<RelayService>();
        return builder;
    }

    public static WebApplication MapIngestion(this WebApplication app)
    {
        var v1 = app.MapGroup("/v1").WithTags("Ingestion").RejectUnknownQueryParameters()
            .ProducesProblem(StatusCodes.Status429TooManyRequests).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        v1.MapPost("/events", SubmitAsync)
            .RequireAuthorization(Policies.Submit)
            .Accepts<EventSubmission>("application/json")
            .WithSummary("Submit one revenue event")
            .WithDescription("201 when stored, 200 when the same event (same eventId and content) is already stored. Refusals: 400 invalid, 409 eventId conflict, 422 rejected by a ledger rule; nothing is stored.")
            .ProducesRefusals();
        v1.MapPost("/events/batch", SubmitBatchAsync)
            .RequireAuthorization(Policies.Submit)
            .Accepts<BatchSubmission>("application/json")
            .WithSummary($"Submit up to {HostSettings.MaxBatchEvents} events atomically")
            .WithDescription("All or nothing: stored only when every item is accepted or a duplicate. A refusal names the item index and the rule.")
            .ProducesRefusals();
        v1.MapGet("/accounts/{accountId}/events", AccountEventsAsync)
            .RequireAuthorization(Policies.Audit)
            .WithSummary("An account's stored events (auditor)")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);
        v1.MapGet("/log", LogAsync)
            .RequireAuthorization(Policies.Audit)
            .WithSummary("The log in position order (auditor)")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);
        return app;
    }

    /// <summary>What a submission can be refused with (spec §2) besides the group's 401/403/429/503.</summary>
    private static RouteHandlerBuilder ProducesRefusals(this RouteHandlerBuilder endpoint) => endpoint
        .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
        .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);

    private static async Task<Results<Created<Submitted>, Ok<Submitted>, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, LedgerStores stores, SubmissionQueue queue, CancellationToken ct)
    {
        if (RequestBody.NotJson(request) is { } notJson) return notJson;
        ParseResult parsed;
        using (var body = await RequestBody.ReadAsync(request, ct))
        {
            if (body is null) return (ProblemHttpResult)RequestBody.TooLarge();
            parsed = stores.Ledger.Parse(body.Memory.Span) with { TraceContext = LedgerTelemetry.CurrentContext() };
        }
        var result = parsed.Error is null ? await queue.SubmitAsync(parsed, ct) : new SubmissionResult(parsed.Error.Outcome, null, null, parsed.Error);
        return result.Outcome switch
        {
            Outcome.Accepted => TypedResults.Created($"/v1/log?fromPosition={result.Position}&limit=1", new Submitted(result.EventId!, result.Position!.Value)),
            Outcome.Duplicate => TypedResults.Ok(new Submitted(result.EventId!, result.Position!.Value)),
            _ => Problems.Refusal(result.Error!, result.EventId),
        };
    }

    private static async Task<Results<Created<BatchSubmitted>, Ok<BatchSubmitted>, ProblemHttpResult>> SubmitBatchAsync(
        HttpRequest request, LedgerStores stores, SubmissionQueue queue, CancellationToken ct)
    {
        if (RequestBody.NotJson(request) is { } notJson) return notJson;
        using var body = await RequestBody.ReadAsync(request, ct);
        if (body is null) return (ProblemHttpResult)RequestBody.TooLarge();
        List<ParseResult> items;
        try
        {
            using var doc = JsonDocument.Parse(body.Memory);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("events", out var events) || events.ValueKind != JsonValueKind.Array)
                return BatchProblem(Problems.InvalidBatch, "the body must be {\"events\": [ ... ]}");
            if (doc.RootElement.EnumerateObject().Any(p => p.Name != "events"))
                return BatchProblem(Problems.InvalidBatch, "the body may hold only \"events\"");
            int count = events.GetArrayLength();
            if (count == 0) return BatchProblem(Problems.InvalidBatch, "the batch holds no events");
            if (count > HostSettings.MaxBatchEvents) return BatchProblem(Problems.BatchTooLarge, $"a batch may hold at most {HostSettings.MaxBatchEvents} events, this one holds {count}");
            var trace = LedgerTelemetry.CurrentContext();
            items = events.EnumerateArray().Select(e => stores.Ledger.Parse(e) with { TraceContext = trace }).ToList();
        }
        catch (JsonException ex)
        {
            return Problems.Result(StatusCodes.Status400BadRequest, ErrorCodes.MalformedJson, "Malformed JSON", $"the body is not valid JSON: {ex.Message}");
        }
        var result = await queue.SubmitBatchAsync(items, ct);
        if (!result.Stored)
        {
            var failure = result.Failure!;
            return Problems.Refusal(failure.Error!, failure.EventId, result.FailedIndex);
        }
        var accepted = result.Items.Where(r => r.Outcome == Outcome.Accepted).Select(r => r.Position!.Value).ToList();
        var response = new BatchSubmitted(
            accepted.Count > 0 ? accepted.Min() : null, accepted.Count > 0 ? accepted.Max() : null,
            accepted.Count, result.Items.Count - accepted.Count,
            result.Items.Select((r, i) => new BatchItem(i, r.EventId!, r.Outcome.WireName(), r.Position!.Value)).ToList());
        if (accepted.Count == 0) return TypedResults.Ok(response);
        return TypedResults.Created($"/v1/log?fromPosition={response.FirstPosition}&limit={accepted.Count}", response);

        static ProblemHttpResult BatchProblem(string code, string detail) => Problems.Result(StatusCodes.Status400BadRequest, code, "Invalid batch", detail);
    }

    private static async Task<Results<Ok<AccountEvents>, ProblemHttpResult>> AccountEventsAsync(
        string accountId, HttpResponse response, LedgerStores stores, CancellationToken ct)
    {
        long head = (await stores.Log.GetHeadAsync(ct)).Position;
        var events = (await stores.Log.ReadStreamAsync(accountId, ct)).Where(e => e.Position <= head).ToList();
        if (events.Count == 0)
            return Problems.Result(StatusCodes.Status404NotFound, Problems.NotFound, "No such account", $"no events are stored for account '{accountId}'");
        // Reversals sit in the reversed event's own account stream.
        var reversed = events.Select(e => e.Event).OfType<EventReversed>().Select(r => r.TargetEventId).ToHashSet(StringComparer.Ordinal);
        response.Headers["Ledger-Position"] = head.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Ok(new AccountEvents(accountId, head, events.Select(e => ToStored(e, reversed)).ToList()));
    }

    private static async Task<Results<Ok<LogPage>, ProblemHttpResult>> LogAsync(
        [Description("First position to return (default 1)")] string? fromPosition,
        [Description($"Most events to return (1–10000, default 1000)")] string? limit,
        HttpResponse response, LedgerStores stores, CancellationToken ct)
    {
        long from = 1;
        int take = 1000;
        if (fromPosition is not null && (!long.TryParse(fromPosition, out from) || from < 1))
            return Problems.Query("fromPosition", $"fromPosition must be a position ≥ 1, got '{fromPosition}'");
        if (limit is not null && (!int.TryParse(limit, out take) || take is < 1 or > MaxLogPage))
            return Problems.Query("limit", $"limit must be between 1 and {MaxLogPage}, got '{limit}'");
        long head = (await stores.Log.GetHeadAsync(ct)).Position;
        var events = new List<RecordedEvent>();
        if (from <= head)
            await foreach (var e in stores.Log.ReadAllAsync(from, Math.Min(head, from + take - 1), ct)) events.Add(e);
        // Whether an event was reversed is known only from reversals recorded up to the head read above.
        var reversed = new HashSet<string>(StringComparer.Ordinal);
        if (events.Count > 0)
            await foreach (var batch in stores.Log.ReadRawAsync(events[0].Position, head, EventTypes.StoredName(typeof(EventReversed)), ct))
                foreach (var r in batch.Parse()) reversed.Add(((EventReversed)r.Event).TargetEventId);
        response.Headers["Ledger-Position"] = head.ToString(System.Globalization.CultureInfo.InvariantCulture);
        long? next = events.Count > 0 && events[^1].Position < head ? events[^1].Position + 1 : null;
        return TypedResults.Ok(new LogPage(from, take, head, next, events.Select(e => ToStored(e, reversed)).ToList()));
    }

    private static StoredEvent ToStored(RecordedEvent e, HashSet<string> reversed)
    {
        using var doc = JsonDocument.Parse(WireFormat.ToWireJson(e.Event));
        return new StoredEvent(e.Position, e.AccountId, e.StreamVersion, EventTypes.WireNameOfStored(e.StoredType) ?? e.StoredType, e.StoredType,
            e.EventId, e.RecordedAt, e.Hash, reversed.Contains(e.EventId), doc.RootElement.Clone());
    }
}
