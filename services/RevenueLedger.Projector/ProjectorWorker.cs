using System.CommandLine;
using RevenueLedger.Application;
using RevenueLedger.Application.Projections;

namespace RevenueLedger.Projector;

/// <summary>
/// The projector as a process: folds the log into the read models and keeps them caught up, polling for new
/// events. Any number may run; each step's compare-and-swap on the checkpoint lets only one advance it, and a
/// killed process loses nothing but the step it was in.
/// </summary>
public static class ProjectorWorker
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var store = new Option<string>("--store") { Description = "Store URI (postgres:CONNECTION-STRING or sqlite:PATH)", Required = true };
        var poll = new Option<double>("--poll") { Description = "Seconds between checks for new events when caught up", DefaultValueFactory = _ => 1.0 };
        var once = new Option<bool>("--once") { Description = "Catch up once and exit" };
        var step = new Option<int>("--step-events") { Description = "Most events folded per committed step", DefaultValueFactory = _ => 1_000_000 };
        var root = new RootCommand("RevenueLedger projector: keeps the NRR, bridge and churn-reason read models caught up with the log") { store, poll, once, step };
        root.SetAction(async (p, ct) =>
        {
            var uri = StoreUri.Parse(p.GetValue(store));
            await using var log = await uri.OpenAsync(mustExist: false, ct: ct);
            await using var readModels = await uri.OpenReadModelsAsync(ct);
            // Follows the current generation: after a rebuild switches, it projects the new one.
            var projector = new RevenueLedger.Application.Projections.Projector(log, readModels, fixedGeneration: null, p.GetValue(step));
            await stdout.WriteLineAsync($"projector: store {uri}");
            long last = -1;
            var backoff = TimeSpan.FromSeconds(1);
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    long position = await projector.CatchUpAsync(ct);
                    if (position != last) await stdout.WriteLineAsync($"projector: generation {projector.Generation} at position {position}");
                    last = position;
                    backoff = TimeSpan.FromSeconds(1);
                    if (p.GetValue(once)) break;
                    await Task.Delay(TimeSpan.FromSeconds(p.GetValue(poll)), ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break; // asked to stop (SIGTERM/Ctrl+C): the last step is committed, nothing is half-done
                }
                catch (Exception ex) when (!p.GetValue(once) && ex is System.Data.Common.DbException or IOException or TimeoutException)
                {
                    // The database went away (restart, network): nothing of the step was committed; try again later.
                    await stderr.WriteLineAsync($"projector: {ex.GetType().Name}: {ex.Message}; retrying in {backoff.TotalSeconds:F0} s");
                    try
                    {
                        await Task.Delay(backoff, ct);
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        break;
                    }
                    backoff = TimeSpan.FromSeconds(Math.Min(30, backoff.TotalSeconds * 2));
                }
            }
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
}
