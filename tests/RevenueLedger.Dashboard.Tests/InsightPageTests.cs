using System.Globalization;
using System.Text.Json;

namespace RevenueLedger.Dashboard.Tests;

/// <summary>
/// The deep-dive and at-risk pages in headless Chromium against `ledger serve` on a generated book with signals: what
/// they show equals the gateway's JSON for the same query, and a CS leader can walk from an owner to the verdict.
/// </summary>
[Collection(InsightDashboardCollection.Name)]
public sealed class InsightPageTests(InsightDashboardFixture f)
{
    private const string From = "2023-01-01", To = "2024-01-01";

    private static string Signed(JsonElement v) => (v.GetDecimal() > 0 ? "+" : "") + Shown.Percent(v).Replace("−", "-", StringComparison.Ordinal);

    [Fact]
    public async Task From_an_owner_the_deep_dive_shows_the_gateways_verdict_interval_and_losses_by_function()
    {
        await using var tab = await Tab.OpenAsync(f, $"page=owner&owner=owner-01&from={From}&to={To}");
        Assert.Equal("ready", await tab.SettledAsync());
        Assert.Equal("ready", await tab.AfterAsync(() => tab.Page.GetByText("Is this NRR owner-01's doing? Deep dive →").ClickAsync()));
        Assert.Contains("page=deepdive", tab.Page.Url, StringComparison.Ordinal);
        var d = await f.JsonAsync(f.Reader, $"/v1/owners/owner-01/deep-dive?from={From}&to={To}");

        Assert.Equal(Shown.Percent(d.GetProperty("actualNrr")), await tab.TextAsync("#dd-actual"));
        Assert.Equal(Shown.Percent(d.GetProperty("expectedNrr")), await tab.TextAsync("#dd-expected"));
        Assert.Equal($"{Signed(d.GetProperty("intervalLow"))} to {Signed(d.GetProperty("intervalHigh"))}", await tab.TextAsync("#dd-interval"));
        Assert.StartsWith(Signed(d.GetProperty("difference")), await tab.TextAsync("#dd-difference"), StringComparison.Ordinal);
        Assert.Equal(Shown.Percent(d.GetProperty("companyNrr")), await tab.TextAsync("#dd-company"));
        Assert.Equal(d.GetProperty("verdict").GetString(), await tab.TextAsync("#dd-verdict"));
        Assert.Equal(Shown.Int(d.GetProperty("cohortAccounts").GetInt64()), await tab.TextAsync("#dd-accounts"));
        // The generated book's owner-01 underperforms: flagged, in the page's own styling too.
        Assert.True(d.GetProperty("ownerEffect").GetBoolean());
        Assert.Contains("flag", await tab.Page.GetAttributeAsync("#dd-verdict", "class") ?? "", StringComparison.Ordinal);

        var functions = d.GetProperty("lostByFunction").EnumerateArray().ToList();
        Assert.NotEmpty(functions);
        Assert.Equal(functions.Select(x => x.GetProperty("function").GetString()), await tab.ValuesAsync("dd-functions", "function"));
        Assert.Equal(functions.Select(x => x.GetProperty("mrr").GetString()), await tab.ValuesAsync("dd-functions", "mrr"));
        Assert.Equal(functions.Select(x => Shown.Money(x.GetProperty("mrr").GetString()!, "USD")), await tab.TextsAsync("dd-functions", "mrr"));
        Assert.Equal(functions.Select(x => x.GetProperty("controllableByOwner").GetBoolean() ? "yes" : "no"), await tab.TextsAsync("dd-functions", "controllableByOwner"));
        var reasons = d.GetProperty("lostByReason").EnumerateArray().ToList();
        Assert.Equal(reasons.Select(x => x.GetProperty("reason").GetString()), await tab.ValuesAsync("dd-reasons", "reason"));
        Assert.Equal(reasons.Select(x => x.GetProperty("vitalFew").GetBoolean() ? "●" : ""), await tab.TextsAsync("dd-reasons", "vitalFew"));
        Assert.Equal(d.GetProperty("book").EnumerateArray().Select(x => x.GetProperty("feature").GetString()), await tab.ValuesAsync("dd-book", "feature"));
        await tab.ScreenshotAsync(f, "deep-dive");
        Assert.Empty(tab.Errors);

        // A fair owner is not flagged.
        await using var fair = await Tab.OpenAsync(f, $"page=deepdive&owner=owner-04&from={From}&to={To}");
        var other = await f.JsonAsync(f.Reader, $"/v1/owners/owner-04/deep-dive?from={From}&to={To}");
        Assert.False(other.GetProperty("ownerEffect").GetBoolean());
        Assert.Equal(other.GetProperty("verdict").GetString(), await fair.TextAsync("#dd-verdict"));
    }

    [Fact]
    public async Task The_at_risk_page_equals_the_scores_and_leads_to_an_owners_deep_dive()
    {
        await using var tab = await Tab.OpenAsync(f, $"page=risk&from={From}&to={To}");
        Assert.Equal("ready", await tab.SettledAsync());
        var r = await f.JsonAsync(f.Reader, $"/v1/health/scores?date={To}&top=200");
        var owners = r.GetProperty("owners").EnumerateArray().ToList();
        Assert.Equal(owners.Select(o => o.GetProperty("ownerId").GetString()), await tab.ValuesAsync("risk-owners", "ownerId"));
        Assert.Equal(owners.Select(o => o.GetProperty("atRiskMrr").GetString()), await tab.ValuesAsync("risk-owners", "atRiskMrr"));
        Assert.Equal(owners.Select(o => Shown.Money(o.GetProperty("atRiskMrr").GetString()!, "USD")), await tab.TextsAsync("risk-owners", "atRiskMrr"));
        Assert.Equal(owners.Select(o => Shown.Int(o.GetProperty("highRiskAccounts").GetInt64())), await tab.TextsAsync("risk-owners", "highRiskAccounts"));
        var accounts = r.GetProperty("topAccounts").EnumerateArray().ToList();
        Assert.Equal(200, accounts.Count);
        Assert.Contains("Showing 100 of 200 rows", await tab.TextAsync("#risk-accounts-more"), StringComparison.Ordinal);
        var shown = await tab.ValuesAsync("risk-accounts", "accountId");
        Assert.Equal(accounts.Take(100).Select(a => a.GetProperty("accountId").GetString()), shown);
        Assert.Equal(accounts.Take(100).Select(a => a.GetProperty("score").GetDouble().ToString(CultureInfo.InvariantCulture)),
            (await tab.ValuesAsync("risk-accounts", "score")).Select(v => double.Parse(v!, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)));
        Assert.Contains($"ledger position {Shown.Int(r.GetProperty("position").GetInt64())}", await tab.TextAsync("#range-note"), StringComparison.Ordinal);
        await tab.ScreenshotAsync(f, "at-risk");

        Assert.Equal("ready", await tab.AfterAsync(() => tab.Page.Locator("#risk-owners a", new() { HasTextString = "owner-01" }).ClickAsync()));
        Assert.Contains("page=deepdive", tab.Page.Url, StringComparison.Ordinal);
        Assert.Equal("Deep dive: owner-01", await tab.TextAsync("h1"));
        Assert.Empty(tab.Errors);
    }
}
