namespace RevenueLedger.Domain.Reporting;

public enum MovementKind { New, Expansion, Contraction, Churn, Reactivation }

/// <summary>A reason's part of a churn or contraction movement's MRR.</summary>
public readonly record struct ChurnShare(string Reason, decimal Mrr);

/// <summary>One account's netted change on one effective day (spec §4): <c>Before</c> = MRR(d), <c>After</c> = MRR(d+1).</summary>
public readonly record struct Movement(DateOnly Day, MovementKind Kind, decimal Amount, decimal Before, decimal After, ChurnShare[] ChurnShares, string? ChurnReason);

/// <summary>
/// An account's MRR over time, its netted daily movements and its owner timeline, folded from its active
/// (not reversed) events. Every report is a sum over these.
/// </summary>
public sealed class AccountHistory
{
    public const string UnspecifiedReason = "unspecified";

    private readonly DateOnly[] _ownerDays;    // distinct OwnerAssigned dates, ascending
    private readonly string?[] _owners;        // owner in force from that day (the last one recorded that day)

    private AccountHistory(string accountId, Movement[] movements, DateOnly[] ownerDays, string?[] owners, string currency = "")
    {
        AccountId = accountId;
        Currency = currency;
        _movements = movements; // one per day whose changes alter MRR, ascending by day
        _ownerDays = ownerDays;
        _owners = owners;
    }

    public string AccountId { get; }

    /// <summary>The account currency (spec §2 rule 5: that of its contracts), "" while it has none; every amount is in it.</summary>
    public string Currency { get; }

    private readonly Movement[] _movements;

    public IReadOnlyList<Movement> Movements => _movements;

    /// <summary>The movements for the sums over every account and window: indexed without an interface call or a copy.</summary>
    internal ReadOnlySpan<Movement> MovementSpan => _movements;

    internal ReadOnlySpan<DateOnly> OwnerDaySpan => _ownerDays;

    /// <summary>
    /// A compact, versioned binary form for read models: movements and the owner timeline (MRR over time is
    /// derived from the movements).
    /// </summary>
    public byte[] ToBytes()
    {
        using var stream = new MemoryStream();
        return Serialize(stream).ToArray();
    }

    /// <summary>
    /// The same bytes, written into <paramref name="reusable"/> (emptied first); valid until it is written again.
    /// Format 2 stores per movement only what cannot be derived: the day (as the gap from the one before), the kind
    /// and the MRR after it, each number in as few bytes as it needs. <c>Before</c> is the previous movement's
    /// <c>After</c> — unless a day in between netted to zero in value but not in decimal places (100.5 + 10.25 −
    /// 10.25 is 100.50), when it is written out — and <c>Amount</c> follows from both and the kind as
    /// <see cref="Classify"/> computes it, so every number comes back bit for bit. About a fifth of format 1's size:
    /// every history is written by each catch-up and read by every any-range query.
    /// </summary>
    public ArraySegment<byte> Serialize(MemoryStream reusable)
    {
        reusable.SetLength(0);
        using (var w = new BinaryWriter(reusable, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)3);
            w.Write(AccountId);
            w.Write(Currency);
            w.Write7BitEncodedInt(_movements.Length);
            int day = 0;
            decimal before = 0;
            bool everActive = false;
            for (int i = 0; i < _movements.Length; i++)
            {
                ref readonly var m = ref _movements[i];
                // Build keeps these; checked because bytes that decode to other numbers would be worse than a failed write.
                if (m.Before != before || !SameBits(m.Amount, AmountOf(m.Kind, m.Before, m.After)) || m.Kind != KindOf(m.Before, m.After, everActive)
                    || (i > 0 && m.Day.DayNumber <= day))
                    throw new InvalidOperationException($"account '{AccountId}': the movement on {m.Day} does not follow from the one before it");
                bool explicitBefore = !SameBits(m.Before, before);
                w.Write7BitEncodedInt(m.Day.DayNumber - day);
                w.Write((byte)((byte)m.Kind | (explicitBefore ? ExplicitBefore : 0)));
                if (explicitBefore) WriteDecimal(w, m.Before);
                WriteDecimal(w, m.After);
                w.Write7BitEncodedInt(m.ChurnShares.Length);
                foreach (var share in m.ChurnShares) { w.Write(share.Reason); WriteDecimal(w, share.Mrr); }
                // The primary churn reason is the largest share's, which SplitChurn puts first; written out otherwise.
                if (m.ChurnReason is null) w.Write((byte)0);
                else if (m.ChurnShares.Length > 0 && m.ChurnShares[0].Reason == m.ChurnReason) w.Write((byte)1);
                else { w.Write((byte)2); w.Write(m.ChurnReason); }
                (day, before) = (m.Day.DayNumber, m.After);
                everActive |= m.After > 0;
            }
            w.Write7BitEncodedInt(_ownerDays.Length);
            day = 0;
            for (int i = 0; i < _ownerDays.Length; i++)
            {
                if (i > 0 && _ownerDays[i].DayNumber <= day)
                    throw new InvalidOperationException($"account '{AccountId}': owner days out of order at {_ownerDays[i]}");
                w.Write7BitEncodedInt(_ownerDays[i].DayNumber - day);
                day = _ownerDays[i].DayNumber;
                w.Write(_owners[i] is not null);
                if (_owners[i] is not null) w.Write(_owners[i]!);
            }
        }
        return new ArraySegment<byte>(reusable.GetBuffer(), 0, (int)reusable.Length);
    }

    private const byte ExplicitBefore = 0x80; // in a movement's kind byte: its Before follows, it is not the last After

    /// <summary>
    /// Reads format 2, and format 1 (every number at full width) as stored by earlier versions. Damaged bytes (cut
    /// short, left over, out of order, or numbers that do not add up to their kinds) throw <see cref="InvalidDataException"/>.
    /// </summary>
    public static AccountHistory FromBytes(ReadOnlySpan<byte> bytes)
    {
        using var stream = new MemoryStream(bytes.ToArray());
        using var r = new BinaryReader(stream, System.Text.Encoding.UTF8);
        try
        {
            var history = r.ReadByte() switch
            {
                1 => ReadFormat1(r),
                2 => ReadFormat2(r, withCurrency: false),
                3 => ReadFormat2(r, withCurrency: true),
                var v => throw new InvalidDataException($"unknown account history format {v}"),
            };
            if (stream.Position != stream.Length) throw new InvalidDataException($"{stream.Length - stream.Position} bytes left after the account history");
            return history;
        }
        catch (Exception ex) when (ex is EndOfStreamException or FormatException or ArgumentException or OverflowException)
        {
            throw new InvalidDataException($"damaged account history: {ex.Message}", ex);
        }
    }

    /// <summary>Format 2, and format 3: the same with the account currency after the id.</summary>
    private static AccountHistory ReadFormat2(BinaryReader r, bool withCurrency)
    {
        var accountId = r.ReadString();
        var currency = withCurrency ? Vocabulary.Share(r.ReadString()) : "";
        if (currency.Length is not (0 or 3)) throw new InvalidDataException($"bad account currency '{currency}'");
        var movements = new Movement[Count(r, r.Read7BitEncodedInt())];
        int day = 0;
        decimal before = 0;
        bool everActive = false;
        for (int i = 0; i < movements.Length; i++)
        {
            day += DayGap(r, i);
            byte kindByte = r.ReadByte();
            var kind = (MovementKind)(kindByte & ~ExplicitBefore);
            if (!Enum.IsDefined(kind)) throw new InvalidDataException($"unknown movement kind {(int)kind}");
            if ((kindByte & ExplicitBefore) != 0)
            {
                decimal stated = ReadDecimal(r);
                if (stated != before) throw new InvalidDataException($"movement {i}: MRR before {stated} is not the MRR after the one before it, {before}");
                before = stated;
            }
            decimal after = ReadDecimal(r);
            if (kind != KindOf(before, after, everActive)) throw new InvalidDataException($"movement {i}: from {before} to {after} is not {kind}");
            var shares = new ChurnShare[Count(r, r.Read7BitEncodedInt())];
            for (int k = 0; k < shares.Length; k++) shares[k] = new ChurnShare(Vocabulary.Share(r.ReadString()), ReadDecimal(r));
            string? reason = r.ReadByte() switch
            {
                0 => null,
                1 when shares.Length > 0 => shares[0].Reason,
                2 => Vocabulary.Share(r.ReadString()),
                var v => throw new InvalidDataException($"bad churn reason marker {v}"),
            };
            movements[i] = new Movement(DateOnly.FromDayNumber(day), kind, AmountOf(kind, before, after), before, after, shares, reason);
            before = after;
            everActive |= after > 0;
        }
        var ownerDays = new DateOnly[Count(r, r.Read7BitEncodedInt())];
        var owners = new string?[ownerDays.Length];
        day = 0;
        for (int i = 0; i < ownerDays.Length; i++)
        {
            day += DayGap(r, i);
            ownerDays[i] = DateOnly.FromDayNumber(day);
            owners[i] = r.ReadBoolean() ? Vocabulary.Share(r.ReadString()) : null;
        }
        return new AccountHistory(accountId, movements, ownerDays, owners, currency);
    }

    /// <summary>Days ascend strictly (binary searches rely on it): every gap after the first is at least one.</summary>
    private static int DayGap(BinaryReader r, int index)
    {
        int gap = r.Read7BitEncodedInt();
        return gap >= (index == 0 ? 0 : 1) ? gap : throw new InvalidDataException($"day gap {gap} at entry {index}");
    }

    private static AccountHistory ReadFormat1(BinaryReader r)
    {
        var accountId = r.ReadString();
        var movements = new Movement[Count(r, r.ReadInt32())];
        for (int i = 0; i < movements.Length; i++)
        {
            var day = DateOnly.FromDayNumber(r.ReadInt32());
            var kind = (MovementKind)r.ReadByte();
            decimal amount = r.ReadDecimal(), before = r.ReadDecimal(), after = r.ReadDecimal();
            var shares = new ChurnShare[Count(r, r.ReadInt32())];
            for (int k = 0; k < shares.Length; k++) shares[k] = new ChurnShare(Vocabulary.Share(r.ReadString()), r.ReadDecimal());
            var reason = r.ReadBoolean() ? Vocabulary.Share(r.ReadString()) : null;
            movements[i] = new Movement(day, kind, amount, before, after, shares, reason);
        }
        var ownerDays = new DateOnly[Count(r, r.ReadInt32())];
        var owners = new string?[ownerDays.Length];
        for (int i = 0; i < ownerDays.Length; i++)
        {
            ownerDays[i] = DateOnly.FromDayNumber(r.ReadInt32());
            owners[i] = r.ReadBoolean() ? Vocabulary.Share(r.ReadString()) : null;
        }
        return new AccountHistory(accountId, movements, ownerDays, owners);
    }

    /// <summary>A count read from the bytes, no larger than the bytes left (every entry takes at least one).</summary>
    private static int Count(BinaryReader r, int n) =>
        n >= 0 && n <= r.BaseStream.Length - r.BaseStream.Position ? n : throw new InvalidDataException($"bad count {n}");

    /// <summary>The kind <see cref="Classify"/> gives a change from <paramref name="before"/> to <paramref name="after"/>.</summary>
    private static MovementKind KindOf(decimal before, decimal after, bool everActive) =>
        before == 0 ? (everActive ? MovementKind.Reactivation : MovementKind.New)
        : after > before ? MovementKind.Expansion
        : after > 0 ? MovementKind.Contraction
        : MovementKind.Churn;

    private static bool SameBits(decimal a, decimal b) => a == b && a.Scale == b.Scale && decimal.IsNegative(a) == decimal.IsNegative(b);

    /// <summary>The movement's size as <see cref="Classify"/> sets it.</summary>
    private static decimal AmountOf(MovementKind kind, decimal before, decimal after) => kind switch
    {
        MovementKind.New or MovementKind.Reactivation => after,
        MovementKind.Expansion => after - before,
        MovementKind.Contraction => before - after,
        _ => before,
    };

    /// <summary>A decimal exactly (scale included): a byte of scale and sign, the low 64 bits of the mantissa in
    /// 7-bit groups (an MRR of a few thousand with cents takes 3 or 4 bytes), and the high 32 only when used.</summary>
    private static void WriteDecimal(BinaryWriter w, decimal d)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(d, bits);
        byte scale = (byte)(bits[3] >> 16);
        bool negative = bits[3] < 0, wide = bits[2] != 0;
        w.Write((byte)(scale | (negative ? 0x80 : 0) | (wide ? 0x40 : 0)));
        w.Write7BitEncodedInt64((long)((uint)bits[0] | ((ulong)(uint)bits[1] << 32)));
        if (wide) w.Write(bits[2]);
    }

    private static decimal ReadDecimal(BinaryReader r)
    {
        byte header = r.ReadByte();
        int scale = header & 0x3F;
        if (scale > 28) throw new InvalidDataException($"bad decimal scale {scale}");
        ulong low = (ulong)r.Read7BitEncodedInt64();
        int high = (header & 0x40) != 0 ? r.ReadInt32() : 0;
        return new decimal((int)(uint)low, (int)(uint)(low >> 32), high, (header & 0x80) != 0, (byte)scale);
    }

    public IReadOnlyList<DateOnly> OwnerChangeDays => _ownerDays;

    /// <summary>MRR in force at the start of day d: every active event with effectiveDate &lt; d applied.</summary>
    public decimal MrrAt(DateOnly d)
    {
        int i = FirstMovementFrom(d) - 1; // the last movement dated before d
        return i < 0 ? 0 : _movements[i].After;
    }

    /// <summary>The owner during day d: the latest OwnerAssigned with effectiveDate ≤ d; null when none.</summary>
    public string? OwnerDuring(DateOnly d)
    {
        int i = UpperBound(_ownerDays, d);
        return i < 0 ? null : _owners[i];
    }

    /// <summary>Index of the last element ≤ d, or −1.</summary>
    private static int UpperBound(DateOnly[] days, DateOnly d)
    {
        int i = Array.BinarySearch(days, d);
        return i >= 0 ? i : ~i - 1;
    }

    /// <summary>Index of the first movement on or after d.</summary>
    public int FirstMovementFrom(DateOnly d)
    {
        int low = 0, high = _movements.Length;
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (_movements[mid].Day < d) low = mid + 1; else high = mid;
        }
        return low;
    }

    /// <summary>
    /// Folds the account's active events, given in commit (stream) order. Reversed events and the reversals
    /// themselves must already be left out: a reversal removes its target as if it had never happened.
    /// </summary>
    public static AccountHistory Build(string accountId, IReadOnlyList<LedgerEvent> activeInCommitOrder)
    {
        if (activeInCommitOrder.FirstOrDefault(e => e.AccountId != accountId) is { } other)
            throw new ArgumentException($"event '{other.EventId}' belongs to account '{other.AccountId}', not '{accountId}'", nameof(activeInCommitOrder));
        var folder = new FactFolder([]);
        foreach (var e in activeInCommitOrder) folder.Add(e);
        return folder.Build().SingleOrDefault() ?? Build(accountId, [], []);
    }

    /// <summary>
    /// Working space of <see cref="Build(string, ReadOnlySpan{AccountFact}, IReadOnlyList{string})"/>, one per thread:
    /// a build runs for every changed account of every projector step, and its sort keys, per-contract MRRs and
    /// growing lists were a quarter of what a projector allocated under a steady stream of new accounts.
    /// </summary>
    private sealed class BuildSpace
    {
        public long[] ContractKeys = new long[64];
        public int[] ContractIdx = new int[64];
        public long[] OwnerKeys = new long[16];
        public int[] OwnerIdx = new int[16];
        public readonly Dictionary<int, decimal> ContractMrr = [];
        public readonly List<Movement> Movements = [];
        public readonly List<DateOnly> OwnerDays = [];
        public readonly List<string?> OwnerIds = [];

        public static void Fit<T>(ref T[] array, int length)
        {
            if (array.Length < length) array = new T[Math.Max(length, array.Length * 2)];
        }
    }

    [ThreadStatic] private static BuildSpace? _space;

    /// <summary>The same fold over compact facts (what a replay of millions of events builds instead of events).</summary>
    public static AccountHistory Build(string accountId, ReadOnlySpan<AccountFact> facts, IReadOnlyList<string> names)
    {
        var space = _space ??= new BuildSpace();
        // Ordered by (effectiveDate, commit order), as the spec orders (effectiveDate, position).
        int contracts = 0, owners = 0;
        foreach (ref readonly var f in facts) { if (f.Kind == FactKind.OwnerAssigned) owners++; else contracts++; }
        BuildSpace.Fit(ref space.ContractKeys, contracts);
        BuildSpace.Fit(ref space.ContractIdx, contracts);
        BuildSpace.Fit(ref space.OwnerKeys, owners);
        BuildSpace.Fit(ref space.OwnerIdx, owners);
        var contractKeys = space.ContractKeys.AsSpan(0, contracts);
        var contractIdx = space.ContractIdx.AsSpan(0, contracts);
        var ownerKeys = space.OwnerKeys.AsSpan(0, owners);
        var ownerIdx = space.OwnerIdx.AsSpan(0, owners);
        for (int k = 0, c = 0, o = 0; k < facts.Length; k++)
        {
            long key = ((long)facts[k].Date.DayNumber << 32) | (uint)k;
            if (facts[k].Kind == FactKind.OwnerAssigned) { ownerKeys[o] = key; ownerIdx[o++] = k; }
            else { contractKeys[c] = key; contractIdx[c++] = k; }
        }
        // Keys are unique (they end in the fact's index), so the unstable sort orders exactly.
        contractKeys.Sort(contractIdx);
        ownerKeys.Sort(ownerIdx);

        var movements = space.Movements;
        var contractMrr = space.ContractMrr;
        movements.Clear();
        contractMrr.Clear();
        decimal total = 0;
        bool everActive = false;
        int i = 0;
        while (i < contractIdx.Length)
        {
            var day = facts[contractIdx[i]].Date;
            decimal before = total;
            List<(string Reason, decimal Removed)>? churns = null, decreases = null;
            for (; i < contractIdx.Length && facts[contractIdx[i]].Date == day; i++)
            {
                ref readonly var e = ref facts[contractIdx[i]];
                decimal current = contractMrr.GetValueOrDefault(e.Key);
                decimal next = e.Kind switch
                {
                    FactKind.Started => e.Amount,
                    FactKind.Expanded => current + e.Amount,
                    FactKind.Contracted => current - e.Amount,
                    _ => 0m,
                };
                if (e.Kind == FactKind.Churned)
                    (churns ??= []).Add((e.Reason < 0 ? UnspecifiedReason : names[e.Reason], current));
                if (e.Kind is FactKind.Churned or FactKind.Contracted && current > next)
                    (decreases ??= []).Add((e.Reason < 0 ? UnspecifiedReason : names[e.Reason], current - next));
                contractMrr[e.Key] = next;
                total += next - current;
            }
            if (total == before) continue;
            movements.Add(Classify(day, before, total, everActive, churns, decreases));
            if (total > 0) everActive = true;
        }

        var ownerDays = space.OwnerDays;
        var ownerIds = space.OwnerIds;
        ownerDays.Clear();
        ownerIds.Clear();
        foreach (var k in ownerIdx)
        {
            ref readonly var o = ref facts[k];
            if (ownerDays.Count > 0 && ownerDays[^1] == o.Date) ownerIds[^1] = names[o.Key];
            else { ownerDays.Add(o.Date); ownerIds.Add(names[o.Key]); }
        }
        // Rule 5 keeps every contract of an account in one currency: the first one that names it says it.
        string currency = "";
        foreach (ref readonly var f in facts)
            if (f.Currency >= 0) { currency = Vocabulary.Share(names[f.Currency]); break; }
        var history = new AccountHistory(accountId, [.. movements], [.. ownerDays], [.. ownerIds], currency);
        // An account of very many facts does not leave that much space held for the rest of the thread.
        if (facts.Length > 4096) _space = null;
        return history;
    }

    private static Movement Classify(DateOnly day, decimal a, decimal b, bool everActive, List<(string Reason, decimal Removed)>? churns,
        List<(string Reason, decimal Removed)>? decreases)
    {
        if (a == 0) return new Movement(day, everActive ? MovementKind.Reactivation : MovementKind.New, b, a, b, [], null);
        if (b > a) return new Movement(day, MovementKind.Expansion, b - a, a, b, [], null);
        if (b > 0)
        {
            // A contraction's reasons: the day's contractions and churned contracts, in proportion to what each removed.
            // None given (most contractions): nothing stored, read as `unspecified` — read models stay as small as before.
            if (decreases is null || decreases.TrueForAll(d => d.Reason == UnspecifiedReason))
                return new Movement(day, MovementKind.Contraction, a - b, a, b, [], null);
            var (parts, main) = SplitChurn(a - b, decreases);
            return new Movement(day, MovementKind.Contraction, a - b, a, b, parts, main);
        }
        var (shares, primary) = SplitChurn(a, churns ?? []);
        return new Movement(day, MovementKind.Churn, a, a, b, shares, primary);
    }

    /// <summary>
    /// Splits the churned MRR over the day's churn reasons in proportion to the MRR each removed; shares are
    /// rounded to 4 places and the largest takes the rounding remainder so that they add up to the movement exactly.
    /// The account counts once, under the reason that removed the most (ties: alphabetical).
    /// </summary>
    private static (ChurnShare[] Shares, string Primary) SplitChurn(decimal churned, List<(string Reason, decimal Removed)> churns)
    {
        if (churns.Count == 0) return ([new ChurnShare(UnspecifiedReason, churned)], UnspecifiedReason);
        if (churns.Count == 1) return ([new ChurnShare(churns[0].Reason, churned)], churns[0].Reason);
        var byReason = churns.GroupBy(c => c.Reason, StringComparer.Ordinal)
            .Select(g => (Reason: g.Key, Removed: g.Sum(x => x.Removed)))
            .OrderByDescending(x => x.Removed).ThenBy(x => x.Reason, StringComparer.Ordinal)
            .ToList();
        decimal removedTotal = byReason.Sum(x => x.Removed);
        if (removedTotal <= 0) // cannot happen for a valid timeline (a churn removes what was there); stay total anyway
            return ([new ChurnShare(UnspecifiedReason, churned)], UnspecifiedReason);
        var shares = new ChurnShare[byReason.Count];
        decimal allocated = 0;
        for (int k = 1; k < byReason.Count; k++)
        {
            var part = Math.Round(churned * byReason[k].Removed / removedTotal, 4, MidpointRounding.ToEven);
            shares[k] = new ChurnShare(byReason[k].Reason, part);
            allocated += part;
        }
        shares[0] = new ChurnShare(byReason[0].Reason, churned - allocated);
        return (shares, byReason[0].Reason);
    }
}
