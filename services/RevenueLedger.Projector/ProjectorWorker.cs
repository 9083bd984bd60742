using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RevenueLedger.Application;
using RevenueLedger.Hosting;
using RevenueLedger.Storage;

namespace RevenueLedger.Projector;

/// <summary>
/// The projector as a process: folds the log into the read models and keeps them caught up. Any number may run:
/// one is active (a lease on PostgreSQL), the others stand by and take over within seconds when it dies; each step's
/// compare-and-swap on the checkpoint means even an overlap counts nothing twice, and a killed process loses nothing
/// but the step it was in. <c>--once</c> catches up and exits (no lease: for scripts and tests of the races).
/// </summary>
public static class ProjectorWorker
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        // Options the command line does not take come from the environment (LEDGER_RABBITMQ, OTEL_*), as for the web services.
        var store = new Option<string>("--store") { Description = "Store URI (postgres:CONNECTION-STRING, marten:CONNECTION-STRING or sqlite:PATH)", Required = true };
        var poll = new Option<double?>("--poll") { Description = "Seconds between checks for new events when no notification came (default 1; 10 with a broker)" };
        var once = new Option<bool>("--once") { Description = "Catch up once and exit" };
        var step = new Option<int>("--step-events") { Description = "Most events folded per committed step", DefaultValueFactory = _ => 1_000_000 };
        var root = new RootCommand("RevenueLedger projector: keeps the NRR, bridge and churn-reason read models caught up with the log") { store, poll, once, step };
        root.SetAction(async (p, ct) =>
        {
            var uri = StoreUri.Parse(p.GetValue(store));
            if (!p.GetValue(once)) return await RunServiceAsync(uri, p.GetValue(poll), p.GetValue(step), ct);
            await using var log = await uri.OpenAsync(mustExist: false, ct: ct);
            await using var readModels = await uri.OpenReadModelsAsync(ct);
            // Follows the current generation: after a rebuild switches, it projects the new one.
            var projector = new RevenueLedger.Application.Projections.Projector(log, readModels, fixedGeneration: null, p.GetValue(step));
            await stdout.WriteLineAsync($"projector: store {uri}");
            long position = await projector.CatchUpAsync(ct);
            await stdout.WriteLineAsync($"projector: generation {projector.Generation} at position {position}");
            return 0;
        });
        try
        {
            return await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (LedgerUsageException ex)
        {
            await stderr.WriteLineAsync($"error: {ex.Message}");
            return 2;
        }
    }

    /// <summary>The long-running projector: the same hosted service as in <c>ledger serve</c>, with the bus and telemetry.</summary>
    private static async Task<int> RunServiceAsync(StoreUri uri, double? poll, int step, CancellationToken ct)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["Ledger:Store"] = $"{uri.Scheme}:{uri.Target}"; // ToString() would hide the password
        builder.Configuration["Ledger:Components"] = "projector";
        builder.Configuration["Ledger:ProjectorStepEvents"] = step.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (poll is { } seconds) builder.Configuration["Ledger:PollSeconds"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.Services.AddLedgerCore(builder.Configuration, LedgerComponents.Projector).AddProjector();
        using var host = builder.Build();
        _ = host.Services.GetRequiredService<LedgerStores>(); // fails now, with the reason, when the store cannot be opened
        await host.RunAsync(ct);
        return 0;
    }
}
