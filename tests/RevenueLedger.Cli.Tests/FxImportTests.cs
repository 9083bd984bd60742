using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.Sqlite;
using RevenueLedger.Tests;

namespace RevenueLedger.Cli.Tests;

/// <summary>`ledger fx import`: the ECB's euro reference rates into one quote currency, cross rates derived and rounded to the rule.</summary>
public sealed class FxImportTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Store => "sqlite:" + _dir.File("ledger.db");

    // The ECB layout: units per 1 EUR, N/A where missing, a trailing comma on every line.
    private const string Csv = "Date,USD,JPY,GBP,IDR,CYP,\n" +
                               "2024-01-03,1.0919,155.40,0.86245,16945.63,N/A,\n" +
                               "2024-01-02,1.0956,155.65,0.86760,17004.01,N/A,\n";

    private async Task<IReadOnlyList<FxRateRecorded>> RatesAsync()
    {
        await using var store = await SqliteEventStore.OpenAsync(_dir.File("ledger.db"), create: false);
        var rates = new List<FxRateRecorded>();
        await foreach (var e in store.ReadAllAsync()) rates.Add(Assert.IsType<FxRateRecorded>(e.Event));
        return rates;
    }

    [Fact]
    public async Task Rates_into_usd_are_recorded_with_derived_cross_rates_and_a_reimport_records_nothing()
    {
        var file = _dir.File("eurofxref-hist.csv");
        await File.WriteAllTextAsync(file, Csv);
        var first = await Cli.RunAsync("fx", "import", file, "--quote", "USD", "--store", Store);
        Assert.True(first.Exit == 0, first.Err + first.Out);
        Assert.Contains("8 rates into USD", first.Out, StringComparison.Ordinal);
        Assert.Contains("8 recorded, 0 already recorded", first.Out, StringComparison.Ordinal);

        var rates = await RatesAsync();
        Assert.All(rates, r => Assert.Equal("USD", r.QuoteCurrency));
        var byPair = rates.ToDictionary(r => (r.Currency, Dates.Format(r.EffectiveDate)), r => r.Rate);
        Assert.Equal(1.0919m, byPair[("EUR", "2024-01-03")]);                 // as published
        Assert.Equal(EcbRates.Round(1.0919m / 0.86245m), byPair[("GBP", "2024-01-03")]);
        Assert.Equal(1.2660444084m, byPair[("GBP", "2024-01-03")]);           // 10 decimal places (the cap comes before 12 digits)
        Assert.Equal(0.0000644355m, byPair[("IDR", "2024-01-03")]);           // 10 decimal places at most
        Assert.Equal(0.0070263835m, byPair[("JPY", "2024-01-03")]);
        Assert.DoesNotContain(rates, r => r.Currency == "CYP");               // N/A: nothing to record
        foreach (var r in rates) Assert.True(Rates.TryParse(Money.Format(r.Rate), out _, out var problem), problem);

        var again = await Cli.RunAsync("fx", "import", file, "--quote", "USD", "--store", Store);
        Assert.Equal(0, again.Exit);
        Assert.Contains("0 recorded, 8 already recorded", again.Out, StringComparison.Ordinal);
        Assert.Equal(rates.Count, (await RatesAsync()).Count);
    }

    [Fact]
    public async Task Rates_into_eur_are_the_inverses_and_a_filter_keeps_only_the_named_currencies()
    {
        var file = _dir.File("rates.csv");
        await File.WriteAllTextAsync(file, Csv);
        var r = await Cli.RunAsync("fx", "import", file, "--quote", "EUR", "--currencies", "USD,GBP", "--store", Store);
        Assert.True(r.Exit == 0, r.Err);
        var rates = await RatesAsync();
        Assert.Equal(["GBP", "USD"], rates.Select(x => x.Currency).Distinct().Order());
        Assert.Equal(EcbRates.Round(1m / 1.0919m), rates.Single(x => x.Currency == "USD" && x.EffectiveDate == new DateOnly(2024, 1, 3)).Rate);
    }

    [Theory]
    [InlineData("Day,USD\n2024-01-02,1.1\n", "header must start with Date")]
    [InlineData("Date,USD\n2024-13-02,1.1\n", "line 2: '2024-13-02' is not a date")]
    [InlineData("Date,USD\n2024-01-02,-1.1\n", "line 2: USD is '-1.1', not a positive decimal")]
    [InlineData("Date,JPY\n2024-01-02,155\n", "no USD column")]
    public async Task A_file_that_is_not_the_ecb_layout_is_refused_and_nothing_is_stored(string content, string message)
    {
        var file = _dir.File("bad.csv");
        await File.WriteAllTextAsync(file, content);
        var r = await Cli.RunAsync("fx", "import", file, "--quote", "USD", "--store", Store);
        Assert.NotEqual(0, r.Exit);
        Assert.Contains(message, r.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("ledger.db")) && (await RatesAsync()).Count > 0);
    }

    [Theory]
    [InlineData("15519.4175290777", "15519.4175291")]  // 5 integer digits: 7 places make 12 significant digits
    [InlineData("2.00000000005", "2")]                 // half to even at the 10th place
    [InlineData("2.00000000015", "2.0000000002")]
    [InlineData("0.000000000049", "0")]                // below what 10 places can state: no rate (refused by the rule)
    public void Derived_rates_are_rounded_half_to_even_to_the_rule(string value, string rounded) =>
        Assert.Equal(decimal.Parse(rounded, System.Globalization.CultureInfo.InvariantCulture),
            EcbRates.Round(decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture)));
}
