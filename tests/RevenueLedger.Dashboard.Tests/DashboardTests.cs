using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Playwright;

namespace RevenueLedger.Dashboard.Tests;

/// <summary>
/// The dashboard in a real headless Chromium against a real `ledger serve`: every number a page shows is compared
/// with the gateway's JSON for the same query, fetched here with the same key.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class DashboardTests(DashboardFixture f)
{
    /// <summary>The range the tests look at: the worked example's first quarter of 2024 by month, or the book's default.</summary>
    private async Task<(string From, string To)> RangeAsync()
    {
        if (f.IsWorkedExample) return ("2024-01-01", "2024-04-01");
        var info = await f.JsonAsync(f.Reader, "/v1/ledger");
        return (info.GetProperty("defaultFrom").GetString()!, info.GetProperty("defaultTo").GetString()!);
    }

    private static JsonElement Row(JsonElement report, string? ownerId) => report.GetProperty("rows").EnumerateArray().Single(r => OwnerOf(r) == ownerId);

    private static readonly (string Key, int Sign)[] BridgeLines =
    [
        ("openingMrr", 1), ("new", 1), ("expansion", 1), ("contraction", -1), ("churn", -1), ("reactivation", 1),
        ("transferIn", 1), ("transferOut", -1), ("fxImpact", 1), ("closingMrr", 1),
    ];

    private static async Task AssertBridgeAsync(Tab tab, string table, JsonElement row, string currency)
    {
        Assert.Equal(BridgeLines.Select(l => l.Key), await tab.ValuesAsync(table, "line"));
        var values = await tab.ValuesAsync(table, "amount");
        var texts = await tab.TextsAsync(table, "amount");
        for (int i = 0; i < BridgeLines.Length; i++)
        {
            var api = row.GetProperty(BridgeLines[i].Key).GetString()!;
            Assert.Equal(api, values[i]);
            Assert.Equal(Shown.Money(api, currency, BridgeLines[i].Sign), texts[i]);
        }
    }

    [Fact]
    public async Task The_company_page_shows_the_gateways_numbers_with_no_console_error_and_nothing_from_another_origin()
    {
        var (from, to) = await RangeAsync();
        await using var tab = await Tab.OpenAsync(f, $"page=company&window=month&from={from}&to={to}");
        Assert.Equal("ready", await tab.SettledAsync());
        string q = $"from={from}&to={to}&groupBy=none";
        var nrr = await f.JsonAsync(f.Reader, "/v1/nrr?" + q);
        var bridge = await f.JsonAsync(f.Reader, "/v1/bridge?" + q);
        var trend = await f.JsonAsync(f.Reader, "/v1/nrr/windows?window=month&" + q);
        var churn = await f.JsonAsync(f.Reader, $"/v1/churn-reasons?from={from}&to={to}");
        string currency = nrr.GetProperty("currency").GetString()!;

        var company = Row(nrr, "*");
        Assert.Equal(Shown.Percent(company.GetProperty("nrr")), await tab.TextAsync("#kpi-nrr"));
        Assert.Equal(Shown.Percent(company.GetProperty("grr")), await tab.TextAsync("#kpi-grr"));
        Assert.Equal(Shown.Money(Row(bridge, "*").GetProperty("closingMrr").GetString()!, currency), await tab.TextAsync("#kpi-closing"));
        Assert.Equal(Shown.Int(Row(bridge, "*").GetProperty("accountsChurned").GetInt64()), await tab.TextAsync("#kpi-churned"));
        Assert.Contains($"ledger position {Shown.Int(nrr.GetProperty("position").GetInt64())}", await tab.TextAsync("#range-note"), StringComparison.Ordinal);

        await AssertBridgeAsync(tab, "company-bridge", Row(bridge, "*"), currency);

        var windows = trend.GetProperty("windows").EnumerateArray().ToList();
        Assert.Equal(windows.Select(w => w.GetProperty("from").GetString()), await tab.ValuesAsync("company-trend", "from"));
        Assert.Equal(windows.Select(w => Shown.Number(Row(w, "*").GetProperty("nrr"))), (await tab.ValuesAsync("company-trend", "nrr")).Select(Shown.Number));
        Assert.Equal(windows.Select(w => Shown.Percent(Row(w, "*").GetProperty("grr"))), await tab.TextsAsync("company-trend", "grr"));

        var reasons = churn.GetProperty("rows").EnumerateArray().ToList();
        Assert.NotEmpty(reasons); // the ranges looked at have churn: an empty Pareto would prove nothing
        Assert.Equal(reasons.Select(r => r.GetProperty("reason").GetString()), await tab.ValuesAsync("company-pareto", "reason"));
        Assert.Equal(reasons.Select(r => Shown.Money(r.GetProperty("mrrLost").GetString()!, currency)), await tab.TextsAsync("company-pareto", "mrrLost"));
        Assert.Equal(reasons.Select(r => Shown.Percent(r.GetProperty("cumulativeShare"))), await tab.TextsAsync("company-pareto", "cumulativeShare"));

        // Each chart drew (ECharts renders to a canvas), behind the table that carries its numbers.
        foreach (var chart in new[] { "trend", "waterfall", "pareto" })
            Assert.Equal(1, await tab.Page.Locator($"[data-chart='{chart}'] canvas").CountAsync());
        await tab.ScreenshotAsync(f, "company");
        Assert.Empty(tab.Errors);
        Assert.Empty(tab.Foreign);
    }

    [Fact]
    public async Task The_owner_leaderboard_equals_the_gateway_and_sorting_changes_the_url_and_the_order()
    {
        var (from, to) = await RangeAsync();
        await using var tab = await Tab.OpenAsync(f, $"page=owners&window=month&from={from}&to={to}");
        Assert.Equal("ready", await tab.SettledAsync());
        var nrr = await f.JsonAsync(f.Reader, $"/v1/nrr?from={from}&to={to}&groupBy=owner");
        var bridge = await f.JsonAsync(f.Reader, $"/v1/bridge?from={from}&to={to}&groupBy=owner");
        string currency = nrr.GetProperty("currency").GetString()!;

        var owners = await tab.ValuesAsync("owners", "ownerId");
        Assert.Equal("*", owners[0]); // the company row, pinned first for reference
        Assert.Equal("Company", (await tab.TextsAsync("owners", "ownerId"))[0]);
        var expected = nrr.GetProperty("rows").EnumerateArray().Concat(bridge.GetProperty("rows").EnumerateArray())
            .Select(OwnerOf).Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(expected, owners.Order(StringComparer.Ordinal));
        var nrrShown = await tab.TextsAsync("owners", "nrr");
        var churnShown = await tab.TextsAsync("owners", "churn");
        for (int i = 0; i < owners.Length; i++)
        {
            var inNrr = nrr.GetProperty("rows").EnumerateArray().Where(r => OwnerOf(r) == owners[i]).ToList();
            Assert.Equal(inNrr.Count == 1 ? Shown.Percent(inNrr[0].GetProperty("nrr")) : "n/a", nrrShown[i]);
            var inBridge = bridge.GetProperty("rows").EnumerateArray().Where(r => OwnerOf(r) == owners[i]).ToList();
            Assert.Equal(Shown.Money(inBridge.Count == 1 ? inBridge[0].GetProperty("churn").GetString()! : "0", currency), churnShown[i]);
        }
        await tab.ScreenshotAsync(f, "owners");

        Assert.Equal("ready", await tab.AfterAsync(() => tab.Page.ClickAsync("button[data-sort='nrr']")));
        Assert.Equal(("nrr", "desc"), (tab.Query["sort"], tab.Query["dir"]));
        var descending = (await tab.ValuesAsync("owners", "nrr")).Skip(1).Select(v => Shown.Number(v) ?? decimal.MinValue).ToList();
        Assert.Equal(descending.OrderDescending(), descending);
        Assert.Equal("descending", await tab.Page.GetAttributeAsync("th:has(button[data-sort='nrr'])", "aria-sort"));

        Assert.Equal("ready", await tab.AfterAsync(() => tab.Page.ClickAsync("button[data-sort='nrr']")));
        Assert.Equal("asc", tab.Query["dir"]);
        var ascending = (await tab.ValuesAsync("owners", "nrr")).Skip(1).Select(v => Shown.Number(v) ?? decimal.MinValue).ToList();
        Assert.Equal(ascending.Order(), ascending);
        Assert.Empty(tab.Errors);
    }

    private static string? OwnerOf(JsonElement row) => row.GetProperty("ownerId").ValueKind == JsonValueKind.Null ? null : row.GetProperty("ownerId").GetString();

    [Fact]
    public async Task Drilling_down_from_the_leaderboard_to_an_owner_and_an_account_shows_their_numbers_and_back_returns()
    {
        var (from, to) = await RangeAsync();
        await using var tab = await Tab.OpenAsync(f, $"page=owners&window=month&from={from}&to={to}");
        // The owner with the largest book: the leaderboard's first row after the company's.
        var first = tab.Page.Locator("#owners tbody tr:not(.pinned) td[data-col='ownerId'] a").First;
        string owner = (await first.InnerTextAsync()).Trim();
        Assert.Equal("ready", await tab.AfterAsync(() => first.ClickAsync()));
        Assert.Equal(("owner", owner), (tab.Query["page"], tab.Query["owner"]));

        var nrr = await f.JsonAsync(f.Reader, $"/v1/nrr?from={from}&to={to}&groupBy=owner");
        var bridge = await f.JsonAsync(f.Reader, $"/v1/bridge?from={from}&to={to}&groupBy=owner");
        var accounts = await f.JsonAsync(f.Reader, $"/v1/accounts?from={from}&to={to}&ownerId={Uri.EscapeDataString(owner)}");
        var churn = await f.JsonAsync(f.Reader, $"/v1/churn-reasons?from={from}&to={to}&ownerId={Uri.EscapeDataString(owner)}");
        string currency = nrr.GetProperty("currency").GetString()!;
        Assert.Equal(Shown.Percent(Row(nrr, owner).GetProperty("nrr")), await tab.TextAsync("#kpi-nrr"));
        Assert.Equal(Shown.Percent(Row(nrr, owner).GetProperty("grr")), await tab.TextAsync("#kpi-grr"));
        await AssertBridgeAsync(tab, "owner-bridge", Row(bridge, owner), currency);
        var rows = accounts.GetProperty("accounts").EnumerateArray().ToList();
        Assert.NotEmpty(rows);
        // A long book shows its first 100 accounts; "Show all" brings the rest, in the API's order.
        Assert.Equal(rows.Take(100).Select(a => a.GetProperty("accountId").GetString()), await tab.ValuesAsync("owner-accounts", "accountId"));
        if (rows.Count > 100)
        {
            Assert.Equal($"Showing 100 of {Shown.Int(rows.Count)} rows.", (await tab.TextAsync("#owner-accounts-more")).Split(" Show all")[0].Replace('\n', ' '));
            await tab.Page.ClickAsync("button[data-more='owner-accounts']");
            Assert.False(await tab.Page.IsVisibleAsync("#owner-accounts-more"));
        }
        Assert.Equal(rows.Select(a => a.GetProperty("accountId").GetString()), await tab.ValuesAsync("owner-accounts", "accountId"));
        Assert.Equal(rows.Select(a => a.GetProperty("closingMrr").GetString()), await tab.ValuesAsync("owner-accounts", "closingMrr"));
        var reasons = churn.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("reason").GetString()).ToList();
        if (reasons.Count > 0) Assert.Equal(reasons, await tab.ValuesAsync("owner-pareto", "reason"));
        else Assert.Contains("No churn in this range.", await tab.TextAsync("main"), StringComparison.Ordinal);
        await tab.ScreenshotAsync(f, "owner");

        var link = tab.Page.Locator("#owner-accounts td[data-col='accountId'] a").First;
        string account = (await link.InnerTextAsync()).Trim();
        Assert.Equal("ready", await tab.AfterAsync(() => link.ClickAsync()));
        Assert.Equal(("account", account), (tab.Query["page"], tab.Query["account"]));
        var timeline = await f.JsonAsync(f.Reader, $"/v1/accounts/{Uri.EscapeDataString(account)}/timeline");
        var movements = timeline.GetProperty("movements").EnumerateArray().ToList();
        Assert.Equal(movements.Select(m => m.GetProperty("day").GetString()), await tab.ValuesAsync("account-movements", "day"));
        Assert.Equal(movements.Select(m => m.GetProperty("kind").GetString()), await tab.ValuesAsync("account-movements", "kind"));
        Assert.Equal(movements.Select(m => Shown.Money(m.GetProperty("mrrAfter").GetString()!, timeline.GetProperty("currency").GetString()!)),
            await tab.TextsAsync("account-movements", "mrrAfter"));
        var events = timeline.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal(events.Select(e => e.GetProperty("position").GetInt64().ToString(CultureInfo.InvariantCulture)), await tab.ValuesAsync("account-events", "position"));
        // A reversed event says so, naming the reversal; the others say nothing.
        Assert.Equal(events.Select(e => e.GetProperty("reversedBy").ValueKind == JsonValueKind.Null ? "" : $"reversed by {e.GetProperty("reversedBy").GetString()}"),
            await tab.TextsAsync("account-events", "reversedBy"));
        // ... and its facts are struck through, as the page's note says; the others are not.
        Assert.Equal(events.Select(e => e.GetProperty("reversedBy").ValueKind == JsonValueKind.Null ? "none" : "line-through"),
            await tab.Page.EvalOnSelectorAllAsync<string[]>("#account-events tbody td[data-col='eventId']", "els => els.map(e => getComputedStyle(e).textDecorationLine)"));
        Assert.Equal(timeline.GetProperty("owners").EnumerateArray().Select(o => o.GetProperty("from").GetString()), await tab.ValuesAsync("account-owners", "from"));
        Assert.Equal(1, await tab.Page.Locator("[data-chart='mrr'] canvas").CountAsync());
        await tab.ScreenshotAsync(f, "account");

        Assert.Equal("ready", await tab.AfterAsync(() => tab.Page.GoBackAsync()));
        Assert.Equal(("owner", owner), (tab.Query["page"], tab.Query["owner"]));
        Assert.Empty(tab.Errors);
    }

    [Fact]
    public async Task The_window_selector_and_the_dates_change_the_url_and_the_data()
    {
        var (from, to) = await RangeAsync();
        await using var tab = await Tab.OpenAsync(f, $"page=company&window=quarter&from={from}&to={to}");
        async Task<List<string?>> Expected(string window, string a, string b) => (await f.JsonAsync(f.Reader, $"/v1/nrr/windows?window={window}&from={a}&to={b}&groupBy=none"))
            .GetProperty("windows").EnumerateArray().Select(w => w.GetProperty("from").GetString()).ToList();
        var quarters = await Expected("quarter", from, to);
        Assert.Equal(quarters, await tab.ValuesAsync("company-trend", "from"));

        Assert.Equal("ready", await tab.AfterAsync(() => tab.Page.SelectOptionAsync("select[name='window']", "month")));
        Assert.Equal("month", tab.Query["window"]);
        var months = await Expected("month", from, to);
        Assert.NotEqual(quarters.Count, months.Count);
        Assert.Equal(months, await tab.ValuesAsync("company-trend", "from"));

        // A later start: the URL carries it and the trend starts there.
        string later = DateOnly.ParseExact(from, "yyyy-MM-dd", CultureInfo.InvariantCulture).AddMonths(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        Assert.Equal("ready", await tab.AfterAsync(() => tab.Page.FillAsync("input[name='from']", later)));
        Assert.Equal(later, tab.Query["from"]);
        Assert.Equal(await Expected("month", later, to), await tab.ValuesAsync("company-trend", "from"));

        // The link reproduces the view in a new tab.
        await using var copy = await Tab.OpenAsync(f, new Uri(tab.Page.Url).Query.TrimStart('?'));
        Assert.Equal(await tab.ValuesAsync("company-trend", "nrr"), await copy.ValuesAsync("company-trend", "nrr"));
        Assert.Equal(later, await copy.Page.InputValueAsync("input[name='from']"));
        Assert.Equal("month", await copy.Page.InputValueAsync("select[name='window']"));
        Assert.Empty(tab.Errors);
        Assert.Empty(copy.Errors);
    }

    [Fact]
    public async Task As_of_an_earlier_position_an_auditor_sees_the_older_numbers_and_a_reader_is_told_it_needs_an_auditor_key()
    {
        var (from, to) = await RangeAsync();
        string q = $"from={from}&to={to}&groupBy=none";
        var now = Row(await f.JsonAsync(f.Auditor, "/v1/bridge?" + q), "*");
        // The latest position whose answer differs from today's: the page must show that older answer, not today's.
        long asOf = f.Head - 1;
        JsonElement then;
        while (true)
        {
            then = Row(await f.JsonAsync(f.Auditor, $"/v1/bridge?{q}&asOfPosition={asOf}"), "*");
            if (then.GetRawText() != now.GetRawText()) break;
            asOf--;
            Assert.True(asOf > 0, "no earlier position changes the range's bridge");
        }
        var currency = (await f.JsonAsync(f.Auditor, "/v1/bridge?" + q)).GetProperty("currency").GetString()!;
        await using var tab = await Tab.OpenAsync(f, $"page=company&window=month&from={from}&to={to}&asOf={asOf}", DashboardFixture.AuditorKey);
        Assert.Equal("ready", await tab.SettledAsync());
        await AssertBridgeAsync(tab, "company-bridge", then, currency);
        Assert.Contains($"as known at position {Shown.Int(asOf)}", await tab.TextAsync("#range-note"), StringComparison.Ordinal);
        Assert.Equal(asOf.ToString(CultureInfo.InvariantCulture), await tab.Page.InputValueAsync("input[name='asOf']"));
        await tab.ScreenshotAsync(f, "company-as-of");

        // "Latest" goes back to today's numbers.
        Assert.Equal("ready", await tab.AfterAsync(() => tab.Page.ClickAsync("#latest")));
        Assert.False(tab.Query.ContainsKey("asOf"));
        await AssertBridgeAsync(tab, "company-bridge", now, currency);

        // "As known on" today: everything was recorded today or before, so it is the head.
        string today = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        Assert.Equal("ready", await tab.AfterAsync(() => tab.Page.FillAsync("input[name='asOn']", today)));
        Assert.Equal((today, f.Head.ToString(CultureInfo.InvariantCulture)), (tab.Query["asOn"], tab.Query["asOf"]));
        Assert.Empty(tab.Errors);

        // A reader key may not look into the past: the page says why and what would.
        await using var reader = await Tab.OpenAsync(f, $"page=company&from={from}&to={to}&asOf={asOf}");
        Assert.Equal("error", await reader.SettledAsync());
        Assert.Contains("As-of views need an auditor key", await reader.TextAsync("main"), StringComparison.Ordinal);
        Assert.All(reader.Errors, e => Assert.Contains("403", e, StringComparison.Ordinal)); // the browser logs the refused request, nothing else
    }

    [Fact]
    public async Task Without_a_key_the_page_asks_for_one_and_a_wrong_key_is_refused()
    {
        var context = await f.Browser.NewContextAsync();
        try
        {
            var page = await context.NewPageAsync();
            await page.GotoAsync($"{f.Base}dashboard/?page=owners");
            await page.FillAsync("#key-form input[name='key']", "not-a-key-0123456789");
            await page.ClickAsync("#key-form button[type='submit']");
            await page.WaitForFunctionAsync("() => document.body.dataset.state === 'error'");
            Assert.Contains("needs an API key", await page.InnerTextAsync("main"), StringComparison.Ordinal);
            await page.FillAsync("#key-form input[name='key']", DashboardFixture.ReaderKey);
            await page.ClickAsync("#key-form button[type='submit']");
            await page.WaitForFunctionAsync("() => document.body.dataset.state === 'ready'");
            Assert.Equal("Owners", (await page.InnerTextAsync("main h1")).Trim());
            // The key is kept in the tab, never in the address bar.
            Assert.DoesNotContain(DashboardFixture.ReaderKey, page.Url, StringComparison.Ordinal);
        }
        finally
        {
            await context.DisposeAsync();
        }
    }

    [Fact]
    public async Task Every_table_downloads_as_csv_with_the_apis_exact_values_and_definitions_open_from_the_keyboard()
    {
        var (from, to) = await RangeAsync();
        await using var tab = await Tab.OpenAsync(f, $"page=company&window=month&from={from}&to={to}");
        var bridge = Row(await f.JsonAsync(f.Reader, $"/v1/bridge?from={from}&to={to}&groupBy=none"), "*");
        // The file the browser is handed: the blob behind the download link (headless Chromium keeps no downloads folder).
        await tab.Page.EvaluateAsync("() => { const make = URL.createObjectURL; URL.createObjectURL = (b) => { window.csvBlob = b; return make(b); }; }");
        await tab.Page.ClickAsync("button[data-csv='company-bridge']");
        var csv = await tab.Page.EvaluateAsync<string>("() => window.csvBlob.text()");
        Assert.Equal("text/csv", await tab.Page.EvaluateAsync<string>("() => window.csvBlob.type"));
        var lines = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("line,amount", lines[0]);
        Assert.Equal(BridgeLines.Select(l => $"{l.Key},{bridge.GetProperty(l.Key).GetString()}"), lines.Skip(1));
        Assert.Equal(await tab.Page.Locator("table").CountAsync(), await tab.Page.Locator("button[data-csv]").CountAsync());

        await tab.Page.FocusAsync("#definitions-open");
        await tab.Page.Keyboard.PressAsync("Enter");
        Assert.True(await tab.Page.IsVisibleAsync("#definitions"));
        Assert.Contains("GRR = (opening − contraction − churn) ÷ opening", await tab.TextAsync("#definitions"), StringComparison.Ordinal);
        await tab.Page.Keyboard.PressAsync("Escape");
        Assert.False(await tab.Page.IsVisibleAsync("#definitions"));
        Assert.Empty(tab.Errors);
    }

    [Fact]
    public async Task The_bundle_the_page_loads_is_at_most_400_KB_gzipped()
    {
        using var http = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = f.Base };
        long total = 0;
        foreach (var file in new[] { "", "app.js", "app.css" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/" + file);
            request.Headers.AcceptEncoding.ParseAdd("gzip");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("gzip", response.Content.Headers.ContentEncoding.Single());
            total += (await response.Content.ReadAsByteArrayAsync()).Length;
        }
        Assert.InRange(total, 1, 400 * 1024);
    }

    [Fact]
    public async Task Each_pages_data_is_on_screen_within_a_second_of_navigation()
    {
        var (from, to) = await RangeAsync();
        var owners = await f.JsonAsync(f.Reader, $"/v1/nrr?from={from}&to={to}&groupBy=owner");
        var owner = owners.GetProperty("rows").EnumerateArray().Select(OwnerOf).First(o => o is not null and not "*")!;
        var account = (await f.JsonAsync(f.Reader, $"/v1/accounts?from={from}&to={to}&ownerId={Uri.EscapeDataString(owner)}"))
            .GetProperty("accounts")[0].GetProperty("accountId").GetString()!;
        var pages = new (string Name, string Query)[]
        {
            ("company", $"page=company&window=month&from={from}&to={to}"),
            ("owners", $"page=owners&window=month&from={from}&to={to}"),
            ("owner", $"page=owner&owner={Uri.EscapeDataString(owner)}&from={from}&to={to}"),
            ("account", $"page=account&account={Uri.EscapeDataString(account)}"),
        };
        var lines = new List<string>();
        await using var tab = await Tab.OpenAsync(f, "page=company"); // the browser has the bundle, as on a second visit
        foreach (var (name, query) in pages)
        {
            // Three full loads (the counter only makes each URL distinct, so the browser reloads): the first computes
            // the answers from the read models, the next two may come from the gateway's answer cache.
            var times = new List<double>();
            for (int i = 0; i < 3; i++)
            {
                var clock = Stopwatch.StartNew();
                await tab.Page.GotoAsync(f.Page(query + (i == 0 ? "" : $"&n={i}")));
                Assert.Equal("ready", await tab.SettledAsync());
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
            lines.Add(FormattableString.Invariant($"{name}\t{times[0]:F0}\t{times.Order().ElementAt(1):F0}"));
            Assert.True(times.Order().ElementAt(1) <= 1000, $"{name}: data on screen after {string.Join(", ", times.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))} ms");
        }
        if (Environment.GetEnvironmentVariable("LEDGER_DASHBOARD_TIMINGS") is { Length: > 0 } path)
            await File.WriteAllLinesAsync(path, ["page\tfirst ms\tmedian ms", .. lines]);
        Assert.Empty(tab.Errors);
    }
}
