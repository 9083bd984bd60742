using System.Globalization;
using System.Text.Json;
using Microsoft.Playwright;

namespace RevenueLedger.Dashboard.Tests;

/// <summary>A browser tab on the dashboard that records what a person would not see but must not happen: console
/// errors, uncaught exceptions and requests leaving the gateway's origin.</summary>
public sealed class Tab : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly List<string> _errors = [];
    private readonly List<string> _foreign = [];

    public IPage Page { get; }

    private Tab(IBrowserContext context, IPage page, Uri origin)
    {
        _context = context;
        Page = page;
        page.Console += (_, m) => { if (m.Type == "error") lock (_errors) _errors.Add(m.Text); };
        page.PageError += (_, e) => { lock (_errors) _errors.Add("uncaught: " + e); };
        page.Request += (_, r) =>
        {
            if (!r.Url.StartsWith(origin.ToString(), StringComparison.Ordinal) && !r.Url.StartsWith("data:", StringComparison.Ordinal) && !r.Url.StartsWith("blob:", StringComparison.Ordinal))
                lock (_foreign) _foreign.Add(r.Url);
        };
    }

    public static async Task<Tab> OpenAsync(DashboardFixture f, string query, string key = DashboardFixture.ReaderKey)
    {
        var context = await f.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1360, Height = 900 }, Locale = "en-US", AcceptDownloads = true,
        });
        var tab = new Tab(context, await context.NewPageAsync(), f.Base);
        await tab.Page.GotoAsync(f.Page(query, key));
        await tab.SettledAsync();
        return tab;
    }

    /// <summary>Waits until the page has rendered the view its URL names (or failed to), and returns which.</summary>
    public async Task<string> SettledAsync()
    {
        await Page.WaitForFunctionAsync("() => document.body.dataset.state !== 'loading'", null, new PageWaitForFunctionOptions { Timeout = 15_000 });
        return (await Page.GetAttributeAsync("body", "data-state"))!;
    }

    /// <summary>Runs an action that navigates inside the page and waits for the new view.</summary>
    public async Task<string> AfterAsync(Func<Task> action)
    {
        await Page.EvaluateAsync("() => { document.body.dataset.state = 'loading'; }");
        await action();
        return await SettledAsync();
    }

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_errors) return [.. _errors];
        }
    }

    public IReadOnlyList<string> Foreign
    {
        get
        {
            lock (_foreign) return [.. _foreign];
        }
    }

    public Dictionary<string, string> Query
    {
        get
        {
            var q = System.Web.HttpUtility.ParseQueryString(new Uri(Page.Url).Query);
            return q.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => q[k]!, StringComparer.Ordinal);
        }
    }

    /// <summary>The exact API values a table column carries (data-value), row by row.</summary>
    public async Task<string?[]> ValuesAsync(string table, string column) =>
        await Page.EvalOnSelectorAllAsync<string?[]>($"#{table} tbody td[data-col='{column}']", "els => els.map(e => e.dataset.value ?? null)");

    /// <summary>What a person reads in a table column, row by row.</summary>
    public async Task<string[]> TextsAsync(string table, string column) =>
        await Page.EvalOnSelectorAllAsync<string[]>($"#{table} tbody td[data-col='{column}']", "els => els.map(e => e.innerText.trim())");

    public async Task<string> TextAsync(string selector) => (await Page.InnerTextAsync(selector)).Trim();

    public async Task ScreenshotAsync(DashboardFixture f, string name) =>
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(f.Screenshots, name + ".png"), FullPage = true });

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}

/// <summary>How the page formats the API's exact strings for people (en-US), computed here independently.</summary>
public static class Shown
{
    // The build runs in invariant-globalization mode; the invariant culture groups and separates as en-US does.
    private static readonly CultureInfo En = CultureInfo.InvariantCulture;

    public static string Percent(JsonElement ratio) => ratio.ValueKind == JsonValueKind.Null
        ? "n/a"
        : (Math.Round(ratio.GetDecimal() * 100m, 1, MidpointRounding.AwayFromZero)).ToString("F1", En) + "%";

    public static string Money(string amount, string currency, int sign = 1)
    {
        decimal v = decimal.Parse(amount, CultureInfo.InvariantCulture) * sign;
        string symbol = currency switch { "USD" => "$", "EUR" => "€", "GBP" => "£", _ => currency + "\u00a0" };
        return (v < 0 ? "−" : "") + symbol + Math.Abs(v).ToString("N2", En);
    }

    public static string Int(long n) => n.ToString("N0", En);

    /// <summary>A decimal as the API wrote it and as the page kept it (a JSON number loses its trailing zeros in JS).</summary>
    public static decimal? Number(string? s) => s is null or "" ? null : decimal.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    public static decimal? Number(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.String => Number(e.GetString()),
        _ => e.GetDecimal(),
    };
}
