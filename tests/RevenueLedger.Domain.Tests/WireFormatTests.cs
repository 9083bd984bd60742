using System.Text.Json.Nodes;
using RevenueLedger.Domain;

namespace RevenueLedger.Domain.Tests;

/// <summary>Spec §1 field rules: every violation is invalid and names the field.</summary>
public class WireFormatTests
{
    private const string Expansion = """{"eventId":"e1","type":"ContractExpanded","accountId":"acme","contractId":"acme-1","effectiveDate":"2024-03-20","amount":"12","currency":"USD"}""";

    private static ParseResult Parse(string json) => WireFormat.Parse(json, () => "generated-id");

    /// <summary>The valid expansion with one field set to raw JSON (numbers keep their exact text).</summary>
    private static string With(string field, string jsonValue)
    {
        var node = JsonNode.Parse(Expansion)!.AsObject();
        node[field] = JsonNode.Parse(jsonValue);
        return node.ToJsonString();
    }

    private static void AssertInvalid(string json, string code, string? field)
    {
        var r = Parse(json);
        Assert.Null(r.Event);
        Assert.NotNull(r.Error);
        Assert.Equal(Outcome.Invalid, r.Error!.Outcome);
        Assert.Equal(code, r.Error.Code);
        Assert.Equal(field, r.Error.Field);
    }

    [Fact]
    public void A_valid_expansion_parses()
    {
        var e = Assert.IsType<ContractExpanded>(Parse(Expansion).Event);
        Assert.Equal(("e1", "acme", "acme-1", 12m, "USD"), (e.EventId, e.AccountId, e.ContractId, e.Amount, e.Currency));
        Assert.Equal(new DateOnly(2024, 3, 20), e.EffectiveDate);
    }

    [Theory]
    [InlineData("\"-5\"")]
    [InlineData("\"12.34567\"")]
    [InlineData("\"0\"")]
    [InlineData("\"0.0000\"")]
    [InlineData("\"1000000000.0001\"")]
    [InlineData("\"12345678901\"")]
    [InlineData("\"1e3\"")]
    [InlineData("1e3")]
    [InlineData("-5")]
    [InlineData("\" 12\"")]
    [InlineData("\"12.\"")]
    [InlineData("\".5\"")]
    [InlineData("true")]
    public void Bad_amounts_are_invalid(string amount) => AssertInvalid(With("amount", amount), ErrorCodes.InvalidField, "amount");

    [Theory]
    [InlineData("\"12\"", 12)]
    [InlineData("12.5", 12.5)]
    [InlineData("\"1000000000\"", 1000000000)]
    [InlineData("\"0.0001\"", 0.0001)]
    public void Amounts_may_be_strings_or_numbers(string amount, double expected) =>
        Assert.Equal((decimal)expected, Assert.IsType<ContractExpanded>(Parse(With("amount", amount)).Event).Amount);

    [Theory]
    [InlineData("\"2024-02-30\"")]
    [InlineData("\"2023-02-29\"")]
    [InlineData("\"1899-12-31\"")]
    [InlineData("\"3000-01-01\"")]
    [InlineData("\"2024-3-20\"")]
    [InlineData("\"20240320\"")]
    [InlineData("\"2024-03-20T00:00:00\"")]
    [InlineData("20240320")]
    public void Bad_dates_are_invalid(string date) => AssertInvalid(With("effectiveDate", date), ErrorCodes.InvalidField, "effectiveDate");

    [Fact]
    public void Leap_days_are_real_dates() => Assert.NotNull(Parse(With("effectiveDate", "\"2024-02-29\"")).Event);

    [Theory]
    [InlineData("\"usd\"")]
    [InlineData("\"US\"")]
    [InlineData("\"USDX\"")]
    [InlineData("840")]
    public void Bad_currencies_are_invalid(string currency) => AssertInvalid(With("currency", currency), ErrorCodes.InvalidField, "currency");

    [Theory]
    [InlineData("accountId", "\"\"")]
    [InlineData("accountId", "\"-acme\"")]
    [InlineData("accountId", "\"ac me\"")]
    [InlineData("contractId", "\"acme#1\"")]
    [InlineData("eventId", "\"ä1\"")]
    [InlineData("eventId", "7")]
    public void Bad_ids_are_invalid(string field, string value) => AssertInvalid(With(field, value), ErrorCodes.InvalidField, field);

    [Fact]
    public void Ids_may_be_100_characters_but_not_101()
    {
        Assert.NotNull(Parse(With("accountId", $"\"{new string('a', 100)}\"")).Event);
        AssertInvalid(With("accountId", $"\"{new string('a', 101)}\""), ErrorCodes.InvalidField, "accountId");
    }

    [Theory]
    [InlineData("\"Features\"")]
    [InlineData("\"-cost\"")]
    [InlineData("\"a b\"")]
    public void Bad_reasons_are_invalid(string reason) => AssertInvalid(With("reason", reason), ErrorCodes.InvalidField, "reason");

    [Fact]
    public void Metadata_is_limited_to_32_string_pairs()
    {
        string Pairs(int n) => "{" + string.Join(',', Enumerable.Range(0, n).Select(i => $"\"k{i}\":\"v\"")) + "}";
        Assert.Equal(32, Parse(With("metadata", Pairs(32))).Event!.Metadata.Count);
        AssertInvalid(With("metadata", Pairs(33)), ErrorCodes.InvalidField, "metadata");
        AssertInvalid(With("metadata", "{\"k\":1}"), ErrorCodes.InvalidField, "metadata");
        AssertInvalid(With("metadata", $"{{\"{new string('k', 65)}\":\"v\"}}"), ErrorCodes.InvalidField, "metadata");
        AssertInvalid(With("metadata", $"{{\"k\":\"{new string('v', 1025)}\"}}"), ErrorCodes.InvalidField, "metadata");
        AssertInvalid(With("metadata", "[]"), ErrorCodes.InvalidField, "metadata");
    }

    [Theory]
    [InlineData("amout")]
    [InlineData("position")]
    [InlineData("recordedAt")]
    [InlineData("mrr")]
    public void Unknown_fields_are_invalid(string field) => AssertInvalid(With(field, "\"3\""), ErrorCodes.UnknownField, field);

    [Fact]
    public void Missing_required_fields_are_invalid() =>
        AssertInvalid("""{"type":"ContractChurned","accountId":"acme","effectiveDate":"2024-01-01"}""", ErrorCodes.MissingField, "contractId");

    [Theory]
    [InlineData("""{"type":"ContractRenewed","accountId":"acme"}""")]
    [InlineData("""{"type":7,"accountId":"acme"}""")]
    public void Unknown_types_are_invalid(string json) => AssertInvalid(json, ErrorCodes.UnknownType, "type");

    [Theory]
    [InlineData("{")]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("\"event\"")]
    [InlineData("""{"type":"ContractChurned","accountId":"a","accountId":"b","contractId":"c","effectiveDate":"2024-01-01"}""")]
    public void Malformed_json_is_invalid(string json) => Assert.Equal(ErrorCodes.MalformedJson, Parse(json).Error?.Code);

    [Fact]
    public void A_lone_surrogate_escape_is_invalid_not_a_crash() =>
        Assert.Equal(ErrorCodes.MalformedJson, Parse(Expansion.Replace("\"acme\"", "\"a\\ud800\"", StringComparison.Ordinal)).Error?.Code);

    [Fact]
    public void A_missing_event_id_is_assigned() => Assert.Equal("generated-id", Parse(Expansion.Replace("\"eventId\":\"e1\",", "", StringComparison.Ordinal)).Event!.EventId);

    [Fact]
    public void Canonical_json_normalises_money_and_round_trips()
    {
        var e = Parse("""{"type":"ContractStarted","accountId":"acme","contractId":"c1","effectiveDate":"2023-11-10","mrr":"1000.00","currency":"USD","eventId":"e2","metadata":{"z":"1","a":"2"}}""").Event!;
        var canonical = WireFormat.ToCanonicalJson(e);
        Assert.Equal("""{"eventId":"e2","accountId":"acme","contractId":"c1","effectiveDate":"2023-11-10","mrr":"1000","currency":"USD","metadata":{"a":"2","z":"1"}}""", canonical);
        Assert.Equal(e, WireFormat.ParseStored(e.StoredType, canonical));
        Assert.Equal(e, Parse(WireFormat.ToWireJson(e)).Event);
    }

    [Fact]
    public void Stored_type_names_are_versioned() =>
        Assert.Equal(["V1.ContractChurned", "V1.ContractContracted", "V1.ContractExpanded", "V1.ContractStarted", "V1.EventReversed", "V1.OwnerAssigned"],
            new LedgerEvent[] { Ev.Churned("c", "2024-01-01"), Ev.Contracted("c", "2024-01-01", 1), Ev.Expanded("c", "2024-01-01", 1), Ev.Started("c", "2024-01-01", 1), Ev.Reversal("x"), Ev.Owner("o", "2024-01-01") }
                .Select(e => e.StoredType).ToArray());
}
