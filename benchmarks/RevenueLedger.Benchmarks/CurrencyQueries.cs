using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;

/// <summary>
/// Sequential report requests against a running gateway, each a distinct URL (a counter parameter the gateway ignores)
/// so every answer is computed from the read models rather than served from the gateway's answer cache.
/// </summary>
internal static class CurrencyQueries
{
    public static async Task<int> RunAsync(string gateway, string readerKey, string path, int count)
    {
        using var client = new HttpClient { BaseAddress = new Uri(gateway) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", readerKey);
        for (int i = 0; i < 200; i++) (await client.GetAsync($"{path}&warm={i}")).EnsureSuccessStatusCode();
        var times = new double[count];
        for (int i = 0; i < count; i++)
        {
            var clock = Stopwatch.StartNew();
            using var response = await client.GetAsync($"{path}&n={i}");
            await response.Content.ReadAsByteArrayAsync();
            times[i] = clock.Elapsed.TotalMilliseconds;
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        Array.Sort(times);
        double P(double q) => times[Math.Min(count - 1, (int)Math.Ceiling(q * count) - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path}: n={count} p50={P(0.5):F2} ms p99={P(0.99):F2} ms max={times[^1]:F2} ms"));
        return 0;
    }
}
