using System.Globalization;
using System.Text.Json.Nodes;
using CsCheck;
using RevenueLedger.Domain;

namespace RevenueLedger.Domain.Tests;

/// <summary>
/// Generated events and generated mutations of them (CsCheck): every valid event parses and round-trips through its
/// stored and wire forms; every mutation is refused with the outcome, code and field the spec's rules give; nothing
/// throws. A failure shrinks to a small case and prints its seed.
/// </summary>
public class WireFormatProperties
{
    private const int Iterations = 4_000;

    private static readonly Gen<string> Id =
        from first in Gen.Char["abcXYZ019"]
        from rest in Gen.String[Gen.Char["abcdefXYZ0123456789._:@/-"], 0, 30]
        select first + rest;

    private static readonly Gen<string> Day =
        from y in Gen.Int[1900, 2999]
        from m in Gen.Int[1, 12]
        from d in Gen.Int[1, 28]
        select new DateOnly(y, m, d).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static readonly Gen<string> Amount =
        from whole in Gen.Int[1, 999_999_999]
        from places in Gen.Int[0, 4]
        from frac in Gen.Int[0, 9999]
        select places == 0 ? whole.ToString(CultureInfo.InvariantCulture) : $"{whole}.{(frac % (int)Math.Pow(10, places)).ToString(CultureInfo.InvariantCulture).PadLeft(places, '0')}";

    private static readonly Gen<string> Reason = Gen.OneOf("cost", "features", "fit", "support", "change-in-needs", "financial-struggle", "x_1");

    private static readonly Gen<string> Currency = Gen.OneOf("USD", "EUR", "GBP", "JPY");

    /// <summary>A valid event as a JSON object, and the fields its type requires.</summary>
    private static readonly Gen<(JsonObject Json, string[] Required)> Valid = Gen.OneOf(
        from a in Id from c in Id from d in Day from m in Amount from cur in Currency
        select (new JsonObject { ["type"] = "ContractStarted", ["accountId"] = a, ["contractId"] = c, ["effectiveDate"] = d, ["mrr"] = m, ["currency"] = cur },
            new[] { "accountId", "contractId", "effectiveDate", "mrr", "currency" }),
        from a in Id from c in Id from d in Day from m in Amount from cur in Currency from r in Reason from t in Gen.OneOf("ContractExpanded", "ContractContracted")
        select (new JsonObject { ["type"] = t, ["accountId"] = a, ["contractId"] = c, ["effectiveDate"] = d, ["amount"] = m, ["currency"] = cur, ["reason"] = r },
            new[] { "accountId", "contractId", "effectiveDate", "amount", "currency" }),
        from a in Id from c in Id from d in Day from r in Reason
        select (new JsonObject { ["type"] = "ContractChurned", ["accountId"] = a, ["contractId"] = c, ["effectiveDate"] = d, ["reason"] = r },
            new[] { "accountId", "contractId", "effectiveDate" }),
        from a in Id from o in Id from d in Day
        select (new JsonObject { ["type"] = "OwnerAssigned", ["accountId"] = a, ["ownerId"] = o, ["effectiveDate"] = d },
            new[] { "accountId", "ownerId", "effectiveDate" }),
        from a in Id from t in Id
        select (new JsonObject { ["type"] = "EventReversed", ["accountId"] = a, ["targetEventId"] = t },
            new[] { "accountId", "targetEventId" }),
        from a in Id from s in Reason from v in Amount from neg in Gen.Bool from d in Day
        select (new JsonObject { ["type"] = "SignalRecorded", ["accountId"] = a, ["signal"] = s, ["value"] = neg ? "-" + v : v, ["effectiveDate"] = d },
            new[] { "accountId", "signal", "value", "effectiveDate" }));

    private static readonly Gen<(JsonObject Json, string[] Required)> WithOptionals =
        from v in Valid
        from id in Id
        from withId in Gen.Bool
        from key in Gen.String[Gen.Char["abcdef"], 1, 10]
        from value in Gen.String[Gen.Char["abc é✓"], 0, 20]
        from withMeta in Gen.Bool
        select With(v, withId ? id : null, withMeta ? (key, value) : null);

    private static (JsonObject, string[]) With((JsonObject Json, string[] Required) v, string? eventId, (string Key, string Value)? meta)
    {
        var json = (JsonObject)v.Json.DeepClone();
        if (eventId is not null) json["eventId"] = eventId;
        if (meta is { } m) json["metadata"] = new JsonObject { [m.Key] = m.Value };
        return (json, v.Required);
    }

    private static ParseResult Parse(string json) => WireFormat.Parse(json, () => "generated-id");

    [Fact]
    public void Every_valid_event_parses_and_round_trips_through_its_stored_and_wire_forms() =>
        WithOptionals.Sample(v =>
        {
            var r = Parse(v.Json.ToJsonString());
            Assert.True(r.Event is not null, $"{v.Json.ToJsonString()}: {r.Error}");
            var e = r.Event!;
            Assert.Equal(e, WireFormat.ParseStored(e.StoredType, WireFormat.ToCanonicalJson(e)));
            Assert.Equal(e, Parse(WireFormat.ToWireJson(e)).Event);
            // Canonical: serialising the parsed stored form again gives the same bytes.
            Assert.Equal(WireFormat.ToCanonicalJson(e), WireFormat.ToCanonicalJson(WireFormat.ParseStored(e.StoredType, WireFormat.ToCanonicalJson(e))));
        }, iter: Iterations);

    private enum Mutation { DropRequired, NullField, UnknownField, BadMoney, NumberForString, UnknownType, Truncate, NotAnObject, Duplicate }

    [Fact]
    public void Every_mutation_is_refused_with_the_outcome_code_and_field_the_rules_give() =>
        Gen.Select(WithOptionals, Gen.Enum<Mutation>(), Gen.Int[0, 1_000], Gen.OneOf("1e3", "-1", "0", "1.12345", "+5", " 1", "1,5", "1000000001", ""))
        .Sample((valid, mutation, pick, badMoney) =>
        {
            var (json, required) = valid;
            var fields = json.Select(p => p.Key).Where(k => k != "type").ToList();
            string text;
            string? field;
            string code;
            switch (mutation)
            {
                case Mutation.DropRequired:
                    field = required[pick % required.Length];
                    json.Remove(field);
                    (text, code) = (json.ToJsonString(), ErrorCodes.MissingField);
                    break;
                case Mutation.NullField:
                    field = fields[pick % fields.Count];
                    json[field] = null;
                    (text, code) = (json.ToJsonString(), ErrorCodes.InvalidField);
                    break;
                case Mutation.UnknownField:
                    field = "position";
                    json[field] = 7;
                    (text, code) = (json.ToJsonString(), ErrorCodes.UnknownField);
                    break;
                case Mutation.BadMoney:
                    field = json.ContainsKey("mrr") ? "mrr" : json.ContainsKey("amount") ? "amount" : json.ContainsKey("value") ? "value" : null;
                    if (field is null) return; // this type has no money
                    if (field == "value" && badMoney is "-1" or "0") return; // a signal may be 0 or negative
                    json[field] = badMoney;
                    (text, code) = (json.ToJsonString(), ErrorCodes.InvalidField);
                    break;
                case Mutation.NumberForString:
                    field = fields.Where(f => f is not ("mrr" or "amount" or "value" or "metadata")).ElementAt(pick % fields.Count(f => f is not ("mrr" or "amount" or "value" or "metadata")));
                    json[field] = 42;
                    (text, code) = (json.ToJsonString(), ErrorCodes.InvalidField);
                    break;
                case Mutation.UnknownType:
                    (field, code) = ("type", ErrorCodes.UnknownType);
                    json["type"] = "ContractStartedd";
                    text = json.ToJsonString();
                    break;
                case Mutation.Truncate:
                    var full = json.ToJsonString();
                    text = full[..(1 + pick % (full.Length - 1))];
                    (field, code) = (null, ErrorCodes.MalformedJson);
                    break;
                case Mutation.NotAnObject:
                    text = $"[{json.ToJsonString()}]";
                    (field, code) = (null, ErrorCodes.MalformedJson);
                    break;
                default:
                    var dup = fields[pick % fields.Count];
                    var once = json.ToJsonString();
                    text = once[..^1] + "," + System.Text.Json.JsonSerializer.Serialize(dup) + ":" + json[dup]!.ToJsonString() + "}";
                    (field, code) = (dup, ErrorCodes.MalformedJson);
                    break;
            }
            var r = Parse(text);
            Assert.True(r.Event is null, $"{mutation}: accepted {text}");
            Assert.Equal(Outcome.Invalid, r.Error!.Outcome);
            Assert.True(code == r.Error.Code, $"{mutation} of {text}: {r.Error.Code} {r.Error.Field} {r.Error.Message}");
            if (field is not null) Assert.True(field == r.Error.Field, $"{mutation} of {text}: field {r.Error.Field}, expected {field}: {r.Error.Message}");
            Assert.False(string.IsNullOrWhiteSpace(r.Error.Message));
        }, iter: Iterations);

    [Fact]
    public void Arbitrary_bytes_never_throw_they_parse_or_are_refused() =>
        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            var r = WireFormat.Parse(bytes, () => "generated-id");
            Assert.True(r.Event is not null ^ r.Error is not null);
        }, iter: 20_000);
}
