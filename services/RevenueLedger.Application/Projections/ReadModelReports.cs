using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Application.Projections;

/// <summary>Answers reports from read models, without replaying the log.</summary>
public static class ReadModelReports
{
    /// <summary>
    /// The reports as of the read models' checkpoint, or null when there are none yet. Calendar windows come
    /// straight from the window rows; any other range is computed from the stored account histories.
    /// </summary>
    public static async Task<(long Position, IReadOnlyList<WindowReport> Reports)?> TryReportAsync(
        IReadModelStore readModels, IReadOnlyList<Window> windows, WindowKind? kind, bool byOwner, CancellationToken ct = default)
    {
        int generation = await readModels.CurrentGenerationAsync(ct);
        long position = await readModels.CheckpointAsync(generation, ct);
        if (position == 0) return null;
        if (kind is { } k && windows.Count > 0)
        {
            var stored = await readModels.WindowReportsAsync(generation, k, windows[0].From, windows[^1].To, ct);
            return (position, byOwner ? stored : stored.Select(CompanyOnly).ToList());
        }
        var snapshot = new LedgerSnapshot(position, await readModels.AccountHistoriesAsync(generation, ct));
        return (position, snapshot.Report(windows, byOwner));
    }

    private static WindowReport CompanyOnly(WindowReport r) =>
        new(r.Window, r.Nrr.Where(n => n.Owner.IsAll).ToList(), r.Bridge.Where(b => b.Owner.IsAll).ToList(), r.ChurnReasons, []);
}
