using System.Globalization;
using System.Text;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Application;

/// <summary>One line of a billing export: what billing says an account's MRR was at the end of a day.</summary>
public readonly record struct BillingRow(long Line, string AccountId, DateOnly Date, decimal Mrr, string Currency);

public enum ReconcileStatus { Matched, Differs, MissingInLedger, MissingInBilling }

/// <summary>One compared (account, date): the ledger's side and billing's; null where a side has nothing.</summary>
public sealed record ReconcileItem(string AccountId, DateOnly Date, ReconcileStatus Status, decimal? LedgerMrr, string? LedgerCurrency, decimal? BillingMrr, string? BillingCurrency)
{
    /// <summary>Ledger minus billing; null when the two sides are in different currencies (no amount can be subtracted then).</summary>
    public decimal? Difference => LedgerCurrency is not null && BillingCurrency is not null && LedgerCurrency != BillingCurrency
        ? null
        : (LedgerMrr ?? 0) - (BillingMrr ?? 0);
}

/// <summary>Count and sums of one status in one currency.</summary>
public sealed record ReconcileTotal(ReconcileStatus Status, string Currency, long Rows, decimal LedgerMrr, decimal BillingMrr);

public sealed record ReconcileResult(long Position, int Dates, long BillingRows, IReadOnlyList<ReconcileTotal> Totals, IReadOnlyList<ReconcileItem> Differences)
{
    public bool AllMatched => Differences.Count == 0;
}

/// <summary>
/// Ties the ledger to billing. For each (account, date) in the billing file the ledger's MRR at the end of that date —
/// every active event effective on or before it, i.e. MRR(date + 1), the closing MRR of a window ending that day — in
/// the account's own currency, compared exactly. Missing in the ledger: an account the ledger has never seen. Missing
/// in billing: an account with MRR at the end of a date the file covers and no line for it. Dates are business time.
/// </summary>
public static class Reconciliation
{
    public static ReconcileResult Reconcile(LedgerSnapshot ledger, IReadOnlyList<BillingRow> billing)
    {
        var accounts = new Dictionary<string, AccountHistory>(ledger.Accounts.Count, StringComparer.Ordinal);
        foreach (var a in ledger.Accounts) accounts[a.AccountId] = a;
        var totals = new Dictionary<(ReconcileStatus, string), (long Rows, decimal Ledger, decimal Billing)>();
        var differences = new List<ReconcileItem>();
        var billed = new HashSet<(string, DateOnly)>();
        void Count(ReconcileItem item)
        {
            // Sums never mix currencies: each side's amount goes to its own currency's row; the line counts under the ledger's.
            var key = (item.Status, item.LedgerCurrency ?? item.BillingCurrency!);
            totals.TryGetValue(key, out var t);
            bool apart = item.Difference is null;
            totals[key] = (t.Rows + 1, t.Ledger + (item.LedgerMrr ?? 0), t.Billing + (apart ? 0 : item.BillingMrr ?? 0));
            if (apart)
            {
                var other = (item.Status, item.BillingCurrency!);
                totals.TryGetValue(other, out var o);
                totals[other] = (o.Rows, o.Ledger, o.Billing + (item.BillingMrr ?? 0));
            }
            if (item.Status != ReconcileStatus.Matched) differences.Add(item);
        }
        foreach (var b in billing)
        {
            if (!billed.Add((b.AccountId, b.Date)))
                throw new LedgerUsageException($"line {b.Line}: a second line for account '{b.AccountId}' on {Dates.Format(b.Date)}");
            if (!accounts.TryGetValue(b.AccountId, out var a))
            {
                Count(new ReconcileItem(b.AccountId, b.Date, ReconcileStatus.MissingInLedger, null, null, b.Mrr, b.Currency));
                continue;
            }
            decimal mrr = a.MrrAt(b.Date.AddDays(1));
            var status = mrr == b.Mrr && a.Currency == b.Currency ? ReconcileStatus.Matched : ReconcileStatus.Differs;
            Count(new ReconcileItem(b.AccountId, b.Date, status, mrr, a.Currency, b.Mrr, b.Currency));
        }
        var dates = billing.Select(b => b.Date).Distinct().Order().ToList();
        foreach (var d in dates)
            foreach (var a in ledger.Accounts)
                if (!billed.Contains((a.AccountId, d)) && a.MrrAt(d.AddDays(1)) is var mrr and not 0)
                    Count(new ReconcileItem(a.AccountId, d, ReconcileStatus.MissingInBilling, mrr, a.Currency, null, null));
        var ordered = differences.OrderBy(i => i.Date).ThenBy(i => i.AccountId, StringComparer.Ordinal).ToList();
        var totalRows = totals.Select(t => new ReconcileTotal(t.Key.Item1, t.Key.Item2, t.Value.Rows, t.Value.Ledger, t.Value.Billing))
            .OrderBy(t => t.Status).ThenBy(t => t.Currency, StringComparer.Ordinal).ToList();
        return new ReconcileResult(ledger.Position, dates.Count, billing.Count, totalRows, ordered);
    }

    public static string StatusName(ReconcileStatus s) => s switch
    {
        ReconcileStatus.Matched => "matched",
        ReconcileStatus.Differs => "differs",
        ReconcileStatus.MissingInLedger => "missing-in-ledger",
        _ => "missing-in-billing",
    };

    /// <summary>The differences as CSV: one line per (account, date) that did not match, with both sides.</summary>
    public static string DifferencesCsv(ReconcileResult result) =>
        ReportFormats.ToCsv(["accountId", "date", "status", "ledgerMrr", "ledgerCurrency", "billingMrr", "billingCurrency", "difference"],
            result.Differences.Select(i => new[]
            {
                i.AccountId, Dates.Format(i.Date), StatusName(i.Status), i.LedgerMrr is { } l ? Money.Format(l) : "", i.LedgerCurrency ?? "",
                i.BillingMrr is { } b ? Money.Format(b) : "", i.BillingCurrency ?? "", i.Difference is { } d ? Money.Format(d) : "",
            }));
}

/// <summary>Reads a billing export: a header row naming the columns (mappable), then accountId, date, mrr, currency.</summary>
public static class BillingCsv
{
    public sealed record Columns(string AccountId = "accountId", string Date = "date", string Mrr = "mrr", string Currency = "currency");

    /// <summary>Every line or none: the first bad line is refused with its number, the column and the value.</summary>
    public static List<BillingRow> Read(TextReader reader, Columns columns)
    {
        var header = reader.ReadLine() ?? throw new LedgerUsageException("the billing file is empty (no header row)");
        var names = Split(header, 1);
        int Index(string name) => names.IndexOf(name) is var i and >= 0 ? i
            : throw new LedgerUsageException($"the billing file has no column '{name}' (its header: {string.Join(", ", names)}); map columns with --account-column, --date-column, --mrr-column, --currency-column");
        int account = Index(columns.AccountId), date = Index(columns.Date), mrr = Index(columns.Mrr), currency = Index(columns.Currency);
        var rows = new List<BillingRow>();
        long line = 1;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (text.Length == 0) continue;
            var cells = Split(text, line);
            if (cells.Count != names.Count) throw new LedgerUsageException($"line {line}: {cells.Count} cells where the header has {names.Count}");
            string id = cells[account].Trim();
            if (id.Length == 0) throw new LedgerUsageException($"line {line}: {columns.AccountId} is empty");
            if (!Dates.TryParse(cells[date].Trim(), out var d) || d == DateOnly.MaxValue) throw new LedgerUsageException($"line {line}: {columns.Date} '{cells[date]}' is not a date YYYY-MM-DD");
            if (!decimal.TryParse(cells[mrr].Trim(), NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var m) || m < 0)
                throw new LedgerUsageException($"line {line}: {columns.Mrr} '{cells[mrr]}' is not a non-negative decimal amount");
            string c = cells[currency].Trim();
            if (!CurrencyCode.IsValid(c)) throw new LedgerUsageException($"line {line}: {columns.Currency} '{c}' is not an ISO 4217 code such as USD");
            rows.Add(new BillingRow(line, id, d, m, c));
        }
        return rows;
    }

    /// <summary>RFC 4180 cells of one line (quotes around a cell, "" inside for a quote; no line breaks inside cells).</summary>
    private static List<string> Split(string line, long number)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch != '"') cell.Append(ch);
                else if (i + 1 < line.Length && line[i + 1] == '"') { cell.Append('"'); i++; }
                else quoted = false;
            }
            else if (ch == '"' && cell.Length == 0) quoted = true;
            else if (ch == ',') { cells.Add(cell.ToString()); cell.Clear(); }
            else cell.Append(ch);
        }
        if (quoted) throw new LedgerUsageException($"line {number}: a quoted cell is not closed");
        cells.Add(cell.ToString());
        return cells;
    }
}
