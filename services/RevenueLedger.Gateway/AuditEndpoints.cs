using System.ComponentModel;
using System.Globalization;
using System.Text;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.EventStore.Audit;
using RevenueLedger.Hosting;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Gateway;

/// <summary>The auditor's and finance's endpoints: the latest signed digest, and reconciliation against billing.</summary>
public static class AuditEndpoints
{
    public static WebApplicationBuilder AddAudit(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(sp => DigestSettings.From(sp.GetRequiredService<IConfiguration>()));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<DigestPublisher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DigestPublisher>());
        return builder;
    }

    public static RouteGroupBuilder MapAudit(this RouteGroupBuilder v1)
    {
        v1.MapGet("/audit/digest", Digest).RequireAuthorization(Policies.Audit).RejectUnknownQueryParameters()
            .WithSummary("The latest signed digest of the log's head (docs/audit.md); check it with `ledger verify --digest` or openssl")
            .Produces(200, contentType: "application/json").ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);
        v1.MapPost("/reconcile", ReconcileAsync).RequireAuthorization(Policies.Report).RejectUnknownQueryParameters()
            .Accepts<string>("text/csv")
            .WithSummary("Compare the ledger's MRR per account at the end of each date with a billing export (CSV body: accountId,date,mrr,currency)")
            .WithDescription("Answers the totals per status and currency and every difference (JSON), or the differences as CSV with Accept: text/csv. Column names are mappable; asOfPosition (auditor) reconciles what was known then.")
            .Produces<ReconcileAnswer>(200).Produces(200, contentType: "text/csv")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);
        return v1;
    }

    private static IResult Digest(DigestPublisher publisher) => publisher.Latest is { } d
        ? Results.Text(d.ToJson(), "application/json", Encoding.UTF8)
        : Problems.Result(StatusCodes.Status404NotFound, Problems.NoDigest, "No digest yet",
            publisher.Enabled ? "no event has been stored since this service started signing" : "this service signs no digests: set LEDGER_DIGEST_KEY to a private key from `ledger keys create`");

    private static async Task<IResult> ReconcileAsync(HttpContext http, ReportSource source, LedgerStores stores,
        [Description("Reconcile as known at this log position (auditor)")] string? asOfPosition,
        [Description("Column holding the account id (default accountId)")] string? accountColumn,
        [Description("Column holding the date (default date)")] string? dateColumn,
        [Description("Column holding the MRR (default mrr)")] string? mrrColumn,
        [Description("Column holding the currency (default currency)")] string? currencyColumn,
        CancellationToken ct)
    {
        long? asOf = null;
        if (asOfPosition is not null)
        {
            if (!long.TryParse(asOfPosition, NumberStyles.None, CultureInfo.InvariantCulture, out var p))
                return Problems.Query("asOfPosition", $"asOfPosition must be a non-negative whole number, got '{asOfPosition}'");
            if (!http.User.IsInRole(Roles.Auditor))
                return Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "Not allowed for this key's role", "reconciling as of a past position needs an auditor key");
            long head = (await stores.Log.GetHeadAsync(ct)).Position;
            if (p > head) return Problems.Query("asOfPosition", $"asOfPosition {p} is beyond the ledger's head ({head})");
            asOf = p;
        }
        using var body = await RequestBody.ReadAsync(http.Request, ct);
        if (body is null) return RequestBody.TooLarge();
        List<BillingRow> billing;
        try
        {
            using var reader = new StreamReader(new MemoryStream(body.Memory.ToArray()), Encoding.UTF8);
            billing = BillingCsv.Read(reader, new BillingCsv.Columns(accountColumn ?? "accountId", dateColumn ?? "date", mrrColumn ?? "mrr", currencyColumn ?? "currency"));
        }
        catch (LedgerUsageException ex)
        {
            return Problems.Result(StatusCodes.Status400BadRequest, Problems.InvalidBillingFile, "Invalid billing file", ex.Message);
        }
        var snapshot = asOf is { } at ? await source.AsOfAsync(at, ct) : await source.HistoriesAsync(ct);
        ReconcileResult result;
        try
        {
            result = Reconciliation.Reconcile(snapshot, billing);
        }
        catch (LedgerUsageException ex)
        {
            return Problems.Result(StatusCodes.Status400BadRequest, Problems.InvalidBillingFile, "Invalid billing file", ex.Message);
        }
        http.Response.Headers[GatewayEndpoints.PositionHeader] = result.Position.ToString(CultureInfo.InvariantCulture);
        if (http.Request.Headers.Accept.Any(a => a is not null && a.Contains("text/csv", StringComparison.OrdinalIgnoreCase)))
            return Results.Text(Reconciliation.DifferencesCsv(result), "text/csv", Encoding.UTF8);
        return TypedResults.Ok(new ReconcileAnswer(result.Position, result.Dates, result.BillingRows, result.AllMatched,
            result.Totals.Select(t => new ReconcileTotalRow(Reconciliation.StatusName(t.Status), t.Currency, t.Rows, Money.Format(t.LedgerMrr), Money.Format(t.BillingMrr))).ToList(),
            result.Differences.Select(i => new ReconcileDifference(i.AccountId, Dates.Format(i.Date), Reconciliation.StatusName(i.Status),
                i.LedgerMrr is { } l ? Money.Format(l) : null, i.LedgerCurrency, i.BillingMrr is { } b ? Money.Format(b) : null, i.BillingCurrency, i.Difference is { } d ? Money.Format(d) : null)).ToList()));
    }
}

/// <summary>POST /v1/reconcile's answer: money as exact decimal strings, as everywhere in the API.</summary>
public sealed record ReconcileAnswer(long Position, int Dates, long BillingLines, bool AllMatched, IReadOnlyList<ReconcileTotalRow> Totals, IReadOnlyList<ReconcileDifference> Differences);

public sealed record ReconcileTotalRow(string Status, string Currency, long Rows, string LedgerMrr, string BillingMrr);

public sealed record ReconcileDifference(string AccountId, string Date, string Status, string? LedgerMrr, string? LedgerCurrency, string? BillingMrr, string? BillingCurrency, string? Difference);
