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
        LedgerSnapshot? histories = null;
        async Task<LedgerSnapshot> Histories() => histories ??= new LedgerSnapshot(position, await readModels.AccountHistoriesAsync(generation, ct));
        if (kind is { } k && windows.Count > 0)
        {
            var stored = (await readModels.WindowReportsAsync(generation, k, windows[0].From, windows[^1].To, ct)).ToList();
            // Windows are projected up to the last effective date in the log; a later one (the current quarter
            // before anything happened in it) still has opening MRR, so it is computed from the histories.
            for (int i = 0; i < stored.Count; i++)
                if (stored[i].Nrr.Count == 0 && stored[i].Bridge.Count == 0 && stored[i].ChurnReasons.Count == 0)
                    stored[i] = (await Histories()).Report(stored[i].Window);
            return (position, byOwner ? stored : stored.Select(CompanyOnly).ToList());
        }
        return (position, (await Histories()).Report(windows, byOwner));
    }

    /// <summary>Stored rows back into reports, in the order <see cref="Reports.Compute"/> gives them.</summary>
    public static IReadOnlyList<WindowReport> Assemble(IEnumerable<(Window Window, List<NrrRow> Nrr, List<BridgeRow> Bridge, List<ChurnReasonRow> Churn)> windows)
    {
        var order = Comparer<OwnerGroup>.Create(OwnerGroup.Compare);
        return windows.Select(w =>
        {
            var churn = w.Churn.OrderByDescending(c => c.MrrLost).ThenBy(c => c.Reason, StringComparer.Ordinal).ToList();
            return new WindowReport(w.Window,
                w.Nrr.OrderBy(n => n.Owner, order).ToList(),
                w.Bridge.OrderBy(b => b.Owner, order).ToList(),
                churn.Where(c => c.Owner.IsAll).ToList(),
                churn.Where(c => !c.Owner.IsAll).OrderBy(c => c.Owner, order).ToList());
        }).ToList();
    }

    private static WindowReport CompanyOnly(WindowReport r) =>
        new(r.Window, r.Nrr.Where(n => n.Owner.IsAll).ToList(), r.Bridge.Where(b => b.Owner.IsAll).ToList(), r.ChurnReasons, []);
}
