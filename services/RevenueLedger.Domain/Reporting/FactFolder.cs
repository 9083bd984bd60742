using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Text;

namespace RevenueLedger.Domain.Reporting;

public enum FactKind : byte { Started, Expanded, Contracted, Churned, OwnerAssigned }

/// <summary>
/// What a report needs of one active event: kind, effective date, amount (MRR for a start), the contract or owner
/// it concerns, the churn reason and the currency, all as indexes into the folder's name table (reason and currency
/// −1: none). No references, so millions of them in arrays cost the garbage collector nothing to scan. Commit order
/// is list order.
/// </summary>
public readonly record struct AccountFact(FactKind Kind, DateOnly Date, decimal Amount, int Key, int Reason, int Currency = -1);

/// <summary>
/// Folds a replay of the log into account histories without materialising events: canonical stored payloads are
/// read straight from their UTF-8 bytes into compact facts, ids are shared per account, and nothing but the facts
/// is kept. Events the replay must skip (reversed ones) are known up front, since a reversal always follows its
/// target. Anything unusual in a payload falls back to the strict parser.
/// </summary>
public sealed class FactFolder
{
    private static readonly byte[] ReversedType = Encoding.UTF8.GetBytes(EventTypes.StoredName(typeof(EventReversed)));

    private readonly HashSet<string> _reversed;
    private readonly List<RecordedRate> _rates = [];
    private readonly Dictionary<string, Account> _accounts = new(StringComparer.Ordinal);
    private readonly NameTable _names = new();

    // Facts live in large arrays (the large-object heap), chained per account: a fold of millions of events then
    // never has the garbage collector copy or rescan them, which otherwise costs more than the fold itself.
    private const int ChunkBits = 16;
    private readonly List<Slot[]> _chunks = [];
    private int _slots;

    private struct Slot
    {
        public AccountFact Fact;
        public int Next;
    }

    private sealed class Account(string id)
    {
        public string Id { get; } = id;
        public int Head = -1, Tail = -1, Count;
    }

    private ref Slot At(int index) => ref _chunks[index >> ChunkBits][index & ((1 << ChunkBits) - 1)];

    private void Append(Account account, in AccountFact fact)
    {
        if ((_slots >> ChunkBits) == _chunks.Count) _chunks.Add(new Slot[1 << ChunkBits]);
        int index = _slots++;
        ref var slot = ref At(index);
        slot.Fact = fact;
        slot.Next = -1;
        if (account.Tail >= 0) At(account.Tail).Next = index; else account.Head = index;
        account.Tail = index;
        account.Count++;
    }

    /// <param name="reversedEventIds">Targets of the reversals within the replayed positions.</param>
    public FactFolder(IEnumerable<string> reversedEventIds) => _reversed = reversedEventIds.ToHashSet(StringComparer.Ordinal);

    private readonly Dictionary<string, List<Insights.SignalPoint>> _signals = new(StringComparer.Ordinal);
    private readonly List<Insights.ReasonEntry> _reasons = [];

    /// <summary>The active signals folded so far, per account.</summary>
    public Insights.SignalTable Signals() => new(_signals);

    /// <summary>The reason catalogue as the folded events leave it.</summary>
    public Insights.ReasonCatalogue Reasons() => new(_reasons);

    /// <summary>The exchange rates folded so far (spec §10), in the order added.</summary>
    public IReadOnlyList<RecordedRate> Rates => _rates;

    /// <param name="position">The event's log position: rates keep it (a report states it, and as-of reports filter by it).</param>
    public void Add(LedgerEvent e, long position = 0)
    {
        if (e is FxRateRecorded fx)
        {
            _rates.Add(RecordedRate.Of(fx, position));
            return;
        }
        if (e is EventReversed || _reversed.Contains(e.EventId)) return;
        switch (e)
        {
            case SignalRecorded sg:
                if (!_signals.TryGetValue(sg.AccountId, out var points)) _signals[sg.AccountId] = points = [];
                points.Add(new Insights.SignalPoint(sg.Signal, sg.EffectiveDate, sg.Value, position));
                return;
            case ReasonCatalogued rc:
                _reasons.Add(new Insights.ReasonEntry(rc.Reason, rc.Label, rc.Function, position));
                return;
        }
        Append(AccountOf(e.AccountId), _names.ToFact(e));
    }

    /// <summary>Adds one stored event from its log position, versioned type name and canonical UTF-8 payload.</summary>
    public void Add(long position, ReadOnlySpan<byte> storedType, ReadOnlySpan<byte> payload)
    {
        if (storedType.SequenceEqual(ReversedType)) return;
        if (!TryAddFast(storedType, payload))
            Add(WireFormat.ParseStored(Encoding.UTF8.GetString(storedType), payload), position);
    }

    private bool TryAddFast(ReadOnlySpan<byte> storedType, ReadOnlySpan<byte> payload)
    {
        if (!StoredPayload.TryScan(storedType, payload, out var f) || f.IsReversal) return false;
        Span<char> chars = stackalloc char[StoredPayload.MaxFieldLength];
        if (_reversed.Count > 0 && _reversed.GetAlternateLookup<ReadOnlySpan<char>>().Contains(Chars(f.EventId, chars))) return true;
        var account = AccountOf(Chars(f.AccountId, chars));
        int keyIndex = _names.Index(Chars(f.Key, chars));
        int reasonIndex = f.Reason.IsEmpty ? -1 : _names.Index(Chars(f.Reason, chars));
        int currencyIndex = f.Currency.IsEmpty ? -1 : _names.Index(Chars(f.Currency, chars));
        Append(account, new AccountFact(f.Kind, f.Date, f.Amount, keyIndex, reasonIndex, currencyIndex));
        return true;
    }

    private static ReadOnlySpan<char> Chars(ReadOnlySpan<byte> utf8, Span<char> buffer) => StoredPayload.Chars(utf8, buffer);

    private Account AccountOf(ReadOnlySpan<char> id)
    {
        if (_accounts.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(id, out var account)) return account;
        var text = id.ToString();
        return _accounts[text] = new Account(text);
    }

    private Account AccountOf(string id) => _accounts.TryGetValue(id, out var a) ? a : _accounts[id] = new Account(id);

    /// <summary>The histories, one per account, in account-id order; accounts fold independently, on every core.</summary>
    public IReadOnlyList<AccountHistory> Build()
    {
        var accounts = _accounts.Values.OrderBy(a => a.Id, StringComparer.Ordinal).ToArray();
        var histories = new AccountHistory[accounts.Length];
        Parallel.For(0, accounts.Length, i =>
        {
            var account = accounts[i];
            var facts = System.Buffers.ArrayPool<AccountFact>.Shared.Rent(account.Count);
            int n = 0;
            for (int k = account.Head; k >= 0; k = At(k).Next) facts[n++] = At(k).Fact;
            histories[i] = AccountHistory.Build(account.Id, facts.AsSpan(0, n), _names.Names);
            System.Buffers.ArrayPool<AccountFact>.Shared.Return(facts);
        });
        return histories;
    }
}
