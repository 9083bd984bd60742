using System.CommandLine;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using RevenueLedger.Application;
using RevenueLedger.Dashboard;
using RevenueLedger.Gateway;
using RevenueLedger.Hosting;
using RevenueLedger.Ingestion;
using RevenueLedger.Projector;
using RevenueLedger.ServiceDefaults;
using RevenueLedger.Storage;

namespace RevenueLedger.Cli;

/// <summary>`ledger serve`: ingestion, gateway and projector in one process on one store (the embedded default).</summary>
internal static class ServeCommand
{
    public const string DefaultUrls = "http://127.0.0.1:5080";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var store = LedgerCli.StoreOption();
        var urls = new Option<string>("--urls") { Description = "Where to listen (';'-separated); loopback unless told otherwise", DefaultValueFactory = _ => DefaultUrls };
        var cmd = new Command("serve", "Serve the HTTP API (ingestion, gateway) with the projector in one process") { store, urls };
        cmd.SetAction(async (p, ct) =>
        {
            var uri = StoreUri.Parse(p.GetValue(store));
            var listen = p.GetValue(urls)!;
            bool keysConfigured = !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("LEDGER_API_KEYS"));
            if (!keysConfigured && !HostingExtensions.IsLoopbackOnly(listen))
            {
                // Generated keys are printed to whoever started the process; nobody else should be able to reach it.
                var loopback = ToLoopback(listen);
                await stderr.WriteLineAsync($"warning: no API keys configured (LEDGER_API_KEYS): listening on {loopback} only, not {listen}");
                listen = loopback;
            }
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
            builder.Configuration["Ledger:Store"] = $"{uri.Scheme}:{uri.Target}";
            builder.Configuration["Ledger:Components"] = "all";
            builder.WebHost.UseUrls(listen);
            builder.AddLedgerHost(LedgerComponents.All);
            builder.AddIngestion();
            builder.AddGateway();
            builder.Services.AddProjector();
            await using var app = builder.Build();
            app.UseLedgerHost();
            app.MapIngestion();
            app.MapGateway();
            await app.StartAsync(ct);
            await stdout.WriteLineAsync($"ledger serve: store {uri}, listening on {string.Join(", ", app.Urls)} (Ctrl+C stops)");
            // The key rides in the fragment: browsers never send it to a server, and the page moves it out of the address bar.
            var reader = app.Services.GetRequiredService<ApiKeyRing>().Generated?.GetValueOrDefault(Roles.Reader);
            await stdout.WriteLineAsync($"dashboard: open {app.Urls.First().TrimEnd('/')}{DashboardEndpoints.Path}{(reader is null ? " (it asks for a reader key)" : $"#key={reader}")}");
            await stdout.FlushAsync(ct);
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl+C or SIGTERM: stop taking requests, let appends in flight finish.
            }
            await app.StopAsync(CancellationToken.None);
            return LedgerCli.Ok;
        });
        return cmd;
    }

    private static string ToLoopback(string urls) => string.Join(';', urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(u =>
        Uri.TryCreate(u.Replace("*", "0.0.0.0", StringComparison.Ordinal).Replace("+", "0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var parsed)
            ? $"{parsed.Scheme}://127.0.0.1:{parsed.Port}"
            : throw new LedgerUsageException($"--urls: '{u}' is not a URL like http://127.0.0.1:5080")));
}
