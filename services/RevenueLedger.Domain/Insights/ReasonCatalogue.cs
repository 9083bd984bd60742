using System.Collections.Frozen;

namespace RevenueLedger.Domain.Insights;

/// <summary>Who is responsible for improving a reason: the functions a churn or contraction reason maps to.</summary>
public static class ResponsibleFunctions
{
    public const string Product = "product", Support = "support", Sales = "sales", CustomerSuccess = "customer-success", External = "external", Unknown = "unknown";

    public static readonly IReadOnlyList<string> All = [Product, Support, Sales, CustomerSuccess, External, Unknown];

    public static bool IsValid(string s) => All.Contains(s, StringComparer.Ordinal);

    /// <summary>Whether an owner (CSM) can do something about it: customer success and support are theirs to influence.</summary>
    public static bool IsControllableByOwner(string function) => function is CustomerSuccess or Support;
}

public sealed record ReasonEntry(string Reason, string Label, string Function, long Position);

/// <summary>
/// Reason code → label and responsible function, as known at a position: the defaults below, each overridden by the
/// latest <see cref="ReasonCatalogued"/> for its code. A code nobody catalogued reports as function `unknown`.
/// </summary>
public sealed class ReasonCatalogue
{
    /// <summary>Position 0: not an event; what the ledger assumes until a catalogue entry says otherwise.</summary>
    public static readonly IReadOnlyList<ReasonEntry> Defaults =
    [
        new("features", "Missing features", ResponsibleFunctions.Product, 0),
        new("competitor", "Went to a competitor", ResponsibleFunctions.Product, 0),
        new("fit", "Poor fit for the product", ResponsibleFunctions.Sales, 0),
        new("cost", "Price or cost", ResponsibleFunctions.Sales, 0),
        new("support", "Support experience", ResponsibleFunctions.Support, 0),
        new("adoption", "Low adoption", ResponsibleFunctions.CustomerSuccess, 0),
        new("change-in-needs", "Change in needs", ResponsibleFunctions.CustomerSuccess, 0),
        new("financial-struggle", "Financial struggle", ResponsibleFunctions.External, 0),
        new("acquired", "Acquired or merged", ResponsibleFunctions.External, 0),
        new(Reporting.AccountHistory.UnspecifiedReason, "No reason given", ResponsibleFunctions.Unknown, 0),
    ];

    public static readonly ReasonCatalogue Default = new([]);

    private readonly FrozenDictionary<string, ReasonEntry> _entries;

    /// <param name="recorded">Catalogue entries in position order; a later one for a code replaces the earlier.</param>
    public ReasonCatalogue(IEnumerable<ReasonEntry> recorded)
    {
        var entries = Defaults.ToDictionary(e => e.Reason, StringComparer.Ordinal);
        foreach (var e in recorded) entries[e.Reason] = e;
        _entries = entries.ToFrozenDictionary(StringComparer.Ordinal);
        Recorded = [.. recorded];
    }

    /// <summary>The catalogue events folded, in position order.</summary>
    public IReadOnlyList<ReasonEntry> Recorded { get; }

    /// <summary>The catalogue as known at <paramref name="position"/> (entries recorded after it do not apply).</summary>
    public ReasonCatalogue AsOf(long position) => new(Recorded.Where(e => e.Position <= position));

    public ReasonEntry this[string reason] => _entries.TryGetValue(reason, out var e) ? e : new ReasonEntry(reason, reason, ResponsibleFunctions.Unknown, 0);

    public IEnumerable<ReasonEntry> Entries => _entries.Values.OrderBy(e => e.Reason, StringComparer.Ordinal);
}
