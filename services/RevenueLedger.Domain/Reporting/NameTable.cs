namespace RevenueLedger.Domain.Reporting;

/// <summary>
/// Contract ids, owner ids, reasons and currencies as small integers, so facts hold no references. One table serves contracts,
/// owners and reasons: a fold only compares contract ids within one account.
/// </summary>
public sealed class NameTable
{
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];

    public IReadOnlyList<string> Names => _names;

    public int Index(ReadOnlySpan<char> s) =>
        _index.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(s, out var i) ? i : Index(s.ToString());

    public int Index(string s)
    {
        if (_index.TryGetValue(s, out var i)) return i;
        _names.Add(s);
        return _index[s] = _names.Count - 1;
    }

    /// <summary>The fact of an event that has one (not a reversal); reasons absent are −1.</summary>
    public AccountFact ToFact(LedgerEvent e) => e switch
    {
        ContractStarted s => new(FactKind.Started, s.EffectiveDate, s.Mrr, Index(s.ContractId), -1, Index(s.Currency)),
        ContractExpanded x => new(FactKind.Expanded, x.EffectiveDate, x.Amount, Index(x.ContractId), Reason(x.Reason), Index(x.Currency)),
        ContractContracted c => new(FactKind.Contracted, c.EffectiveDate, c.Amount, Index(c.ContractId), Reason(c.Reason), Index(c.Currency)),
        ContractChurned ch => new(FactKind.Churned, ch.EffectiveDate, 0, Index(ch.ContractId), Reason(ch.Reason)),
        OwnerAssigned o => new(FactKind.OwnerAssigned, o.EffectiveDate, 0, Index(o.OwnerId), -1),
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "not a fact"),
    };

    private int Reason(string? reason) => reason is null ? -1 : Index(reason);
}
