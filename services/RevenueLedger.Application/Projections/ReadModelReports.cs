using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Application.Projections;

/// <summary>Answers reports from read models, without replaying the log.</summary>
public static class ReadModelReports
{
    /// <summary>
    /// The reports in <paramref name="currency"/> as of the read models' checkpoint, or null when there are none yet.
    /// Calendar windows come straight from the window rows (native sums, converted here with the stored rates); any
    /// other range is computed from the stored account histories.
    /// </summary>
    public static async Task<(long Position, IReadOnlyList<WindowReport> Reports)?> TryReportAsync(
        IReadModelStore readModels, IReadOnlyList<Window> windows, WindowKind? kind, bool byOwner, string currency, IHeldHistories? held = null, CancellationToken ct = default)
    {
        if (await TryReportNativeAsync(readModels, windows, kind, byOwner, held, ct) is not { } native) return null;
        return (native.Position, Conversion.ToCurrency(native.Reports, currency, native.Rates, native.Position));
    }

    /// <summary>
    /// The same before conversion: native sums per account currency, the rates and the generation they belong to —
    /// what a long-lived reader can keep and convert into any currency while the read models stay where they are.
    /// </summary>
    public static async Task<NativeReports?> TryReportNativeAsync(
        IReadModelStore readModels, IReadOnlyList<Window> windows, WindowKind? kind, bool byOwner, IHeldHistories? held, CancellationToken ct)
    {
        if (windows.Count == 0) return null;
        var view = await readModels.ReadViewAsync(kind, windows[0].From, windows[^1].To, histories: kind is null,
            held is null ? null : (generation, position) => held.Get(generation, position) is not null, ct);
        if (view is null) return null;
        var rates = new FxRateTable(view.Rates);
        LedgerSnapshot? snapshot = null;
        if (view.Histories is { } h)
        {
            snapshot = new LedgerSnapshot(view.Position, h, rates);
            held?.Offer(view.Generation, snapshot);
        }
        else if (held?.Get(view.Generation, view.Position) is { } kept) snapshot = kept;
        if (kind is null) return new NativeReports(view.Generation, view.Position, snapshot!.Report(windows, byOwner), rates);
        // Windows are projected up to the last effective date in the log; a later one (the current quarter before
        // anything happened in it) still has opening MRR, so it comes from the histories read in the same view.
        var reports = view.Windows
            .Select(w => w.Nrr.Count == 0 && w.Bridge.Count == 0 && w.ChurnReasons.Count == 0 && snapshot is not null ? snapshot.Report(w.Window) : w)
            .ToList();
        return new NativeReports(view.Generation, view.Position, byOwner ? reports : reports.Select(CompanyOnly).ToList(), rates);
    }

    /// <summary>Stored rows back into reports, in the order <see cref="Reports.Compute"/> gives them.</summary>
    public static IReadOnlyList<WindowReport> Assemble(IEnumerable<(Window Window, List<NrrRow> Nrr, List<BridgeRow> Bridge, List<ChurnReasonRow> Churn)> windows)
    {
        var order = Comparer<OwnerGroup>.Create(OwnerGroup.Compare);
        return windows.Select(w =>
        {
            var churn = w.Churn.OrderByDescending(c => c.MrrLost).ThenBy(c => c.Reason, StringComparer.Ordinal).ThenBy(c => c.Currency, StringComparer.Ordinal).ToList();
            return new WindowReport(w.Window,
                w.Nrr.OrderBy(n => n.Owner, order).ThenBy(n => n.Currency, StringComparer.Ordinal).ToList(),
                w.Bridge.OrderBy(b => b.Owner, order).ThenBy(b => b.Currency, StringComparer.Ordinal).ToList(),
                churn.Where(c => c.Owner.IsAll).ToList(),
                churn.Where(c => !c.Owner.IsAll).OrderBy(c => c.Owner, order).ToList());
        }).ToList();
    }

    private static WindowReport CompanyOnly(WindowReport r) =>
        new(r.Window, r.Nrr.Where(n => n.Owner.IsAll).ToList(), r.Bridge.Where(b => b.Owner.IsAll).ToList(), r.ChurnReasons, []);
}

/// <summary>Window reports as summed (native, per account currency) at one generation and position, with the rates known there.</summary>
public sealed record NativeReports(int Generation, long Position, IReadOnlyList<WindowReport> Reports, FxRateTable Rates);

/// <summary>
/// Account histories a long-lived reader (the gateway) keeps between requests, per read-model generation and
/// position: windows without rows are answered from them without reading every history again for each request.
/// </summary>
public interface IHeldHistories
{
    /// <summary>The histories of that generation at exactly that position, if held.</summary>
    LedgerSnapshot? Get(int generation, long position);

    /// <summary>Histories just read, for the next request at the same position.</summary>
    void Offer(int generation, LedgerSnapshot snapshot);
}
