using System.Globalization;
using System.Text;
using System.Text.Json;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Application;

public enum ReportPart { Nrr, Bridge, ChurnReasons }

/// <summary>
/// Report serialisations shared by the CLI and the gateway. Money is an exact decimal string; ratios are decimal
/// strings (full decimal precision) or null. Owner ids: "*" company-wide, null unassigned.
/// </summary>
public static class ReportFormats
{
    public static string Ratio(decimal? r, int? decimals = null) => r is { } v ? Money.Format(decimals is { } d ? Math.Round(v, d) : v) : "";

    /// <summary>The scenario files' shape: {"position", "windows": [{"from", "to", "nrr", "bridge", "churnReasons"}]}.</summary>
    public static string ToJson(long position, IReadOnlyList<WindowReport> windows, ReportPart? only = null, bool byOwner = true)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("position", position);
            w.WriteStartArray("windows");
            foreach (var report in windows)
            {
                w.WriteStartObject();
                w.WriteString("from", Dates.Format(report.Window.From));
                w.WriteString("to", Dates.Format(report.Window.To));
                if (!report.IsNative)
                {
                    // The reporting currency and every rate it converted with: what an auditor needs to recompute it.
                    w.WriteString("currency", report.Currency);
                    w.WriteStartArray("rates");
                    foreach (var rate in report.Rates ?? [])
                    {
                        w.WriteStartObject();
                        w.WriteString("currency", rate.Currency);
                        w.WriteString("quoteCurrency", rate.QuoteCurrency);
                        w.WriteString("date", Dates.Format(rate.Date));
                        w.WriteString("rate", Money.Format(rate.Rate));
                        w.WriteNumber("position", rate.Position);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                if (only is null or ReportPart.Nrr)
                {
                    w.WriteStartArray("nrr");
                    foreach (var r in report.Nrr) WriteNrr(w, r);
                    w.WriteEndArray();
                }
                if (only is null or ReportPart.Bridge)
                {
                    w.WriteStartArray("bridge");
                    foreach (var r in report.Bridge) WriteBridge(w, r);
                    w.WriteEndArray();
                }
                if (only is null)
                {
                    w.WriteStartArray("churnReasons");
                    foreach (var r in report.ChurnReasons) WriteChurn(w, r, pareto: null);
                    w.WriteEndArray();
                }
                else if (only is ReportPart.ChurnReasons)
                {
                    w.WriteStartArray("churnReasons");
                    foreach (var (row, share, cumulative) in Pareto(report.ChurnReasons)) WriteChurn(w, row, (share, cumulative));
                    if (byOwner)
                        foreach (var group in report.ChurnReasonsByOwner.GroupBy(r => r.Owner))
                            foreach (var (row, share, cumulative) in Pareto(group.ToList())) WriteChurn(w, row, (share, cumulative));
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Pareto: share of all churned MRR per reason and the running share, in the rows' order (largest first).</summary>
    public static IEnumerable<(ChurnReasonRow Row, decimal Share, decimal Cumulative)> Pareto(IReadOnlyList<ChurnReasonRow> rows)
    {
        decimal total = rows.Sum(r => r.MrrLost), running = 0;
        foreach (var r in rows)
        {
            running += r.MrrLost;
            yield return (r, total == 0 ? 0 : r.MrrLost / total, total == 0 ? 0 : running / total);
        }
    }

    private static void WriteOwner(Utf8JsonWriter w, OwnerGroup g)
    {
        if (g.IsAll) w.WriteString("ownerId", "*");
        else if (g.Id is null) w.WriteNull("ownerId");
        else w.WriteString("ownerId", g.Id);
    }

    private static void WriteRatio(Utf8JsonWriter w, string name, decimal? value)
    {
        if (value is { } v) w.WriteString(name, Money.Format(v)); else w.WriteNull(name);
    }

    private static void WriteNrr(Utf8JsonWriter w, NrrRow r)
    {
        w.WriteStartObject();
        WriteOwner(w, r.Owner);
        w.WriteString("openingMrr", Money.Format(r.OpeningMrr));
        w.WriteString("expansion", Money.Format(r.Expansion));
        w.WriteString("contraction", Money.Format(r.Contraction));
        w.WriteString("churn", Money.Format(r.Churn));
        w.WriteString("reactivation", Money.Format(r.Reactivation));
        w.WriteString("closingMrr", Money.Format(r.ClosingMrr));
        w.WriteNumber("accountsOpening", r.AccountsOpening);
        w.WriteNumber("accountsRetained", r.AccountsRetained);
        WriteRatio(w, "nrr", r.Nrr);
        WriteRatio(w, "grr", r.Grr);
        w.WriteEndObject();
    }

    private static void WriteBridge(Utf8JsonWriter w, BridgeRow r)
    {
        w.WriteStartObject();
        WriteOwner(w, r.Owner);
        w.WriteString("openingMrr", Money.Format(r.OpeningMrr));
        w.WriteString("new", Money.Format(r.New));
        w.WriteString("expansion", Money.Format(r.Expansion));
        w.WriteString("contraction", Money.Format(r.Contraction));
        w.WriteString("churn", Money.Format(r.Churn));
        w.WriteString("reactivation", Money.Format(r.Reactivation));
        w.WriteString("transferIn", Money.Format(r.TransferIn));
        w.WriteString("transferOut", Money.Format(r.TransferOut));
        w.WriteString("fxImpact", Money.Format(r.FxImpact));
        w.WriteString("closingMrr", Money.Format(r.ClosingMrr));
        w.WriteNumber("accountsChurned", r.AccountsChurned);
        w.WriteEndObject();
    }

    private static void WriteChurn(Utf8JsonWriter w, ChurnReasonRow r, (decimal Share, decimal Cumulative)? pareto)
    {
        w.WriteStartObject();
        if (pareto is not null) WriteOwner(w, r.Owner);
        w.WriteString("reason", r.Reason);
        w.WriteString("mrrLost", Money.Format(r.MrrLost));
        w.WriteNumber("accounts", r.Accounts);
        if (pareto is { } p)
        {
            w.WriteString("share", Money.Format(p.Share));
            w.WriteString("cumulativeShare", Money.Format(p.Cumulative));
        }
        w.WriteEndObject();
    }

    /// <summary>Tabular form of one report part: a header and rows of cells (CSV and text tables).</summary>
    public static (string[] Header, List<string[]> Rows) Table(IReadOnlyList<WindowReport> windows, ReportPart part, bool byOwner = true, int? ratioDecimals = null)
    {
        string Owner(OwnerGroup g) => g.IsAll ? "*" : g.Id ?? "";
        string M(decimal d) => Money.Format(d);
        string I(int i) => i.ToString(CultureInfo.InvariantCulture);
        var rows = new List<string[]>();
        switch (part)
        {
            case ReportPart.Nrr:
                foreach (var w in windows)
                    foreach (var r in w.Nrr)
                        rows.Add([Dates.Format(w.Window.From), Dates.Format(w.Window.To), Owner(r.Owner), M(r.OpeningMrr), M(r.Expansion), M(r.Contraction), M(r.Churn), M(r.Reactivation), M(r.ClosingMrr), I(r.AccountsOpening), I(r.AccountsRetained), Ratio(r.Nrr, ratioDecimals), Ratio(r.Grr, ratioDecimals), Currency(w, r.Currency)]);
                return (["from", "to", "ownerId", "openingMrr", "expansion", "contraction", "churn", "reactivation", "closingMrr", "accountsOpening", "accountsRetained", "nrr", "grr", "currency"], rows);
            case ReportPart.Bridge:
                foreach (var w in windows)
                    foreach (var r in w.Bridge)
                        rows.Add([Dates.Format(w.Window.From), Dates.Format(w.Window.To), Owner(r.Owner), M(r.OpeningMrr), M(r.New), M(r.Expansion), M(r.Contraction), M(r.Churn), M(r.Reactivation), M(r.TransferIn), M(r.TransferOut), M(r.ClosingMrr), I(r.AccountsChurned), M(r.FxImpact), Currency(w, r.Currency)]);
                return (["from", "to", "ownerId", "openingMrr", "new", "expansion", "contraction", "churn", "reactivation", "transferIn", "transferOut", "closingMrr", "accountsChurned", "fxImpact", "currency"], rows);
            default:
                foreach (var w in windows)
                {
                    var groups = new List<IReadOnlyList<ChurnReasonRow>> { w.ChurnReasons };
                    if (byOwner) groups.AddRange(w.ChurnReasonsByOwner.GroupBy(r => r.Owner).Select(g => (IReadOnlyList<ChurnReasonRow>)g.ToList()));
                    foreach (var g in groups)
                        foreach (var (r, share, cumulative) in Pareto(g))
                            rows.Add([Dates.Format(w.Window.From), Dates.Format(w.Window.To), Owner(r.Owner), r.Reason, M(r.MrrLost), I(r.Accounts), Money.Format(Math.Round(share, 6)), Money.Format(Math.Round(cumulative, 6)), Currency(w, r.Currency)]);
                }
                return (["from", "to", "ownerId", "reason", "mrrLost", "accounts", "share", "cumulativeShare", "currency"], rows);
        }
    }

    private static string Currency(WindowReport w, string rowCurrency) => w.IsNative ? rowCurrency : w.Currency;

    /// <summary>RFC 4180 CSV with a header row.</summary>
    public static string ToCsv(string[] header, IEnumerable<string[]> rows)
    {
        var sb = new StringBuilder();
        void Line(string[] cells) => sb.Append(string.Join(',', cells.Select(Escape))).Append("\r\n");
        Line(header);
        foreach (var r in rows) Line(r);
        return sb.ToString();
    }

    private static string Escape(string cell) =>
        cell.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : cell;
}
