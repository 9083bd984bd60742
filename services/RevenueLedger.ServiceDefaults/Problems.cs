using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using RevenueLedger.Domain;

namespace RevenueLedger.ServiceDefaults;

/// <summary>
/// RFC 9457 problem details with stable types: <c>https://revenueledger.dev/problems/&lt;code&gt;</c>, where the code
/// is the ledger's error code (<see cref="ErrorCodes"/>) or one of the HTTP-level codes below. Clients match on the type.
/// </summary>
public static class Problems
{
    public const string TypePrefix = "https://revenueledger.dev/problems/";

    public const string InvalidQuery = "invalid-query";
    public const string InvalidBatch = "invalid-batch";
    public const string BatchTooLarge = "batch-too-large";
    public const string BodyTooLarge = "body-too-large";
    public const string NotFound = "not-found";
    public const string UnsupportedMediaType = "unsupported-media-type";
    public const string QueryTimeout = "query-timeout";
    public const string MethodNotAllowed = "method-not-allowed";
    public const string NotCaughtUp = "read-model-not-caught-up";
    public const string RateLimited = "rate-limited";
    public const string Unavailable = "store-unavailable";
    public const string Internal = "internal-error";
    public const string RebuildRunning = "rebuild-running";
    public const string InvalidBillingFile = "invalid-billing-file";
    public const string NoDigest = "no-digest";

    public static string Type(string code) => TypePrefix + code;

    public static ProblemHttpResult Result(int status, string code, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail, null, status, title, Type(code), extensions);

    public static ProblemHttpResult Query(string parameter, string detail) =>
        Result(StatusCodes.Status400BadRequest, InvalidQuery, "Invalid query parameter", detail, new Dictionary<string, object?> { ["parameter"] = parameter });

    /// <summary>A refused submission (spec §2): invalid → 400, conflict → 409, rejected → 422.</summary>
    public static ProblemHttpResult Refusal(LedgerError error, string? eventId, int? index = null)
    {
        var (status, title) = error.Outcome switch
        {
            Outcome.Invalid => (StatusCodes.Status400BadRequest, "Invalid event"),
            Outcome.Conflict => (StatusCodes.Status409Conflict, "Event id already used for a different event"),
            _ => (StatusCodes.Status422UnprocessableEntity, "Refused by the ledger's rules"),
        };
        var ext = new Dictionary<string, object?> { ["outcome"] = error.Outcome.WireName(), ["code"] = error.Code };
        if (error.Field is not null) ext["field"] = error.Field;
        if (error.Outcome == Outcome.Rejected) ext["rule"] = error.Code;
        if (eventId is not null) ext["eventId"] = eventId;
        if (index is not null) ext["index"] = index;
        return Result(status, error.Code, title, index is { } i ? $"item {i}: {error.Message}" : error.Message, ext);
    }

    /// <summary>For middleware that answers before any endpoint runs (authentication, rate limits, limits).</summary>
    public static Task WriteAsync(HttpContext http, int status, string code, string title, string detail) =>
        Result(status, code, title, detail).ExecuteAsync(http);
}
