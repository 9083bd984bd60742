using RevenueLedger.Domain;

namespace RevenueLedger.Domain.Tests;

/// <summary>Spec §1: `null` as any field's value is refused (invalid, naming the field), never read as "absent".</summary>
public class NullFieldTests
{
    [Theory]
    [InlineData("""{"type":"ContractStarted","eventId":null,"accountId":"a","contractId":"c","effectiveDate":"2024-01-01","mrr":"10","currency":"USD"}""", "eventId")]
    [InlineData("""{"type":"ContractStarted","accountId":"a","contractId":"c","effectiveDate":"2024-01-01","mrr":"10","currency":"USD","metadata":null}""", "metadata")]
    [InlineData("""{"type":"ContractChurned","accountId":"a","contractId":"c","effectiveDate":"2024-01-01","reason":null}""", "reason")]
    [InlineData("""{"type":"ContractStarted","accountId":"a","contractId":null,"effectiveDate":"2024-01-01","mrr":"10","currency":"USD"}""", "contractId")]
    [InlineData("""{"type":"ContractStarted","accountId":"a","contractId":"c","effectiveDate":"2024-01-01","mrr":null,"currency":"USD"}""", "mrr")]
    [InlineData("""{"type":"SignalRecorded","accountId":"a","signal":"usage","value":null,"effectiveDate":"2024-01-01"}""", "value")]
    public void A_null_value_is_invalid_and_names_its_field(string json, string field)
    {
        var r = WireFormat.Parse(json, () => "generated");
        Assert.Null(r.Event);
        Assert.Equal((Outcome.Invalid, ErrorCodes.InvalidField, field), (r.Error!.Outcome, r.Error.Code, r.Error.Field));
        Assert.Contains("must not be null", r.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_the_optional_fields_the_same_event_is_valid()
    {
        var r = WireFormat.Parse("""{"type":"ContractChurned","accountId":"a","contractId":"c","effectiveDate":"2024-01-01"}""", () => "generated");
        Assert.Equal("generated", Assert.IsType<ContractChurned>(r.Event).EventId);
    }
}
