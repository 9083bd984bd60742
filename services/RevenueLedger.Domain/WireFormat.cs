using System.Buffers;
using System.Text;
using System.Text.Json;

namespace RevenueLedger.Domain;

/// <summary>The JSON event format of spec §1: strict parsing (field rules → invalid) and canonical serialisation.</summary>
public static class WireFormat
{

    private enum F { Type, EventId, AccountId, ContractId, OwnerId, TargetEventId, EffectiveDate, Mrr, Amount, Currency, QuoteCurrency, Rate, Reason, Metadata, Signal, Value, Label, Function, Count }

    private static readonly string[] FieldNames =
        ["type", "eventId", "accountId", "contractId", "ownerId", "targetEventId", "effectiveDate", "mrr", "amount", "currency", "quoteCurrency", "rate", "reason", "metadata", "signal", "value", "label", "function"];

    private static readonly byte[][] FieldNamesUtf8 = FieldNames.Select(Encoding.UTF8.GetBytes).ToArray();

    private sealed record Shape(F[] Required, F[] Optional);

    private static readonly Dictionary<string, Shape> Shapes = new(StringComparer.Ordinal)
    {
        ["ContractStarted"] = new([F.AccountId, F.ContractId, F.EffectiveDate, F.Mrr, F.Currency], [F.EventId, F.Metadata]),
        ["ContractExpanded"] = new([F.AccountId, F.ContractId, F.EffectiveDate, F.Amount, F.Currency], [F.EventId, F.Reason, F.Metadata]),
        ["ContractContracted"] = new([F.AccountId, F.ContractId, F.EffectiveDate, F.Amount, F.Currency], [F.EventId, F.Reason, F.Metadata]),
        ["ContractChurned"] = new([F.AccountId, F.ContractId, F.EffectiveDate], [F.EventId, F.Reason, F.Metadata]),
        ["OwnerAssigned"] = new([F.AccountId, F.OwnerId, F.EffectiveDate], [F.EventId, F.Metadata]),
        ["EventReversed"] = new([F.AccountId, F.TargetEventId], [F.EventId, F.Reason, F.Metadata]),
        ["FxRateRecorded"] = new([F.Currency, F.QuoteCurrency, F.EffectiveDate, F.Rate], [F.EventId, F.Metadata]),
        ["SignalRecorded"] = new([F.AccountId, F.Signal, F.Value, F.EffectiveDate], [F.EventId, F.Metadata]),
        ["ReasonCatalogued"] = new([F.Reason, F.Label, F.Function], [F.EventId, F.Metadata]),
    };

    private static readonly (string Name, byte[] Utf8)[] TypeNames = Shapes.Keys.Select(k => (k, Encoding.UTF8.GetBytes(k))).ToArray();

    /// <summary>The shared name string when the value is a known type (no string per event), else null.</summary>
    private static string? KnownTypeName(ref Utf8JsonReader reader)
    {
        foreach (var (name, utf8) in TypeNames)
            if (reader.ValueTextEquals(utf8)) return name;
        return null;
    }

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 8 };

    /// <summary>Parses one submission. <paramref name="newEventId"/> names an event the client sent without `eventId`.</summary>
    public static ParseResult Parse(string json, Func<string> newEventId)
    {
        int max = Encoding.UTF8.GetMaxByteCount(json.Length);
        byte[]? rented = null;
        Span<byte> buffer = max <= 2048 ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            int n = Encoding.UTF8.GetBytes(json, buffer);
            return ParseUtf8(buffer[..n], null, newEventId);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>One submission as UTF-8 JSON (e.g. a line of a JSONL file read as bytes).</summary>
    public static ParseResult Parse(ReadOnlySpan<byte> utf8Json, Func<string> newEventId) => ParseUtf8(utf8Json, null, newEventId);

    /// <summary>One event of a larger document (e.g. an item of a batch request).</summary>
    public static ParseResult Parse(JsonElement element, Func<string> newEventId) =>
        ParseUtf8(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element), null, newEventId); // its bytes in the document, uncopied

    /// <summary>Reads a stored payload back; its type comes from the stored, versioned type name.</summary>
    public static LedgerEvent ParseStored(string storedType, string payload) => ParseStored(storedType, Encoding.UTF8.GetBytes(payload));

    public static LedgerEvent ParseStored(string storedType, ReadOnlySpan<byte> payload)
    {
        var wire = EventTypes.WireNameOfStored(storedType) ?? throw new InvalidDataException($"unknown stored event type '{storedType}'");
        var result = ParseUtf8(payload, wire, () => throw new InvalidDataException("stored event without eventId"));
        return result.Event ?? throw new InvalidDataException($"stored {storedType} payload is not valid: {result.Error}");
    }

    /// <summary>What one pass over the JSON object found: each known field's raw value, in a fixed slot.</summary>
    private struct Fields
    {
        public int Present;          // bit per F: the field appeared (even as null)
        public string? FirstUnknown; // first property name that is no field at all
        public TypeErrors Errors;
        public Values Values;
    }

    [System.Runtime.CompilerServices.InlineArray((int)F.Count)]
    private struct Values { private string? _element; }

    [System.Runtime.CompilerServices.InlineArray((int)F.Count)]
    private struct TypeErrors { private string? _element; }

    private static ParseResult ParseUtf8(ReadOnlySpan<byte> json, string? storedWireType, Func<string> newEventId)
    {
        var f = new Fields();
        List<KeyValuePair<string, string>>? metadata = null;
        string? metadataError = null;
        int order = 0;
        Span<F> documentOrder = stackalloc F[(int)F.Count];
        try
        {
            var reader = new Utf8JsonReader(json, isFinalBlock: true, new JsonReaderState(ReaderOptions));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return LedgerError.Invalid(ErrorCodes.MalformedJson, null, "an event must be a JSON object");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                int field = -1;
                for (int i = 0; i < FieldNamesUtf8.Length; i++)
                    if (reader.ValueTextEquals(FieldNamesUtf8[i])) { field = i; break; }
                if (field < 0)
                {
                    f.FirstUnknown ??= reader.GetString();
                    reader.Read();
                    reader.Skip();
                    continue;
                }
                if ((f.Present & (1 << field)) != 0)
                    return LedgerError.Invalid(ErrorCodes.MalformedJson, FieldNames[field], $"field `{FieldNames[field]}` appears twice");
                f.Present |= 1 << field;
                documentOrder[order++] = (F)field;
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    // Spec §1: null is no value. An optional field is left out, not sent as null.
                    f.Errors[field] = $"`{FieldNames[field]}` must not be null (leave an optional field out)";
                    continue;
                }
                switch ((F)field)
                {
                    case F.Metadata:
                        if (reader.TokenType == JsonTokenType.StartObject) (metadata, metadataError) = ReadMetadata(ref reader);
                        else { f.Errors[field] = "`metadata` must be an object of string values"; reader.Skip(); }
                        break;
                    case F.Mrr or F.Amount or F.Rate or F.Value when reader.TokenType == JsonTokenType.Number:
                        f.Values[field] = Encoding.UTF8.GetString(reader.ValueSpan);
                        break;
                    case F.Type when reader.TokenType == JsonTokenType.String:
                        f.Values[field] = KnownTypeName(ref reader) ?? reader.GetString();
                        break;
                    default:
                        if (reader.TokenType == JsonTokenType.String) f.Values[field] = reader.GetString();
                        else
                        {
                            f.Errors[field] = (F)field is F.Mrr or F.Amount or F.Rate or F.Value ? $"`{FieldNames[field]}` must be a decimal string or number" : $"`{FieldNames[field]}` must be a string";
                            reader.Skip();
                        }
                        break;
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
                return LedgerError.Invalid(ErrorCodes.MalformedJson, null, "not valid JSON: unexpected content after the event object");
        }
        catch (JsonException ex)
        {
            return LedgerError.Invalid(ErrorCodes.MalformedJson, null, $"not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException ex)
        {
            // Valid JSON syntax that is no valid text, e.g. a lone UTF-16 surrogate escape ("\ud800").
            return LedgerError.Invalid(ErrorCodes.MalformedJson, null, $"not valid JSON text: {ex.Message}");
        }

        string type;
        if (storedWireType is not null)
        {
            type = storedWireType;
            if ((f.Present & (1 << (int)F.Type)) != 0) return LedgerError.Invalid(ErrorCodes.UnknownField, "type", "a stored payload has no `type`");
        }
        else
        {
            if (f.Values[(int)F.Type] is not { } t)
                return f.Errors[(int)F.Type] is not null
                    ? LedgerError.Invalid(ErrorCodes.UnknownType, "type", "`type` must be a string")
                    : LedgerError.Invalid(ErrorCodes.MissingField, "type", "`type` is required");
            if (!Shapes.ContainsKey(t)) return LedgerError.Invalid(ErrorCodes.UnknownType, "type", $"unknown event type '{t}'");
            type = t;
        }
        var shape = Shapes[type];
        if (f.FirstUnknown is { } unknown)
            return LedgerError.Invalid(ErrorCodes.UnknownField, unknown, $"unknown field `{unknown}` for {type}");
        for (int i = 0; i < order; i++)
        {
            var field = documentOrder[i];
            if (field != F.Type && !shape.Required.Contains(field) && !shape.Optional.Contains(field))
                return LedgerError.Invalid(ErrorCodes.UnknownField, FieldNames[(int)field], $"unknown field `{FieldNames[(int)field]}` for {type}");
        }
        foreach (var field in shape.Required)
            if (f.Values[(int)field] is null && f.Errors[(int)field] is null)
                return LedgerError.Invalid(ErrorCodes.MissingField, FieldNames[(int)field], $"`{FieldNames[(int)field]}` is required for {type}");

        // Field rules, in a fixed order so the message names the first bad field.
        LedgerError? error = null;
        string Id(F field)
        {
            var name = FieldNames[(int)field];
            if (f.Errors[(int)field] is { } typeError) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, name, typeError); return ""; }
            var v = f.Values[(int)field];
            if (v is null) return "";
            if (!IsValidId(v)) error ??= LedgerError.Invalid(ErrorCodes.InvalidField, name, $"`{name}` must be 1–100 characters of [A-Za-z0-9._:@/-], starting with a letter or digit");
            return v;
        }
        DateOnly Date()
        {
            if (f.Errors[(int)F.EffectiveDate] is { } typeError) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "effectiveDate", typeError); return default; }
            var v = f.Values[(int)F.EffectiveDate]!;
            if (!Dates.TryParse(v, out var d)) error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "effectiveDate", $"`effectiveDate` must be a real calendar date YYYY-MM-DD between 1900-01-01 and 2999-12-31, got '{v}'");
            return d;
        }
        decimal Amount(F field)
        {
            var name = FieldNames[(int)field];
            if (f.Errors[(int)field] is { } typeError) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, name, typeError); return 0; }
            var v = f.Values[(int)field]!;
            if (!Money.TryParsePlain(v, out var value))
                error ??= LedgerError.Invalid(ErrorCodes.InvalidField, name, $"`{name}` must be a plain decimal with at most 10 integer digits and 4 decimal places (no sign or exponent), got '{v}'");
            else if (value <= 0 || value > Money.Max)
                error ??= LedgerError.Invalid(ErrorCodes.InvalidField, name, $"`{name}` must be greater than 0 and at most 1000000000, got '{v}'");
            return value;
        }
        string Currency(F field = F.Currency)
        {
            var name = FieldNames[(int)field];
            if (f.Errors[(int)field] is { } typeError) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, name, typeError); return ""; }
            var v = f.Values[(int)field]!;
            if (!CurrencyCode.IsValid(v)) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, name, $"`{name}` must be a three-letter upper-case ISO 4217 code, got '{v}'"); return ""; }
            return Vocabulary.Share(v);
        }
        decimal Rate()
        {
            if (f.Errors[(int)F.Rate] is { } typeError) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "rate", typeError); return 0; }
            var v = f.Values[(int)F.Rate]!;
            if (!Rates.TryParse(v, out var value, out var problem)) error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "rate", $"`rate` must be {problem}, got '{v}'");
            return value;
        }
        string? Reason()
        {
            if (f.Errors[(int)F.Reason] is { } typeError) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "reason", typeError); return null; }
            var v = f.Values[(int)F.Reason];
            if (v is null) return null;
            if (!IsValidReason(v)) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "reason", $"`reason` must match ^[a-z0-9][a-z0-9_-]{{0,49}}$, got '{v}'"); return null; }
            return Vocabulary.Share(v);
        }

        string Code(F field)
        {
            var name = FieldNames[(int)field];
            if (f.Errors[(int)field] is { } typeError) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, name, typeError); return ""; }
            var v = f.Values[(int)field]!;
            if (!IsValidReason(v)) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, name, $"`{name}` must match ^[a-z0-9][a-z0-9_-]{{0,49}}$, got '{v}'"); return ""; }
            return Vocabulary.Share(v);
        }
        decimal SignalValue()
        {
            if (f.Errors[(int)F.Value] is { } typeError) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "value", typeError); return 0; }
            var v = f.Values[(int)F.Value]!;
            bool negative = v.StartsWith('-');
            if (!Money.TryParsePlain(negative ? v[1..] : v, out var value) || value > Money.Max)
            {
                error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "value", $"`value` must be a plain decimal with at most 10 integer digits and 4 decimal places, an optional leading '-', at most 1000000000 either way, got '{v}'");
                return 0;
            }
            return negative ? -value : value;
        }
        string Label()
        {
            if (f.Errors[(int)F.Label] is { } typeError) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "label", typeError); return ""; }
            var v = f.Values[(int)F.Label]!;
            if (v.Length is < 1 or > 100 || v.Any(char.IsControl) || v.Trim().Length != v.Length)
                error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "label", "`label` must be 1–100 characters, no control characters, no leading or trailing space");
            return v;
        }
        string Function()
        {
            if (f.Errors[(int)F.Function] is { } typeError) { error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "function", typeError); return ""; }
            var v = f.Values[(int)F.Function]!;
            if (!Insights.ResponsibleFunctions.IsValid(v))
                error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "function", $"`function` must be one of {string.Join(", ", Insights.ResponsibleFunctions.All)}, got '{v}'");
            return Vocabulary.Share(v);
        }

        var eventId = f.Values[(int)F.EventId] is null && f.Errors[(int)F.EventId] is null ? null : Id(F.EventId);
        var accountId = type switch { "FxRateRecorded" => FxRateRecorded.Stream, "ReasonCatalogued" => ReasonCatalogued.Stream, _ => Id(F.AccountId) };
        if (f.Errors[(int)F.Metadata] is { } metaType) error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "metadata", metaType);
        if (metadataError is not null) error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "metadata", metadataError);
        var meta = metadata is { Count: > 0 } ? Metadata.From(metadata) : Metadata.Empty;
        // Every field first, in the order above, so that an id is drawn only for a valid event and the event is built
        // once (a copy `with` the drawn id was a second event per submission).
        string contractId = "", ownerId = "", targetEventId = "", currency = "", quoteCurrency = "", signal = "", label = "", function = "";
        string? reason = null;
        DateOnly date = default;
        decimal amount = 0;
        switch (type)
        {
            case "ContractStarted":
                (contractId, date, amount, currency) = (Id(F.ContractId), Date(), Amount(F.Mrr), Currency());
                break;
            case "ContractExpanded" or "ContractContracted":
                (contractId, date, amount, currency, reason) = (Id(F.ContractId), Date(), Amount(F.Amount), Currency(), Reason());
                break;
            case "ContractChurned":
                (contractId, date, reason) = (Id(F.ContractId), Date(), Reason());
                break;
            case "OwnerAssigned":
                (ownerId, date) = (Id(F.OwnerId), Date());
                break;
            case "EventReversed":
                (targetEventId, reason) = (Id(F.TargetEventId), Reason());
                break;
            case "FxRateRecorded":
                (currency, quoteCurrency, date, amount) = (Currency(), Currency(F.QuoteCurrency), Date(), Rate());
                if (currency.Length > 0 && currency == quoteCurrency)
                    error ??= LedgerError.Invalid(ErrorCodes.InvalidField, "quoteCurrency", $"`currency` and `quoteCurrency` must differ (both '{currency}'): a currency's rate into itself is 1");
                break;
            case "SignalRecorded":
                (signal, amount, date) = (Code(F.Signal), SignalValue(), Date());
                break;
            case "ReasonCatalogued":
                (reason, label, function) = (Code(F.Reason), Label(), Function());
                break;
        }
        if (error is not null) return error;
        var id = eventId ?? newEventId();
        return type switch
        {
            "ContractStarted" => new ContractStarted(id, accountId, contractId, date, amount, currency, meta),
            "ContractExpanded" => new ContractExpanded(id, accountId, contractId, date, amount, currency, reason, meta),
            "ContractContracted" => new ContractContracted(id, accountId, contractId, date, amount, currency, reason, meta),
            "ContractChurned" => new ContractChurned(id, accountId, contractId, date, reason, meta),
            "OwnerAssigned" => new OwnerAssigned(id, accountId, ownerId, date, meta),
            "EventReversed" => new EventReversed(id, accountId, targetEventId, reason, meta),
            "FxRateRecorded" => new FxRateRecorded(id, currency, quoteCurrency, date, amount, meta),
            "SignalRecorded" => new SignalRecorded(id, accountId, signal, amount, date, meta),
            "ReasonCatalogued" => new ReasonCatalogued(id, reason!, label, function, meta),
            _ => throw new InvalidOperationException($"no constructor for event type '{type}'"),
        };
    }

    private static (List<KeyValuePair<string, string>> Pairs, string? Error) ReadMetadata(ref Utf8JsonReader reader)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        string? error = null;
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            if (error is not null) { reader.Skip(); continue; }
            if (pairs.Count == 32) error = "`metadata` holds at most 32 pairs";
            else if (key.Length is 0 or > 64) error = "`metadata` keys must be 1–64 characters";
            else if (!keys.Add(key)) error = $"`metadata` key '{key}' appears twice";
            else if (reader.TokenType != JsonTokenType.String) error = $"`metadata.{key}` must be a string";
            else if (reader.GetString() is { Length: > 1024 }) error = $"`metadata.{key}` is longer than 1024 characters";
            else pairs.Add(new(key, reader.GetString()!));
            if (error is not null) reader.Skip();
        }
        return (pairs, error);
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
    public static string ToCanonicalJson(LedgerEvent e) => Encoding.UTF8.GetString(Write(e, includeType: false));

    /// <summary>The stored payload as the UTF-8 bytes that are stored and hashed (what the append path needs).</summary>
    public static byte[] ToCanonicalJsonUtf8(LedgerEvent e) => Write(e, includeType: false).ToArray();

    /// <summary>The event as a client would send it (with `type`), e.g. for `ledger generate` and the audit log.</summary>
    public static string ToWireJson(LedgerEvent e) => Encoding.UTF8.GetString(Write(e, includeType: true));

    // One writer and buffer per thread: serialising is on every write path, and a new writer per event costs more
    // than the writing. Reset gives byte-for-byte the output of a new writer with default options.
    [ThreadStatic] private static ArrayBufferWriter<byte>? _buffer;
    [ThreadStatic] private static Utf8JsonWriter? _writer;

    /// <summary>The event's JSON in this thread's buffer: valid until the next call on the thread.</summary>
    private static ReadOnlySpan<byte> Write(LedgerEvent e, bool includeType)
    {
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        var w = _writer ??= new Utf8JsonWriter(buffer);
        w.Reset(buffer);
        {
            w.WriteStartObject();
            if (includeType) w.WriteString("type", e.WireType);
            w.WriteString("eventId", e.EventId);
            if (e is not (FxRateRecorded or ReasonCatalogued)) w.WriteString("accountId", e.AccountId);
            switch (e)
            {
                case ContractStarted s:
                    WriteContract(w, s); WriteMoney(w, "mrr", s.Mrr); w.WriteString("currency", s.Currency);
                    break;
                case ContractExpanded x:
                    WriteContract(w, x); WriteMoney(w, "amount", x.Amount); w.WriteString("currency", x.Currency); WriteReason(w, x.Reason);
                    break;
                case ContractContracted c:
                    WriteContract(w, c); WriteMoney(w, "amount", c.Amount); w.WriteString("currency", c.Currency); WriteReason(w, c.Reason);
                    break;
                case ContractChurned ch:
                    WriteContract(w, ch); WriteReason(w, ch.Reason);
                    break;
                case OwnerAssigned o:
                    w.WriteString("ownerId", o.OwnerId); WriteDate(w, o.EffectiveDate);
                    break;
                case EventReversed r:
                    w.WriteString("targetEventId", r.TargetEventId); WriteReason(w, r.Reason);
                    break;
                case FxRateRecorded fx:
                    w.WriteString("currency", fx.Currency); w.WriteString("quoteCurrency", fx.QuoteCurrency); WriteDate(w, fx.EffectiveDate); WriteMoney(w, "rate", fx.Rate);
                    break;
                case SignalRecorded sg:
                    w.WriteString("signal", sg.Signal); WriteSigned(w, "value", sg.Value); WriteDate(w, sg.EffectiveDate);
                    break;
                case ReasonCatalogued rc:
                    w.WriteString("reason", rc.Reason); w.WriteString("label", rc.Label); w.WriteString("function", rc.Function);
                    break;
            }
            if (e.Metadata.Count > 0)
            {
                w.WriteStartObject("metadata");
                foreach (var (k, v) in e.Metadata.Pairs) w.WriteString(k, v);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.Flush();
        }
        return buffer.WrittenSpan;
    }

    private static void WriteContract(Utf8JsonWriter w, ContractEvent e)
    {
        w.WriteString("contractId", e.ContractId);
        WriteDate(w, e.EffectiveDate);
    }

    /// <summary>The text of <see cref="Money.Format"/>, written without a string.</summary>
    private static void WriteMoney(Utf8JsonWriter w, string name, decimal value)
    {
        Span<char> text = stackalloc char[Domain.Money.MaxChars];
        Domain.Money.TryFormat(value, text, out int n);
        w.WriteString(name, text[..n]);
    }

    private static void WriteSigned(Utf8JsonWriter w, string name, decimal value)
    {
        Span<char> text = stackalloc char[Domain.Money.MaxChars + 1];
        int n = 0;
        if (value < 0) text[n++] = '-';
        Domain.Money.TryFormat(Math.Abs(value), text[n..], out int written);
        w.WriteString(name, text[..(n + written)]);
    }

    /// <summary>The text of <see cref="Dates.Format"/>, written without a string.</summary>
    private static void WriteDate(Utf8JsonWriter w, DateOnly date)
    {
        Span<char> text = stackalloc char[10];
        date.TryFormat(text, out int n, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        w.WriteString("effectiveDate", text[..n]);
    }

    private static void WriteReason(Utf8JsonWriter w, string? reason)
    {
        if (reason is not null) w.WriteString("reason", reason);
    }
}

/// <summary>Either a parsed event or the reason it is invalid.</summary>
public readonly record struct ParseResult(LedgerEvent? Event, LedgerError? Error)
{
    /// <summary>Opaque to the domain: the submitter's trace context (W3C traceparent), stored beside the event.</summary>
    public string? TraceContext { get; init; }

    public static implicit operator ParseResult(LedgerEvent e) => new(e, null);

    public static implicit operator ParseResult(LedgerError e) => new(null, e);
}
