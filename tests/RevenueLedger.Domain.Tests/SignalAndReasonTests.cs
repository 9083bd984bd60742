using System.Text.Json.Nodes;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Insights;
using RevenueLedger.Domain.Reporting;
using static RevenueLedger.Domain.Tests.Ev;

namespace RevenueLedger.Domain.Tests;

/// <summary>docs/semantics.md "Signals and reasons": the two events' field rules, their rules in the decider, and what folds make of them.</summary>
public class SignalAndReasonTests
{
    private const string SignalJson = """{"eventId":"s1","type":"SignalRecorded","accountId":"acme","signal":"logins-per-week","value":"12.5","effectiveDate":"2024-03-01"}""";
    private const string ReasonJson = """{"eventId":"r1","type":"ReasonCatalogued","reason":"onboarding","label":"Weak onboarding","function":"customer-success"}""";

    private static ParseResult Parse(string json) => WireFormat.Parse(json, () => "generated-id");

    private static string With(string json, string field, string? jsonValue)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        if (jsonValue is null) node.Remove(field); else node[field] = JsonNode.Parse(jsonValue);
        return node.ToJsonString();
    }

    [Fact]
    public void A_signal_parses_round_trips_and_keeps_its_sign()
    {
        var s = Assert.IsType<SignalRecorded>(Parse(SignalJson).Event);
        Assert.Equal(("acme", "logins-per-week", 12.5m, D("2024-03-01")), (s.AccountId, s.Signal, s.Value, s.EffectiveDate));
        Assert.Equal("V1.SignalRecorded", s.StoredType);
        var canonical = WireFormat.ToCanonicalJson(s);
        Assert.Equal("""{"eventId":"s1","accountId":"acme","signal":"logins-per-week","value":"12.5","effectiveDate":"2024-03-01"}""", canonical);
        Assert.Equal(s, WireFormat.ParseStored(s.StoredType, canonical));
        var negative = Assert.IsType<SignalRecorded>(Parse(With(SignalJson, "value", "-3.25")).Event);
        Assert.Equal(-3.25m, negative.Value);
        Assert.Contains("\"value\":\"-3.25\"", WireFormat.ToCanonicalJson(negative), StringComparison.Ordinal);
        Assert.Equal(0m, Assert.IsType<SignalRecorded>(Parse(With(SignalJson, "value", "\"0\"")).Event).Value);
    }

    [Theory]
    [InlineData("value", "\"1e3\"")]
    [InlineData("value", "\"--1\"")]
    [InlineData("value", "\"1.12345\"")]
    [InlineData("value", "\"+1\"")]
    [InlineData("value", "\"1000000001\"")]
    [InlineData("value", "true")]
    [InlineData("value", "null")]
    [InlineData("signal", "\"Logins\"")]
    [InlineData("signal", "\"-x\"")]
    [InlineData("signal", "\"\"")]
    [InlineData("effectiveDate", "\"2024-02-30\"")]
    [InlineData("accountId", "\"$fx\"")]
    public void Bad_signal_fields_are_invalid_and_named(string field, string value)
    {
        var r = Parse(With(SignalJson, field, value));
        Assert.Null(r.Event);
        Assert.Equal(Outcome.Invalid, r.Error!.Outcome);
        Assert.Equal(field, r.Error.Field);
    }

    [Theory]
    [InlineData("reason")]
    [InlineData("label")]
    [InlineData("function")]
    public void A_catalogue_entry_needs_each_of_its_fields(string field)
    {
        var r = Parse(With(ReasonJson, field, null));
        Assert.Equal((Outcome.Invalid, ErrorCodes.MissingField, field), (r.Error!.Outcome, r.Error.Code, r.Error.Field));
    }

    [Theory]
    [InlineData("function", "\"finance\"", ErrorCodes.InvalidField)]
    [InlineData("label", "\" padded\"", ErrorCodes.InvalidField)]
    [InlineData("label", "\"tab\\there\"", ErrorCodes.InvalidField)]
    [InlineData("reason", "\"Has Caps\"", ErrorCodes.InvalidField)]
    [InlineData("accountId", "\"acme\"", ErrorCodes.UnknownField)]
    public void Bad_catalogue_fields_are_invalid(string field, string value, string code)
    {
        var r = Parse(With(ReasonJson, field, value));
        Assert.Equal((Outcome.Invalid, code, field), (r.Error!.Outcome, r.Error.Code, r.Error.Field));
    }

    [Fact]
    public void A_catalogue_entry_lives_in_its_own_stream_and_round_trips()
    {
        var e = Assert.IsType<ReasonCatalogued>(Parse(ReasonJson).Event);
        Assert.Equal((ReasonCatalogued.Stream, "onboarding", "Weak onboarding", "customer-success"), (e.AccountId, e.Reason, e.Label, e.Function));
        var canonical = WireFormat.ToCanonicalJson(e);
        Assert.DoesNotContain("accountId", canonical, StringComparison.Ordinal);
        Assert.Equal(e, WireFormat.ParseStored(e.StoredType, canonical));
    }

    [Fact]
    public void Signals_obey_no_timeline_rule_and_a_reversal_removes_one()
    {
        var signal = Signal("nps", "2024-01-01", -20);
        // Before any contract, and a reversal of it, are both accepted; a second reversal is not.
        Spec.Given().When(signal).ThenAccepted().When(Reversal(signal.EventId, id: "rv1")).ThenAccepted()
            .When(Reversal(signal.EventId)).ThenRejected(ErrorCodes.AlreadyReversed);
    }

    [Fact]
    public void The_value_in_force_is_the_latest_dated_on_or_before_the_day_and_a_reversed_one_is_gone()
    {
        var first = Signal("usage", "2024-01-01", 10);
        var sameDayLater = Signal("usage", "2024-01-01", 11);
        var second = Signal("usage", "2024-03-01", 5);
        var reversed = Signal("usage", "2024-02-01", 99);
        var folder = new FactFolder([reversed.EventId]);
        long position = 0;
        foreach (var e in new LedgerEvent[] { Started("c1", "2023-12-01", 100), second, first, sameDayLater, reversed, Reversal(reversed.EventId) })
            folder.Add(e, ++position);
        var signals = folder.Signals();
        Assert.Null(signals.ValueOn("acme", "usage", D("2023-12-31")));
        Assert.Equal(11m, signals.ValueOn("acme", "usage", D("2024-01-01")));
        Assert.Equal(11m, signals.ValueOn("acme", "usage", D("2024-02-15")));
        Assert.Equal(5m, signals.ValueOn("acme", "usage", D("2024-03-01")));
        Assert.Null(signals.ValueOn("acme", "other", D("2024-03-01")));
        Assert.Equal(3, signals.Count);
    }

    [Fact]
    public void The_catalogue_has_defaults_a_later_entry_wins_and_as_of_reads_it_as_known_then()
    {
        var catalogue = new ReasonCatalogue([new("cost", "Too expensive", ResponsibleFunctions.Product, 5), new("cost", "Pricing", ResponsibleFunctions.Sales, 9)]);
        Assert.Equal(("Pricing", "sales"), (catalogue["cost"].Label, catalogue["cost"].Function));
        Assert.Equal(("Too expensive", "product"), (catalogue.AsOf(8)["cost"].Label, catalogue.AsOf(8)["cost"].Function));
        Assert.Equal(ResponsibleFunctions.Sales, catalogue.AsOf(4)["cost"].Function); // the default
        Assert.Equal((ResponsibleFunctions.External, ResponsibleFunctions.Unknown), (catalogue["financial-struggle"].Function, catalogue["never-heard-of"].Function));
        Assert.Equal("never-heard-of", catalogue["never-heard-of"].Label);
    }

    [Fact]
    public void A_contraction_is_split_over_the_days_decreases_by_what_each_removed()
    {
        // Two contracts; on one day c1 contracts by 30 (cost), c2 churns its 10 (support) and c1 also expands by 20:
        // net contraction 20, split 30:10 → 15 cost, 5 support; the account counts under cost.
        var history = AccountHistory.Build("acme", [
            Started("c1", "2024-01-01", 100), Started("c2", "2024-01-01", 10),
            ContractedFor("cost", "c1", "2024-02-01", 30), Churned("c2", "2024-02-01", "support"), Expanded("c1", "2024-02-01", 20)]);
        var m = history.Movements.Single(x => x.Day == D("2024-02-01"));
        Assert.Equal((MovementKind.Contraction, 20m, "cost"), (m.Kind, m.Amount, m.ChurnReason));
        Assert.Equal([new ChurnShare("cost", 15m), new ChurnShare("support", 5m)], m.ChurnShares);
        Assert.Equal(m, AccountHistory.FromBytes(history.ToBytes()).Movements.Single(x => x.Day == D("2024-02-01")) with { ChurnShares = m.ChurnShares });
        Assert.Equal(m.ChurnShares, AccountHistory.FromBytes(history.ToBytes()).Movements.Single(x => x.Day == D("2024-02-01")).ChurnShares);
    }
}
