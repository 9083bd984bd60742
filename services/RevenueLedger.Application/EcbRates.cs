using System.Globalization;
using RevenueLedger.Domain;

namespace RevenueLedger.Application;

/// <summary>
/// The European Central Bank's euro reference rates in its CSV layout (<c>eurofxref-hist.csv</c>): a header
/// <c>Date,USD,JPY,…</c> (a trailing comma is usual), then one row per day, each cell the units of that currency per
/// 1 EUR, <c>N/A</c> where there is none. Turned into rates into one quote currency Q (spec §10):
/// <list type="bullet">
/// <item>EUR→Q is the file's Q cell, as published (when Q is EUR, there is none to record);</item>
/// <item>C→Q for every other currency is the cross rate Q-per-EUR ÷ C-per-EUR (for Q = EUR: 1 ÷ C-per-EUR), rounded
/// half to even to 12 significant digits and at most 10 decimal places, which the field rules allow.</item>
/// </list>
/// Each rate's eventId is <c>ecb:C/Q:DATE</c>, so importing the same file again records nothing new (duplicates).
/// </summary>
public static class EcbRates
{
    public static IEnumerable<FxRateRecorded> Parse(TextReader csv, string quote, IReadOnlySet<string>? only = null, Action<string>? skipped = null)
    {
        var header = csv.ReadLine() ?? throw new LedgerUsageException("the rates file is empty: expected the ECB layout, a header starting with Date");
        var columns = header.Split(',').Select(c => c.Trim()).ToArray();
        if (columns.Length < 2 || !columns[0].Equals("Date", StringComparison.OrdinalIgnoreCase))
            throw new LedgerUsageException($"the rates file's header must start with Date (the ECB layout), got '{header[..Math.Min(header.Length, 60)]}'");
        for (int i = 1; i < columns.Length; i++)
            if (columns[i].Length > 0 && !CurrencyCode.IsValid(columns[i]))
                throw new LedgerUsageException($"the rates file's column {i + 1} is '{columns[i]}', not a currency code");
        int quoteColumn = Array.IndexOf(columns, quote);
        if (quote != "EUR" && quoteColumn < 0) throw new LedgerUsageException($"the rates file has no {quote} column, so no rate into {quote} can be derived");
        string? line;
        int lineNumber = 1;
        while ((line = csv.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Trim().Length == 0) continue;
            var cells = line.Split(',').Select(c => c.Trim()).ToArray();
            if (!Dates.TryParse(cells[0], out var day)) throw new LedgerUsageException($"line {lineNumber}: '{cells[0]}' is not a date YYYY-MM-DD");
            decimal? PerEuro(int column)
            {
                if (column >= cells.Length || cells[column].Length == 0 || cells[column] == "N/A") return null;
                return decimal.TryParse(cells[column], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) && v > 0
                    ? v
                    : throw new LedgerUsageException($"line {lineNumber}: {columns[column]} is '{cells[column]}', not a positive decimal");
            }
            decimal? quotePerEuro = quote == "EUR" ? 1m : PerEuro(quoteColumn);
            if (quotePerEuro is null)
            {
                skipped?.Invoke($"{Dates.Format(day)}: no {quote} rate that day, so none into it");
                continue;
            }
            var date = Dates.Format(day);
            if (quote != "EUR" && only?.Contains("EUR") != false && Rate("EUR", quote, day, quotePerEuro.Value, date, skipped) is { } euro)
                yield return euro;
            for (int c = 1; c < columns.Length; c++)
            {
                var currency = columns[c];
                if (currency.Length == 0 || currency == quote || (only is not null && !only.Contains(currency))) continue;
                if (PerEuro(c) is not { } perEuro) continue;
                var rate = Rate(currency, quote, day, quotePerEuro.Value / perEuro, date, skipped);
                if (rate is not null) yield return rate;
            }
        }
    }

    private static FxRateRecorded? Rate(string currency, string quote, DateOnly day, decimal value, string date, Action<string>? skipped)
    {
        var rounded = Round(value);
        if (!Rates.TryParse(Money.Format(rounded), out var rate, out var problem))
        {
            skipped?.Invoke($"{date}: {currency}→{quote} = {value} cannot be a rate ({problem})");
            return null;
        }
        return new FxRateRecorded($"ecb:{currency}/{quote}:{date}", currency, quote, day, rate, Metadata.From([new("source", "ecb-eurofxref")]));
    }

    /// <summary>Half to even, to 12 significant digits and at most 10 decimal places.</summary>
    public static decimal Round(decimal value)
    {
        int places;
        if (value >= 1)
        {
            int integerDigits = decimal.Truncate(value).ToString(CultureInfo.InvariantCulture).Length;
            places = Math.Max(0, Rates.MaxSignificantDigits - integerDigits);
        }
        else
        {
            int leadingZeros = 0;
            for (var x = value; x < 0.1m && x > 0; x *= 10) leadingZeros++;
            places = leadingZeros + Rates.MaxSignificantDigits;
        }
        return Math.Round(value, Math.Min(10, places), MidpointRounding.ToEven);
    }
}
