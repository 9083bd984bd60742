using System.Globalization;
using RevenueLedger.Application;

namespace RevenueLedger.Cli;

/// <summary>
/// `ledger report`'s table format, for people: the CSV's columns and signs (every amount positive, the formula says
/// which ones subtract), the demo's labels, percentages and thousands separators. The exact values stay in CSV/JSON.
/// </summary>
internal static class ReportText
{
    private static readonly HashSet<string> Ratios = ["nrr", "grr", "share", "cumulativeShare"];
    private static readonly HashSet<string> Counts = ["accountsOpening", "accountsRetained", "accountsChurned", "accounts"];
    private static readonly HashSet<string> Plain = ["from", "to", "ownerId", "reason", "currency"];

    public static (string[] Header, List<string[]> Rows) ForPeople((string[] Header, List<string[]> Rows) table)
    {
        var (header, rows) = table;
        string Cell(string column, string value) => column switch
        {
            "ownerId" => value switch { "*" => "company", "" => "(unassigned)", _ => value },
            _ when Plain.Contains(column) => value,
            _ when value.Length == 0 => "—", // a ratio of an empty opening is null: not 0%
            _ when Ratios.Contains(column) => (Parse(value) * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%",
            _ when Counts.Contains(column) => Parse(value).ToString("#,##0", CultureInfo.InvariantCulture),
            _ => Parse(value).ToString("#,##0.00", CultureInfo.InvariantCulture),
        };
        return (header.Select(h => h == "ownerId" ? "owner" : h).ToArray(), rows.Select(r => r.Select((v, i) => Cell(header[i], v)).ToArray()).ToList());
    }

    private static decimal Parse(string s) => decimal.Parse(s, NumberStyles.Number, CultureInfo.InvariantCulture);

    /// <summary>What the columns mean, printed under the tables shown.</summary>
    public static IEnumerable<string> Legend(IEnumerable<ReportPart> parts)
    {
        yield return "";
        yield return "Legend (docs/semantics.md has the rules; --format csv|json gives the exact values):";
        foreach (var part in parts)
        {
            switch (part)
            {
                case ReportPart.Nrr:
                    yield return "  NRR cohorts: the accounts with MRR on the window's first day, under their owner that day.";
                    yield return "    openingMrr + expansion − contraction − churn + reactivation = closingMrr";
                    yield return "    nrr = closingMrr ÷ openingMrr;  grr = (openingMrr − contraction − churn) ÷ openingMrr;  — when openingMrr is 0";
                    break;
                case ReportPart.Bridge:
                    yield return "  MRR bridge: every account, each movement under its owner on the movement's day.";
                    yield return "    openingMrr + new + expansion − contraction − churn + reactivation + transferIn − transferOut + fxImpact = closingMrr";
                    yield return "    amounts are shown positive, as in the CSV and JSON; the formula says which subtract";
                    break;
                case ReportPart.ChurnReasons:
                    yield return "  Churn reasons (Pareto): share = mrrLost ÷ all MRR lost to churn in the window; cumulativeShare adds the shares down the list;";
                    yield return "    accounts counts each churned account once, under the reason that removed most of its MRR";
                    break;
            }
        }
    }
}
