using System.Collections.Concurrent;
using System.ComponentModel;
using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using RevenueLedger.Application;
using RevenueLedger.Dashboard;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Hosting;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Gateway;

public static class GatewayEndpoints
{
    public const string PositionHeader = "Ledger-Position";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ReportSource>();
        builder.Services.AddSingleton<AnswerCache>();
        builder.Services.AddSingleton<RebuildRunner>();
        builder.Services.AddHostedService<ReadModelPoller>();
        builder.AddAudit();
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        var v1 = app.MapGroup("/v1").WithTags("Gateway");
        var reports = v1.MapGroup("").RequireAuthorization(Policies.Report)
            .AddEndpointFilter(async (ctx, next) =>
            {
                // Every answer states the position it reflects; refusals state what the gateway has seen.
                var result = await next(ctx);
                var headers = ctx.HttpContext.Response.Headers;
                if (!headers.ContainsKey(PositionHeader))
                    headers[PositionHeader] = ctx.HttpContext.RequestServices.GetRequiredService<ReadModelWatcher>().Position.ToString(CultureInfo.InvariantCulture);
                return result;
            })
            .RejectUnknownQueryParameters() // inside the filter above: its refusals state the position too
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity) // fx-rate-missing, amount-overflow (spec §10)
            .ProducesProblem(StatusCodes.Status429TooManyRequests).ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        reports.MapGet("/nrr", ([AsParameters] RangeQuery q, [AsParameters] ReportContext c) => RangeReportAsync(c, ReportPart.Nrr, q)).WithSummary("NRR and GRR cohort rows for one date range [from, to)")
            .Produces<NrrReport>(200).Produces(200, contentType: "text/csv");
        reports.MapGet("/nrr/windows", ([AsParameters] WindowsQuery q, [AsParameters] ReportContext c) => WindowsReportAsync(c, ReportPart.Nrr, q)).WithSummary("NRR and GRR cohort rows per calendar window")
            .Produces<NrrWindows>(200).Produces(200, contentType: "text/csv");
        reports.MapGet("/bridge", ([AsParameters] RangeQuery q, [AsParameters] ReportContext c) => RangeReportAsync(c, ReportPart.Bridge, q)).WithSummary("MRR bridge rows for one date range [from, to)")
            .Produces<BridgeReport>(200).Produces(200, contentType: "text/csv");
        reports.MapGet("/bridge/windows", ([AsParameters] WindowsQuery q, [AsParameters] ReportContext c) => WindowsReportAsync(c, ReportPart.Bridge, q)).WithSummary("MRR bridge rows per calendar window")
            .Produces<BridgeWindows>(200).Produces(200, contentType: "text/csv");
        reports.MapGet("/churn-reasons", ChurnReasonsAsync).WithSummary("Churned MRR by reason (Pareto), company-wide or for one owner")
            .Produces<ChurnReasonsReport>(200).Produces(200, contentType: "text/csv");
        reports.MapGet("/ledger", LedgerInfoAsync).WithSummary("What the book covers: position, effective dates, currencies, owners, the default reporting currency and range")
            .Produces<LedgerInfo>(200);
        reports.MapGet("/positions", PositionAsync).WithSummary("The last log position recorded before a day began (for \"as known on\" that day's eve)")
            .Produces<PositionAt>(200);
        reports.MapGet("/accounts", AccountsAsync).WithSummary("The accounts an owner held on a range's first day or its last, with their MRR then (native currency)")
            .Produces<AccountsReport>(200);
        reports.MapGet("/accounts/{accountId}/timeline", TimelineAsync).WithSummary("An account's daily MRR movements")
            .Produces<AccountTimeline>(200).Produces(200, contentType: "text/csv").ProducesProblem(StatusCodes.Status404NotFound);

        reports.MapInsights();
        v1.MapAudit();

        var admin = v1.MapGroup("/admin").RequireAuthorization(Policies.Administer).RejectUnknownQueryParameters()
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);
        admin.MapPost("/rebuild", (RebuildRunner runner) => runner.TryStart() is { } status
                ? Results.Accepted("/v1/admin/rebuild", status)
                : Problems.Result(StatusCodes.Status409Conflict, Problems.RebuildRunning, "A rebuild is running", "wait for it to finish (GET /v1/admin/rebuild)"))
            .WithSummary("Rebuild every read model from position 0 into a new generation, then switch queries to it")
            .Produces<RebuildStatus>(202).ProducesProblem(StatusCodes.Status409Conflict);
        admin.MapGet("/rebuild", (RebuildRunner runner) => TypedResults.Ok(runner.Status)).WithSummary("The last rebuild's status");
        // The page people open: served beside the API it reads, so it shows what every other client gets.
        app.MapDashboard();
        return app;
    }

    private static async Task<IResult> RangeReportAsync(ReportContext c, ReportPart part, RangeQuery query)
    {
        var q = new QueryReader();
        var range = q.Range(query.From, query.To);
        bool byOwner = q.GroupBy(query.GroupBy);
        long? asOf = q.Position("asOfPosition", query.AsOfPosition);
        long? min = q.Position("minPosition", query.MinPosition);
        var currency = q.Currency(query.Currency, c.Settings.Currency);
        if (q.Error is { } error) return error;
        return await AnswerAsync(c, asOf, min, async csv =>
        {
            var window = new Window(range.From, range.To);
            var (position, report) = asOf is { } p
                ? (p, (await c.Source.AsOfAsync(p, c.Ct)).ReportIn(currency, window, byOwner))
                // NRR and bridge rows are summed together, so either answer requires and states the same rates, as
                // the calendar-window answers do (both from one native report).
                : await RangeAsync(c, window, byOwner, ReportParts.Nrr | ReportParts.Bridge, currency, part == ReportPart.Nrr ? ReportParts.Nrr : ReportParts.Bridge);
            if (csv) return (position, Csv([report], part, byOwner));
            object body = part == ReportPart.Nrr
                ? new NrrReport(position, Dates.Format(window.From), Dates.Format(window.To), report.Currency, Rates(report), NrrRows(report))
                : new BridgeReport(position, Dates.Format(window.From), Dates.Format(window.To), report.Currency, Rates(report), BridgeRows(report));
            return (position, body);
        });
    }

    private static async Task<(long, WindowReport)> RangeAsync(ReportContext c, Window window, bool byOwner, ReportParts parts, string currency, ReportParts? convert = null)
    {
        var snapshot = await c.Source.HistoriesAsync(c.Ct);
        return (snapshot.Position, snapshot.ReportIn(currency, window, byOwner, parts, convert ?? parts));
    }

    private static async Task<IResult> WindowsReportAsync(ReportContext c, ReportPart part, WindowsQuery query)
    {
        var q = new QueryReader();
        var kind = q.WindowKind(query.Window);
        var range = q.Range(query.From, query.To);
        q.Windows(kind, range);
        bool byOwner = q.GroupBy(query.GroupBy);
        long? asOf = q.Position("asOfPosition", query.AsOfPosition);
        long? min = q.Position("minPosition", query.MinPosition);
        var currency = q.Currency(query.Currency, c.Settings.Currency);
        if (q.Error is { } error) return error;
        return await AnswerAsync(c, asOf, min, async csv =>
        {
            var (position, reports) = asOf is { } p
                ? (p, (await c.Source.AsOfAsync(p, c.Ct)).ReportIn(currency, Window.Calendar(kind, range.From, range.To), byOwner))
                : await c.Source.WindowsAsync(kind, range.From, range.To, byOwner, currency, part == ReportPart.Nrr ? ReportParts.Nrr : ReportParts.Bridge, c.Ct);
            if (csv) return (position, Csv(reports, part, byOwner));
            object body = part == ReportPart.Nrr
                ? new NrrWindows(position, currency, reports.Select(r => new NrrWindow(Dates.Format(r.Window.From), Dates.Format(r.Window.To), r.Currency, Rates(r), NrrRows(r))).ToList())
                : new BridgeWindows(position, currency, reports.Select(r => new BridgeWindow(Dates.Format(r.Window.From), Dates.Format(r.Window.To), r.Currency, Rates(r), BridgeRows(r))).ToList());
            return (position, body);
        });
    }

    private static async Task<IResult> ChurnReasonsAsync([AsParameters] ReportContext c,
        [Description("Start date YYYY-MM-DD (inclusive)")] string? from, [Description("End date YYYY-MM-DD (exclusive)")] string? to,
        [Description("One owner's churn; omit (or *) for company-wide")] string? ownerId,
        [Description("Answer as of this log position (auditor)")] string? asOfPosition,
        [Description("Wait up to 5 s for the read models to reach this position")] string? minPosition,
        [Description("Reporting currency (ISO 4217); default: the gateway's (LEDGER_CURRENCY, else USD)")] string? currency)
    {
        var q = new QueryReader();
        var range = q.Range(from, to);
        var reporting = q.Currency(currency, c.Settings.Currency);
        long? asOf = q.Position("asOfPosition", asOfPosition);
        long? min = q.Position("minPosition", minPosition);
        var owner = string.IsNullOrEmpty(ownerId) ? "*" : ownerId;
        if (owner != "*" && !WireFormat.IsValidId(owner)) q.Fail("ownerId", $"ownerId '{ownerId}' is not a valid id");
        if (q.Error is { } error) return error;
        return await AnswerAsync(c, asOf, min, async csv =>
        {
            var window = new Window(range.From, range.To);
            var (position, report) = asOf is { } p
                ? (p, (await c.Source.AsOfAsync(p, c.Ct)).ReportIn(reporting, window, owner != "*", ReportParts.ChurnReasons))
                : await RangeAsync(c, window, owner != "*", ReportParts.ChurnReasons, reporting);
            var rows = owner == "*" ? report.ChurnReasons : report.ChurnReasonsByOwner.Where(r => r.Owner.Id == owner).ToList();
            var pareto = ReportFormats.Pareto(rows).Select(x => new ParetoRowDto(x.Row.Reason, Money.Format(x.Row.MrrLost), x.Row.Accounts, Ratio(x.Share), Ratio(x.Cumulative))).ToList();
            if (csv)
                return (position, ReportFormats.ToCsv(["ownerId", "reason", "mrrLost", "accounts", "share", "cumulativeShare", "currency"],
                    pareto.Select(r => new[] { owner, r.Reason, r.MrrLost, I(r.Accounts), D(r.Share), D(r.CumulativeShare), report.Currency })));
            return (position, new ChurnReasonsReport(position, Dates.Format(window.From), Dates.Format(window.To), owner, report.Currency, Rates(report), pareto));
        });
    }

    private static async Task<IResult> LedgerInfoAsync(HttpContext http, ReportSource source, HostSettings settings, CancellationToken ct)
    {
        var snapshot = await source.HistoriesAsync(ct);
        DateOnly? first = null, last = null;
        var owners = new SortedSet<string>(StringComparer.Ordinal);
        var currencies = new SortedSet<string>(StringComparer.Ordinal) { settings.Currency };
        foreach (var a in snapshot.Accounts)
        {
            if (a.Movements.Count > 0)
            {
                if (first is null || a.Movements[0].Day < first) first = a.Movements[0].Day;
                if (last is null || a.Movements[^1].Day > last) last = a.Movements[^1].Day;
            }
            foreach (var day in a.OwnerChangeDays) if (a.OwnerDuring(day) is { } o) owners.Add(o);
            if (a.Currency.Length > 0) currencies.Add(a.Currency);
        }
        foreach (var r in snapshot.Rates.All) { currencies.Add(r.Currency); currencies.Add(r.QuoteCurrency); }
        // The default range: the eight quarters up to and including the one of the latest movement.
        var end = last ?? new DateOnly(2000, 1, 1);
        var to = new DateOnly(end.Year, (end.Month - 1) / 3 * 3 + 1, 1).AddMonths(3);
        http.Response.Headers[PositionHeader] = snapshot.Position.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Ok(new LedgerInfo(snapshot.Position, settings.Currency, [.. currencies], first is null ? null : Dates.Format(first.Value),
            last is null ? null : Dates.Format(last.Value), snapshot.Accounts.Count, [.. owners], Dates.Format(to.AddYears(-2)), Dates.Format(to)));
    }

    private static async Task<IResult> PositionAsync(HttpContext http, LedgerStores stores,
        [Description("A day YYYY-MM-DD: the answer is the last position recorded before it began (UTC)")] string? recordedBefore, CancellationToken ct)
    {
        var q = new QueryReader();
        if (!Dates.TryParse(recordedBefore, out var day)) q.Fail("recordedBefore", $"recordedBefore '{recordedBefore}' is not a date YYYY-MM-DD");
        if (q.Error is { } error) return error;
        var limit = new DateTimeOffset(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        long head = (await stores.Log.GetHeadAsync(ct)).Position;
        // recordedAt grows with the position (the store stamps each append under its lock): a binary search.
        long low = 0, high = head;
        string? at = null;
        while (low < high)
        {
            long mid = low + (high - low + 1) / 2;
            var e = await stores.Log.ReadAllAsync(mid, mid, ct).FirstAsync(ct);
            if (DateTimeOffset.Parse(e.RecordedAt, CultureInfo.InvariantCulture) < limit) { low = mid; at = e.RecordedAt; } else high = mid - 1;
        }
        return TypedResults.Ok(new PositionAt(low, at, head));
    }

    private static async Task<IResult> AccountsAsync(HttpContext http, ReportSource source,
        [Description("Start date YYYY-MM-DD (inclusive)")] string? from, [Description("End date YYYY-MM-DD (exclusive)")] string? to,
        [Description("The owner whose accounts to list")] string? ownerId, [Description("true: the accounts with no owner instead")] string? unassigned,
        [Description("As known at this log position (auditor)")] string? asOfPosition, CancellationToken ct)
    {
        var q = new QueryReader();
        var range = q.Range(from, to);
        long? asOf = q.Position("asOfPosition", asOfPosition);
        bool none = unassigned is "true";
        if (unassigned is not null and not "true" and not "false") q.Fail("unassigned", $"unassigned '{unassigned}' must be true or false");
        if (none && !string.IsNullOrEmpty(ownerId)) q.Fail("ownerId", "give ownerId or unassigned=true, not both");
        else if (!none && (string.IsNullOrEmpty(ownerId) || !WireFormat.IsValidId(ownerId))) q.Fail("ownerId", $"ownerId '{ownerId}' is not a valid id");
        if (q.Error is { } error) return error;
        if (asOf is not null && !http.User.IsInRole(Roles.Auditor)) return AuditorOnly();
        var snapshot = asOf is { } p ? await source.AsOfAsync(p, ct) : await source.HistoriesAsync(ct);
        string? owner = none ? null : ownerId;
        var closingDay = range.To.AddDays(-1);
        var rows = new List<AccountRow>();
        foreach (var a in snapshot.Accounts)
        {
            string? atStart = a.OwnerDuring(range.From), atEnd = a.OwnerDuring(closingDay);
            if (atStart != owner && atEnd != owner) continue;
            decimal opening = a.MrrAt(range.From), closing = a.MrrAt(range.To);
            if (opening == 0 && closing == 0 && a.FirstMovementFrom(range.From) == a.FirstMovementFrom(range.To)) continue; // nothing in the range
            rows.Add(new AccountRow(a.AccountId, a.Currency, atStart, Money.Format(opening), atEnd, Money.Format(closing)));
        }
        rows.Sort((x, y) => string.CompareOrdinal(x.AccountId, y.AccountId));
        http.Response.Headers[PositionHeader] = snapshot.Position.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Ok(new AccountsReport(snapshot.Position, Dates.Format(range.From), Dates.Format(range.To), owner, rows));
    }

    private static async Task<IResult> TimelineAsync(HttpContext http, string accountId, LedgerStores stores,
        [Description("Answer as of this log position (auditor)")] string? asOfPosition, CancellationToken ct)
    {
        var q = new QueryReader();
        long? asOf = q.Position("asOfPosition", asOfPosition);
        if (q.Error is { } error) return error;
        if (asOf is not null && !http.User.IsInRole(Roles.Auditor)) return AuditorOnly();
        long head = (await stores.Log.GetHeadAsync(ct)).Position;
        if (asOf > head) return Problems.Query("asOfPosition", $"asOfPosition {asOf} is beyond the ledger's head ({head})");
        long position = asOf ?? head;
        var stored = (await stores.Log.ReadStreamAsync(accountId, ct)).Where(e => e.Position <= position).ToList();
        var events = stored.Select(e => e.Event).ToList();
        if (events.Count == 0)
            return Problems.Result(StatusCodes.Status404NotFound, Problems.NotFound, "No such account", $"no events are stored for account '{accountId}' at position {position}");
        var history = LedgerSnapshot.Fold(events).SingleOrDefault();
        var movements = history is null ? [] : history.Movements.Select(m => new TimelineMovement(
            Dates.Format(m.Day), m.Kind.ToString().ToLowerInvariant(), Money.Format(m.Amount), history.OwnerDuring(m.Day),
            Money.Format(m.Before), Money.Format(m.After), m.ChurnReason)).ToList();
        var owners = history is null ? [] : history.OwnerChangeDays.Select(d => new TimelineOwner(Dates.Format(d), history.OwnerDuring(d))).ToList();
        var reversedBy = stored.Select(e => e.Event).OfType<EventReversed>().GroupBy(r => r.TargetEventId).ToDictionary(g => g.Key, g => g.First().EventId);
        var storedEvents = stored.Select(e => new TimelineEvent(e.Position, e.RecordedAt, e.Event.GetType().Name, e.EventId, EffectiveDay(e.Event),
            Detail(e.Event), reversedBy.GetValueOrDefault(e.EventId))).ToList();
        http.Response.Headers[PositionHeader] = position.ToString(CultureInfo.InvariantCulture);
        if (WantsCsv(http))
            return Results.Text(ReportFormats.ToCsv(["day", "kind", "amount", "ownerId", "mrrBefore", "mrrAfter", "churnReason"],
                movements.Select(m => new[] { m.Day, m.Kind, m.Amount, m.OwnerId ?? "", m.MrrBefore, m.MrrAfter, m.ChurnReason ?? "" })), "text/csv", Encoding.UTF8);
        return TypedResults.Ok(new AccountTimeline(position, accountId, history?.Currency ?? "", movements, owners, storedEvents));
    }

    private static string? EffectiveDay(LedgerEvent e) => e switch
    {
        ContractEvent c => Dates.Format(c.EffectiveDate),
        OwnerAssigned o => Dates.Format(o.EffectiveDate),
        _ => null,
    };

    /// <summary>What an event says, in a few words for a person (the stored payload stays the record).</summary>
    private static string Detail(LedgerEvent e) => e switch
    {
        ContractStarted s => $"contract {s.ContractId} started at {Money.Format(s.Mrr)} {s.Currency}",
        ContractExpanded x => $"contract {x.ContractId} +{Money.Format(x.Amount)} {x.Currency}{(x.Reason is null ? "" : $" ({x.Reason})")}",
        ContractContracted x => $"contract {x.ContractId} −{Money.Format(x.Amount)} {x.Currency}{(x.Reason is null ? "" : $" ({x.Reason})")}",
        ContractChurned x => $"contract {x.ContractId} churned{(x.Reason is null ? "" : $" ({x.Reason})")}",
        OwnerAssigned o => $"owner {o.OwnerId}",
        EventReversed r => $"reverses {r.TargetEventId}{(r.Reason is null ? "" : $" ({r.Reason})")}",
        _ => e.GetType().Name,
    };

    /// <summary>
    /// The shared tail of every report: the auditor check for past positions, the <c>minPosition</c> wait, JSON or CSV
    /// by <c>Accept</c>, and a cache of answers that is valid while the read models have not moved past them.
    /// </summary>
    internal static async Task<IResult> AnswerAsync(ReportContext c, long? asOf, long? minPosition, Func<bool, Task<(long Position, object Body)>> compute)
    {
        var (http, watcher, cache) = (c.Http, c.Watcher, c.Cache);
        if (asOf is not null && !http.User.IsInRole(Roles.Auditor)) return AuditorOnly();
        if (asOf is { } p)
        {
            // A position past the head is the caller's mistake, named like every other parameter's.
            long head = (await http.RequestServices.GetRequiredService<LedgerStores>().Log.GetHeadAsync(c.Ct)).Position;
            if (p > head) return Problems.Query("asOfPosition", $"asOfPosition {p} is beyond the ledger's head ({head})");
        }
        if (minPosition is { } min && !await watcher.WaitForAsync(min, HostSettings.MinPositionWait, c.Ct))
        {
            http.Response.Headers.RetryAfter = "1";
            return Problems.Result(StatusCodes.Status503ServiceUnavailable, Problems.NotCaughtUp, "The read models have not reached that position yet",
                $"waited {HostSettings.MinPositionWait.TotalSeconds:F0} s for position {min}; the read models are at {watcher.Position}");
        }
        bool csv = WantsCsv(http);
        var key = $"{http.Request.Path}?{http.Request.QueryString}|{(csv ? "csv" : "json")}";
        int generation = watcher.Generation;
        Answer hit;
        try
        {
            hit = await cache.GetOrComputeAsync(key, asOf is null ? (generation, watcher.Position) : null, async () =>
            {
                var (position, body) = await compute(csv);
                return new Answer(generation, position, body is string text ? Encoding.UTF8.GetBytes(text) : JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), Json),
                    csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8");
            }, c.Ct).WaitAsync(c.Settings.QueryTimeout, c.Ct);
        }
        catch (TimeoutException)
        {
            // An answer, not a hung socket: the computation goes on into the cache, so a retry may find it there.
            http.Response.Headers.RetryAfter = "5";
            return Problems.Result(StatusCodes.Status503ServiceUnavailable, Problems.QueryTimeout, "The query took too long",
                $"it did not finish within {c.Settings.QueryTimeout.TotalSeconds:F0} s; retry later, or ask for a shorter range or fewer windows");
        }
        catch (FxRateMissingException ex)
        {
            // Spec §10: a report that needs a rate the log does not hold is refused, never converted at 1 or 0.
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, ErrorCodes.FxRateMissing, "An exchange rate this report needs is not recorded", ex.Message,
                new Dictionary<string, object?> { ["currency"] = ex.Currency, ["quoteCurrency"] = ex.QuoteCurrency, ["date"] = Dates.Format(ex.Day) });
        }
        catch (AmountOverflowException ex)
        {
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, ErrorCodes.AmountOverflow, "A total of this report is too large to state exactly", ex.Message);
        }
        http.Response.Headers[PositionHeader] = hit.Position.ToString(CultureInfo.InvariantCulture);
        return Results.Bytes(hit.Body, hit.ContentType);
    }

    private static IResult AuditorOnly() => Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "Not allowed for this key's role",
        "answers as of a past position (asOfPosition) are for auditor keys");

    private static bool WantsCsv(HttpContext http) =>
        http.Request.Headers.Accept.Any(a => a is not null && a.Contains("text/csv", StringComparison.OrdinalIgnoreCase));

    private static string Csv(IReadOnlyList<WindowReport> reports, ReportPart part, bool byOwner)
    {
        var (header, rows) = ReportFormats.Table(reports, part, byOwner, ratioDecimals: 12);
        return ReportFormats.ToCsv(header, rows);
    }

    private static List<NrrRowDto> NrrRows(WindowReport r) => r.Nrr.Select(n => new NrrRowDto(
        Owner(n.Owner), Money.Format(n.OpeningMrr), Money.Format(n.Expansion), Money.Format(n.Contraction), Money.Format(n.Churn),
        Money.Format(n.Reactivation), Money.Format(n.ClosingMrr), n.AccountsOpening, n.AccountsRetained, Ratio(n.Nrr), Ratio(n.Grr))).ToList();

    private static List<BridgeRowDto> BridgeRows(WindowReport r) => r.Bridge.Select(b => new BridgeRowDto(
        Owner(b.Owner), Money.Format(b.OpeningMrr), Money.Format(b.New), Money.Format(b.Expansion), Money.Format(b.Contraction), Money.Format(b.Churn),
        Money.Format(b.Reactivation), Money.Format(b.TransferIn), Money.Format(b.TransferOut), Money.Format(b.FxImpact), Money.Format(b.ClosingMrr), b.AccountsChurned)).ToList();

    private static List<RateDto> Rates(WindowReport r) =>
        (r.Rates ?? []).Select(x => new RateDto(x.Currency, x.QuoteCurrency, Dates.Format(x.Date), Money.Format(x.Rate), x.Position)).ToList();

    private static string? Owner(OwnerGroup g) => g.IsAll ? "*" : g.Id;

    /// <summary>Ratios to 12 places and never fewer than 6 (a decimal keeps its scale when written).</summary>
    private static decimal Ratio(decimal r) => decimal.Round(r, 12) + 0.000000m;

    private static decimal? Ratio(decimal? r) => r is { } v ? Ratio(v) : null;

    private static string I(int i) => i.ToString(CultureInfo.InvariantCulture);

    private static string D(decimal d) => d.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A serialised answer, with the read-model generation the gateway knew when computing it.</summary>
/// <summary>What every report handler needs besides its query (bound with [AsParameters]).</summary>
public sealed record ReportContext(HttpContext Http, ReportSource Source, ReadModelWatcher Watcher, AnswerCache Cache, HostSettings Settings, CancellationToken Ct);

public sealed record Answer(int Generation, long Position, byte[] Body, string ContentType);

/// <summary>
/// A report over one date range. Every parameter is taken as text and checked by <see cref="QueryReader"/>, so each
/// mistake is a problem+json 400 naming the parameter rather than a bare binding failure.
/// </summary>
public class RangeQuery
{
    [FromQuery(Name = "from"), Description("Start date YYYY-MM-DD (inclusive); for windows, the first window is the one holding it")]
    public string? From { get; init; }

    [FromQuery(Name = "to"), Description("End date YYYY-MM-DD (exclusive)")]
    public string? To { get; init; }

    [FromQuery(Name = "groupBy"), Description("owner (default): a row per owner and the company-wide row \"*\"; none: company-wide only")]
    public string? GroupBy { get; init; }

    [FromQuery(Name = "asOfPosition"), Description("Answer as known at this log position (auditor keys only)")]
    public string? AsOfPosition { get; init; }

    [FromQuery(Name = "minPosition"), Description("Wait up to 5 s for the read models to reach this position, else 503 with Retry-After")]
    public string? MinPosition { get; init; }

    [FromQuery(Name = "currency"), Description("Reporting currency (ISO 4217, e.g. EUR); default: the gateway's (LEDGER_CURRENCY, else USD)")]
    public string? Currency { get; init; }
}

/// <summary>A report per calendar window over a date range.</summary>
public sealed class WindowsQuery : RangeQuery
{
    [FromQuery(Name = "window"), Description("month, quarter or year")]
    public string? Window { get; init; }
}

/// <summary>
/// Serialised answers by request. One is served again while the read models stay at its position (or, for an
/// as-of answer, always: the past does not change); any projected step makes the rest stale.
/// </summary>
public sealed class AnswerCache
{
    private const int MaxEntries = 4_096;
    private readonly ConcurrentDictionary<string, Answer> _answers = new(StringComparer.Ordinal);

    /// <summary>
    /// A rebuild switches generation at the same position, so an answer is current only for the same generation
    /// (and at least the current position); as-of answers (<paramref name="current"/> null) are always current.
    /// </summary>
    private bool TryGet(string key, (int Generation, long Position)? current, out Answer answer) =>
        _answers.TryGetValue(key, out answer!) && (current is not { } c || (answer.Generation == c.Generation && answer.Position >= c.Position));

    private void Put(string key, Answer answer)
    {
        if (_answers.Count >= MaxEntries) _answers.Clear();
        _answers[key] = answer;
    }

    private readonly ConcurrentDictionary<string, Task<Answer>> _computing = new(StringComparer.Ordinal);

    /// <summary>
    /// The cached answer, else one computation however many requests ask at once: every projected step makes all
    /// answers stale together, and without this each concurrent request for the same report computed it again.
    /// </summary>
    public async Task<Answer> GetOrComputeAsync(string key, (int Generation, long Position)? current, Func<Task<Answer>> compute, CancellationToken ct)
    {
        while (true)
        {
            if (TryGet(key, current, out var hit)) return hit;
            var mine = new TaskCompletionSource<Answer>(TaskCreationOptions.RunContinuationsAsynchronously);
            var flight = _computing.GetOrAdd(key, mine.Task);
            if (flight != mine.Task)
            {
                try
                {
                    var answer = await flight.WaitAsync(ct);
                    if (current is not { } c || (answer.Generation == c.Generation && answer.Position >= c.Position)) return answer;
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    // The request computing it went away (its own cancellation, not this one's): compute it here.
                    // Any other failure reaches every waiter, as it would have reached each of them on its own.
                }
                continue;
            }
            try
            {
                var answer = await compute();
                Put(key, answer);
                _computing.TryRemove(new KeyValuePair<string, Task<Answer>>(key, mine.Task));
                mine.SetResult(answer);
                return answer;
            }
            catch (Exception ex)
            {
                _computing.TryRemove(new KeyValuePair<string, Task<Answer>>(key, mine.Task));
                mine.SetException(ex);
                _ = mine.Task.Exception; // observed here; waiters see it through their own await
                throw;
            }
        }
    }
}

/// <summary>Reads and checks query parameters, collecting the first error as a 400 problem.</summary>
internal sealed class QueryReader
{
    public IResult? Error { get; private set; }

    public void Fail(string parameter, string detail) => Error ??= Problems.Query(parameter, detail);

    public (DateOnly From, DateOnly To) Range(string? from, string? to)
    {
        var f = Date("from", from);
        var t = Date("to", to);
        if (Error is null && f >= t) Fail("to", $"from ({from}) must be before to ({to})");
        if (Error is null && f.AddYears(HostSettings.MaxRangeYears) < t)
            Error = Problems.Result(StatusCodes.Status400BadRequest, Problems.InvalidQuery, "Invalid query parameter",
                $"from {from} to {to} is longer than {HostSettings.MaxRangeYears} years, the most one request may cover",
                new Dictionary<string, object?> { ["parameter"] = "to", ["limit"] = HostSettings.MaxRangeYears, ["limitUnit"] = "years" });
        return (f, t);
    }

    /// <summary>At most <see cref="HostSettings.MaxWindows"/> calendar windows per request: each is summed over every account.</summary>
    public void Windows(WindowKind kind, (DateOnly From, DateOnly To) range)
    {
        if (Error is not null) return;
        int count = Window.Calendar(kind, range.From, range.To).Count;
        if (count > HostSettings.MaxWindows)
            Error = Problems.Result(StatusCodes.Status400BadRequest, Problems.InvalidQuery, "Invalid query parameter",
                $"{count} {kind.ToString().ToLowerInvariant()} windows from {Dates.Format(range.From)} to {Dates.Format(range.To)}: at most {HostSettings.MaxWindows} per request; ask for a shorter range or a longer window",
                new Dictionary<string, object?> { ["parameter"] = "to", ["limit"] = HostSettings.MaxWindows });
    }

    public WindowKind WindowKind(string? window)
    {
        switch (window)
        {
            case "month": return Domain.Reporting.WindowKind.Month;
            case "quarter": return Domain.Reporting.WindowKind.Quarter;
            case "year": return Domain.Reporting.WindowKind.Year;
            default:
                Fail("window", window is null ? "window is required: month, quarter or year" : $"window must be month, quarter or year, got '{window}'");
                return default;
        }
    }

    public string Currency(string? currency, string fallback)
    {
        if (currency is null) return fallback;
        if (CurrencyCode.IsValid(currency)) return currency;
        Fail("currency", $"currency must be a three-letter upper-case ISO 4217 code such as USD or EUR, got '{currency}'");
        return fallback;
    }

    public bool GroupBy(string? groupBy)
    {
        if (groupBy is null or "owner") return true;
        if (groupBy == "none") return false;
        Fail("groupBy", $"groupBy must be owner or none, got '{groupBy}'");
        return true;
    }

    public long? Position(string name, string? value)
    {
        if (value is null) return null;
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var p)) return p;
        Fail(name, $"{name} must be a non-negative log position, got '{value}'");
        return null;
    }

    public DateOnly Date(string name, string? value)
    {
        if (value is null) Fail(name, $"{name} is required (YYYY-MM-DD)");
        else if (Dates.TryParse(value, out var d)) return d;
        else Fail(name, $"{name} must be a real date YYYY-MM-DD between 1900-01-01 and 2999-12-31, got '{value}'");
        return default;
    }
}
