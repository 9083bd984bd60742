using System.Text.Json.Nodes;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using static RevenueLedger.Domain.Tests.Ev;

namespace RevenueLedger.Domain.Tests;

/// <summary>Spec §2 rule 5 and §10: the account currency, FxRateRecorded's field rules, rates in force, and conversion.</summary>
public class CurrencyTests
{
    private const string Rate = """{"eventId":"fx1","type":"FxRateRecorded","currency":"EUR","quoteCurrency":"USD","effectiveDate":"2024-01-01","rate":"1.0880"}""";

    private static ParseResult Parse(string json) => WireFormat.Parse(json, () => "generated-id");

    private static string With(string field, string? jsonValue)
    {
        var node = JsonNode.Parse(Rate)!.AsObject();
        if (jsonValue is null) node.Remove(field); else node[field] = JsonNode.Parse(jsonValue);
        return node.ToJsonString();
    }

    [Fact]
    public void A_rate_parses_into_the_fx_stream_and_its_canonical_payload_has_no_account()
    {
        var fx = Assert.IsType<FxRateRecorded>(Parse(Rate).Event);
        Assert.Equal(("EUR", "USD", new DateOnly(2024, 1, 1), 1.088m), (fx.Currency, fx.QuoteCurrency, fx.EffectiveDate, fx.Rate));
        Assert.Equal(FxRateRecorded.Stream, fx.AccountId);
        Assert.Equal("V1.FxRateRecorded", fx.StoredType);
        var canonical = WireFormat.ToCanonicalJson(fx);
        Assert.Equal("""{"eventId":"fx1","currency":"EUR","quoteCurrency":"USD","effectiveDate":"2024-01-01","rate":"1.088"}""", canonical);
        Assert.Equal(fx, WireFormat.ParseStored(fx.StoredType, canonical));
        Assert.Equal(fx, Parse(WireFormat.ToWireJson(fx)).Event);
        Assert.Equal(1.088m, Assert.IsType<FxRateRecorded>(Parse(With("rate", "1.088")).Event).Rate); // a JSON number too
    }

    [Theory]
    [InlineData("\"-1\"")]
    [InlineData("\"1e3\"")]
    [InlineData("1e3")]
    [InlineData("\"0\"")]
    [InlineData("\"0.0000000000\"")]
    [InlineData("\"10000000\"")]
    [InlineData("\"12345678\"")]
    [InlineData("\"1.12345678901\"")]
    [InlineData("\"1234567.123456\"")]
    [InlineData("\" 1.1\"")]
    [InlineData("\"1.\"")]
    [InlineData("true")]
    public void Bad_rates_are_invalid_and_name_the_rate(string rate)
    {
        var r = Parse(With("rate", rate));
        Assert.Null(r.Event);
        Assert.Equal((Outcome.Invalid, ErrorCodes.InvalidField, "rate"), (r.Error!.Outcome, r.Error.Code, r.Error.Field));
    }

    [Theory]
    [InlineData("9999999.99999")]
    [InlineData("0.0000000001")]
    [InlineData("123456.123456")]
    public void Rates_at_the_edges_of_the_rule_are_valid(string rate) => Assert.NotNull(Parse(With("rate", $"\"{rate}\"")).Event);

    [Fact]
    public void A_rate_of_a_currency_into_itself_is_invalid() =>
        Assert.Equal("quoteCurrency", Parse(With("quoteCurrency", "\"EUR\"")).Error!.Field);

    [Theory]
    [InlineData("accountId", "\"acme\"", ErrorCodes.UnknownField)]
    [InlineData("quoteCurrency", "\"usd\"", ErrorCodes.InvalidField)]
    [InlineData("currency", null, ErrorCodes.MissingField)]
    [InlineData("rate", null, ErrorCodes.MissingField)]
    [InlineData("effectiveDate", "\"2024-02-30\"", ErrorCodes.InvalidField)]
    public void Every_other_field_rule_of_a_rate_is_invalid_input(string field, string? value, string code)
    {
        var r = Parse(With(field, value));
        Assert.Equal((Outcome.Invalid, code, field), (r.Error!.Outcome, r.Error.Code, r.Error.Field));
    }

    [Fact]
    public void Rule5_a_contract_in_another_currency_than_the_account_s_is_rejected()
    {
        var refusal = Spec.Given(Started("c1", "2024-01-01", 100, "EUR")).When(Started("c2", "2024-03-20", 500, "USD")).ThenRejected(ErrorCodes.AccountCurrencyMismatch);
        Assert.Contains("is in EUR", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rule5_holds_for_a_back_dated_contract_and_after_the_first_one_churned() =>
        Spec.Given(Started("c1", "2024-03-01", 100, "EUR"), Churned("c1", "2024-06-01"))
            .When(Started("c2", "2024-01-01", 50, "GBP")).ThenRejected(ErrorCodes.AccountCurrencyMismatch);

    [Fact]
    public void Rule5_a_second_contract_in_the_account_currency_is_accepted() =>
        Spec.Given(Started("c1", "2024-01-01", 100, "EUR")).When(Started("c2", "2024-02-01", 50, "EUR")).ThenAccepted();

    [Fact]
    public void Rule5_once_the_only_contract_is_reversed_the_account_has_no_currency_yet()
    {
        var start = Started("c1", "2024-01-01", 100, "EUR");
        Spec.Given(start, Reversal(start.EventId)).When(Started("c2", "2024-02-01", 50, "USD")).ThenAccepted();
    }

    [Fact]
    public void The_rate_in_force_is_the_latest_by_effective_date_then_position_as_known_at_a_position()
    {
        var day = new DateOnly(2024, 3, 1);
        var table = new FxRateTable([
            new RecordedRate(5, "EUR", "USD", new DateOnly(2024, 1, 1), 1.10m),
            new RecordedRate(9, "EUR", "USD", new DateOnly(2024, 3, 1), 1.20m),
            new RecordedRate(12, "EUR", "USD", new DateOnly(2024, 3, 1), 1.25m), // a correction of the one at 9
            new RecordedRate(14, "EUR", "USD", new DateOnly(2024, 3, 2), 1.30m),
        ]);
        Assert.Equal(1.25m, table.InForce("EUR", "USD", day)!.Value.Rate);
        Assert.Equal(1.20m, table.InForce("EUR", "USD", day, asOfPosition: 11)!.Value.Rate);
        Assert.Equal(1.10m, table.InForce("EUR", "USD", day, asOfPosition: 8)!.Value.Rate);
        Assert.Null(table.InForce("EUR", "USD", day, asOfPosition: 4));
        Assert.Null(table.InForce("USD", "EUR", day)); // never inverted
        Assert.Null(table.InForce("EUR", "USD", new DateOnly(2023, 12, 31)));
    }

    private static AccountHistory History(params LedgerEvent[] events) => AccountHistory.Build(events[0].AccountId, events);

    [Fact]
    public void A_window_converts_at_its_opening_rate_and_the_bridge_closes_at_the_closing_rate_with_fx_impact()
    {
        var eu = History(Owner("ana", "2023-12-01", "eu"), Started("c1", "2023-12-01", 800, "EUR", "eu"), Expanded("c1", "2024-02-10", 100, "EUR", "eu"));
        var us = History(Owner("ana", "2023-12-01", "us"), Started("c1", "2023-12-01", 1000, "USD", "us"));
        var window = new Window(new DateOnly(2024, 1, 1), new DateOnly(2024, 4, 1));
        var rates = new FxRateTable([new(1, "EUR", "USD", new DateOnly(2024, 1, 1), 1.1m), new(2, "EUR", "USD", new DateOnly(2024, 4, 1), 1.2m)]);
        var report = Conversion.ToCurrency(Reports.Compute([eu, us], window), "USD", rates);

        var nrr = report.Nrr.Single(r => r.Owner.IsAll);
        Assert.Equal((1880m, 110m, 1990m), (nrr.OpeningMrr, nrr.Expansion, nrr.ClosingMrr)); // 800×1.1 + 1000; 100×1.1; 900×1.1 + 1000
        var bridge = report.Bridge.Single(r => r.Owner.IsAll);
        Assert.Equal((1880m, 110m, 90m, 2080m), (bridge.OpeningMrr, bridge.Expansion, bridge.FxImpact, bridge.ClosingMrr)); // 900×(1.2−1.1); 900×1.2 + 1000
        Assert.Equal(["EUR|2024-01-01|1.1|1", "EUR|2024-04-01|1.2|2"], report.Rates!.Select(r => $"{r.Currency}|{Dates.Format(r.Date)}|{r.Rate}|{r.Position}"));
        Assert.Equal("USD", report.Currency);
    }

    [Fact]
    public void A_missing_rate_names_the_pair_and_the_first_day_that_needs_it_and_no_report_comes_back()
    {
        var eu = History(Started("c1", "2023-12-01", 800, "EUR", "eu"));
        var window = new Window(new DateOnly(2024, 1, 1), new DateOnly(2024, 4, 1));
        var onlyOpening = new FxRateTable([new(1, "EUR", "USD", new DateOnly(2024, 1, 1), 1.1m)]);
        var missing = Assert.Throws<FxRateMissingException>(() => Conversion.ToCurrency(Reports.Compute([eu], window), "USD", FxRateTable.Empty));
        Assert.Equal(("EUR", "USD", new DateOnly(2024, 1, 1)), (missing.Currency, missing.QuoteCurrency, missing.Day));
        // The bridge closes with MRR, so it needs the rate on `to` too (here: the opening one is still in force then).
        Assert.Equal(880m, Conversion.ToCurrency(Reports.Compute([eu], window), "USD", onlyOpening).Bridge.Single(r => r.Owner.IsAll).ClosingMrr);
        // An account in the reporting currency needs no rate at all.
        Assert.Equal(800m, Conversion.ToCurrency(Reports.Compute([eu], window), "EUR", FxRateTable.Empty).Nrr.Single(r => r.Owner.IsAll).OpeningMrr);
    }

    [Fact]
    public void A_total_that_would_reach_ten_to_the_fourteenth_is_refused_not_rounded()
    {
        var big = Enumerable.Range(0, 3).Select(i => History(Started("c1", "2023-12-01", 1_000_000_000m, "EUR", $"big{i}"))).ToList();
        var window = new Window(new DateOnly(2024, 1, 1), new DateOnly(2024, 2, 1));
        var rates = new FxRateTable([new(1, "EUR", "XXX", new DateOnly(2024, 1, 1), 40_000m)]);
        Assert.Throws<AmountOverflowException>(() => Conversion.ToCurrency(Reports.Compute(big, window), "XXX", rates));
        var fine = new FxRateTable([new(1, "EUR", "XXX", new DateOnly(2024, 1, 1), 33_333.3333m)]);
        Assert.Equal(99_999_999_900_000m, Conversion.ToCurrency(Reports.Compute(big, window), "XXX", fine).Nrr.Single(r => r.Owner.IsAll).OpeningMrr);
    }
}
