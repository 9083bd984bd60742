using System.Buffers;
using System.Text;
using System.Text.Json;

namespace RevenueLedger.Domain;

/// <summary>The JSON event format of spec §1: strict parsing (field rules → invalid) and canonical serialisation.</summary>
public static class WireFormat
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 8 };

    // Currencies and reasons come from small vocabularies; sharing one string each keeps large books compact.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Vocabulary = new(StringComparer.Ordinal);

    private static string Share(string s) =>
        Vocabulary.TryGetValue(s, out var shared) ? shared : Vocabulary.Count < 10_000 ? Vocabulary.GetOrAdd(s, s) : s;

    private sealed record Shape(string[] Required, string[] Optional);

    private static readonly Dictionary<string, Shape> Shapes = new(StringComparer.Ordinal)
    {
        ["ContractStarted"] = new(["accountId", "contractId", "effectiveDate", "mrr", "currency"], ["eventId", "metadata"]),
        ["ContractExpanded"] = new(["accountId", "contractId", "effectiveDate", "amount", "currency"], ["eventId", "reason", "metadata"]),
        ["ContractContracted"] = new(["accountId", "contractId", "effectiveDate", "amount", "currency"], ["eventId", "reason", "metadata"]),
        ["ContractChurned"] = new(["accountId", "contractId", "effectiveDate"], ["eventId", "reason", "metadata"]),
        ["OwnerAssigned"] = new(["accountId", "ownerId", "effectiveDate"], ["eventId", "metadata"]),
        ["EventReversed"] = new(["accountId", "targetEventId"], ["eventId", "reason", "metadata"]),
    };

    /// <summary>Parses one submission. <paramref name="newEventId"/> names an event the client sent without `eventId`.</summary>
    public static ParseResult Parse(string json, Func<string> newEventId)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException ex)
        {
            return LedgerError.Invalid(ErrorCodes.MalformedJson, null, $"not valid JSON: {ex.Message}");
        }
        using (doc)
        {
            return Parse(doc.RootElement, newEventId);
        }
    }

    public static ParseResult Parse(JsonElement root, Func<string> newEventId)
    {
        if (root.ValueKind != JsonValueKind.Object)
            return LedgerError.Invalid(ErrorCodes.MalformedJson, null, "an event must be a JSON object");
        if (!root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind == JsonValueKind.Null)
            return LedgerError.Invalid(ErrorCodes.MissingField, "type", "`type` is required");
        if (typeElement.ValueKind != JsonValueKind.String)
            return LedgerError.Invalid(ErrorCodes.UnknownType, "type", "`type` must be a string");
        var type = typeElement.GetString()!;
        if (!Shapes.ContainsKey(type))
            return LedgerError.Invalid(ErrorCodes.UnknownType, "type", $"unknown event type '{type}'");
        return ParseBody(type, root, typeAllowed: true, newEventId);
    }

    /// <summary>Reads a stored payload back; its type comes from the stored, versioned type name.</summary>
    public static LedgerEvent ParseStored(string storedType, string payload)
    {
        var wire = EventTypes.WireNameOfStored(storedType) ?? throw new InvalidDataException($"unknown stored event type '{storedType}'");
        using var doc = JsonDocument.Parse(payload, DocumentOptions);
        var result = ParseBody(wire, doc.RootElement, typeAllowed: false, () => throw new InvalidDataException("stored event without eventId"));
        return result.Event ?? throw new InvalidDataException($"stored {storedType} payload is not valid: {result.Error}");
    }

    private static ParseResult ParseBody(string type, JsonElement root, bool typeAllowed, Func<string> newEventId)
    {
        if (root.ValueKind != JsonValueKind.Object)
            return LedgerError.Invalid(ErrorCodes.MalformedJson, null, "an event must be a JSON object");
        var shape = Shapes[type];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (!seen.Add(property.Name))
                return LedgerError.Invalid(ErrorCodes.MalformedJson, property.Name, $"field `{property.Name}` appears twice");
            bool known = (typeAllowed && property.Name == "type") || shape.Required.Contains(property.Name) || shape.Optional.Contains(property.Name);
            if (!known)
                return LedgerError.Invalid(ErrorCodes.UnknownField, property.Name, $"unknown field `{property.Name}` for {type}");
        }
        foreach (var name in shape.Required)
        {
            if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
                return LedgerError.Invalid(ErrorCodes.MissingField, name, $"`{name}` is required for {type}");
        }

        var r = new Reader(root);
        var eventId = r.OptionalId("eventId") ?? (r.Error is null ? newEventId() : null);
        var accountId = r.Id("accountId");
        var metadata = r.Metadata();
        LedgerEvent? e = type switch
        {
            "ContractStarted" => new ContractStarted(eventId!, accountId, r.Id("contractId"), r.Date("effectiveDate"), r.Money("mrr"), r.Currency("currency"), metadata),
            "ContractExpanded" => new ContractExpanded(eventId!, accountId, r.Id("contractId"), r.Date("effectiveDate"), r.Money("amount"), r.Currency("currency"), r.Reason(), metadata),
            "ContractContracted" => new ContractContracted(eventId!, accountId, r.Id("contractId"), r.Date("effectiveDate"), r.Money("amount"), r.Currency("currency"), r.Reason(), metadata),
            "ContractChurned" => new ContractChurned(eventId!, accountId, r.Id("contractId"), r.Date("effectiveDate"), r.Reason(), metadata),
            "OwnerAssigned" => new OwnerAssigned(eventId!, accountId, r.Id("ownerId"), r.Date("effectiveDate"), metadata),
            "EventReversed" => new EventReversed(eventId!, accountId, r.Id("targetEventId"), r.Reason(), metadata),
            _ => null,
        };
        return r.Error is { } error ? error : e!;
    }

    /// <summary>Reads fields, remembering only the first failure so the message names the first bad field.</summary>
    private sealed class Reader(JsonElement root)
    {
        public LedgerError? Error { get; private set; }

        private void Fail(string field, string message) => Error ??= LedgerError.Invalid(ErrorCodes.InvalidField, field, message);

        private string? String(string name)
        {
            if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind != JsonValueKind.String) { Fail(name, $"`{name}` must be a string"); return null; }
            return v.GetString();
        }

        public string Id(string name) => OptionalId(name) ?? "";

        public string? OptionalId(string name)
        {
            var s = String(name);
            if (s is null) return null;
            if (!IsValidId(s)) { Fail(name, $"`{name}` must be 1–100 characters of [A-Za-z0-9._:@/-], starting with a letter or digit"); return null; }
            return s;
        }

        public DateOnly Date(string name)
        {
            var s = String(name);
            if (s is null) return default;
            if (!Dates.TryParse(s, out var d)) { Fail(name, $"`{name}` must be a real calendar date YYYY-MM-DD between 1900-01-01 and 2999-12-31, got '{s}'"); return default; }
            return d;
        }

        public decimal Money(string name)
        {
            if (!root.TryGetProperty(name, out var v)) return 0;
            string text;
            if (v.ValueKind == JsonValueKind.String) text = v.GetString()!;
            else if (v.ValueKind == JsonValueKind.Number) text = v.GetRawText();
            else { Fail(name, $"`{name}` must be a decimal string or number"); return 0; }
            if (!Domain.Money.TryParsePlain(text, out var value))
            {
                Fail(name, $"`{name}` must be a plain decimal with at most 10 integer digits and 4 decimal places (no sign or exponent), got '{text}'");
                return 0;
            }
            if (value <= 0 || value > Domain.Money.Max) { Fail(name, $"`{name}` must be greater than 0 and at most 1000000000, got '{text}'"); return 0; }
            return value;
        }

        public string Currency(string name)
        {
            var s = String(name);
            if (s is null) return "";
            if (s.Length != 3 || !s.All(char.IsAsciiLetterUpper)) { Fail(name, $"`{name}` must be a three-letter upper-case ISO 4217 code, got '{s}'"); return ""; }
            return Share(s);
        }

        public string? Reason()
        {
            var s = String("reason");
            if (s is null) return null;
            if (!IsValidReason(s)) { Fail("reason", $"`reason` must match ^[a-z0-9][a-z0-9_-]{{0,49}}$, got '{s}'"); return null; }
            return Share(s);
        }

        public Metadata Metadata()
        {
            if (!root.TryGetProperty("metadata", out var v) || v.ValueKind == JsonValueKind.Null) return Domain.Metadata.Empty;
            if (v.ValueKind != JsonValueKind.Object) { Fail("metadata", "`metadata` must be an object of string values"); return Domain.Metadata.Empty; }
            var pairs = new List<KeyValuePair<string, string>>();
            var keys = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in v.EnumerateObject())
            {
                if (pairs.Count == 32) { Fail("metadata", "`metadata` holds at most 32 pairs"); break; }
                if (p.Name.Length is 0 or > 64) { Fail("metadata", "`metadata` keys must be 1–64 characters"); break; }
                if (!keys.Add(p.Name)) { Fail("metadata", $"`metadata` key '{p.Name}' appears twice"); break; }
                if (p.Value.ValueKind != JsonValueKind.String) { Fail("metadata", $"`metadata.{p.Name}` must be a string"); break; }
                var value = p.Value.GetString()!;
                if (value.Length > 1024) { Fail("metadata", $"`metadata.{p.Name}` is longer than 1024 characters"); break; }
                pairs.Add(new(p.Name, value));
            }
            return pairs.Count == 0 ? Domain.Metadata.Empty : Domain.Metadata.From(pairs);
        }
    }

    public static bool IsValidId(string s)
    {
        if (s.Length is < 1 or > 100 || !char.IsAsciiLetterOrDigit(s[0])) return false;
        foreach (var c in s)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '@' or '/' or '-')) return false;
        return true;
    }

    public static bool IsValidReason(string s)
    {
        if (s.Length is < 1 or > 50 || !(char.IsAsciiLetterLower(s[0]) || char.IsAsciiDigit(s[0]))) return false;
        foreach (var c in s)
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-')) return false;
        return true;
    }

    /// <summary>The stored payload: fixed field order, normalised money, no `type` (the stored type name carries it).</summary>
    public static string ToCanonicalJson(LedgerEvent e) => Write(e, includeType: false);

    /// <summary>The event as a client would send it (with `type`), e.g. for `ledger generate` and the audit log.</summary>
    public static string ToWireJson(LedgerEvent e) => Write(e, includeType: true);

    private static string Write(LedgerEvent e, bool includeType)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (includeType) w.WriteString("type", e.WireType);
            w.WriteString("eventId", e.EventId);
            w.WriteString("accountId", e.AccountId);
            switch (e)
            {
                case ContractStarted s:
                    WriteContract(w, s); w.WriteString("mrr", Domain.Money.Format(s.Mrr)); w.WriteString("currency", s.Currency);
                    break;
                case ContractExpanded x:
                    WriteContract(w, x); w.WriteString("amount", Domain.Money.Format(x.Amount)); w.WriteString("currency", x.Currency); WriteReason(w, x.Reason);
                    break;
                case ContractContracted c:
                    WriteContract(w, c); w.WriteString("amount", Domain.Money.Format(c.Amount)); w.WriteString("currency", c.Currency); WriteReason(w, c.Reason);
                    break;
                case ContractChurned ch:
                    WriteContract(w, ch); WriteReason(w, ch.Reason);
                    break;
                case OwnerAssigned o:
                    w.WriteString("ownerId", o.OwnerId); w.WriteString("effectiveDate", Dates.Format(o.EffectiveDate));
                    break;
                case EventReversed r:
                    w.WriteString("targetEventId", r.TargetEventId); WriteReason(w, r.Reason);
                    break;
            }
            if (e.Metadata.Count > 0)
            {
                w.WriteStartObject("metadata");
                foreach (var (k, v) in e.Metadata.Pairs) w.WriteString(k, v);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteContract(Utf8JsonWriter w, ContractEvent e)
    {
        w.WriteString("contractId", e.ContractId);
        w.WriteString("effectiveDate", Dates.Format(e.EffectiveDate));
    }

    private static void WriteReason(Utf8JsonWriter w, string? reason)
    {
        if (reason is not null) w.WriteString("reason", reason);
    }
}

/// <summary>Either a parsed event or the reason it is invalid.</summary>
public readonly record struct ParseResult(LedgerEvent? Event, LedgerError? Error)
{
    public static implicit operator ParseResult(LedgerEvent e) => new(e, null);

    public static implicit operator ParseResult(LedgerError e) => new(null, e);
}
