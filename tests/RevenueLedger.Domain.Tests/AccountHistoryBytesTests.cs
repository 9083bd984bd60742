using RevenueLedger.Domain.Reporting;
using static RevenueLedger.Domain.Tests.Ev;

namespace RevenueLedger.Domain.Tests;

/// <summary>The stored form of an account history (read models): it must come back exactly, decimals bit for bit.</summary>
public class AccountHistoryBytesTests
{
    /// <summary>Every movement kind, a churn split over two reasons, same-day owner changes, amounts of several scales.</summary>
    private static AccountHistory Varied() => AccountHistory.Build("acme",
    [
        Owner("ann", "2023-12-20"),
        Started("c1", "2024-01-01", 100.50m),
        Started("c2", "2024-01-01", 40.125m),
        Expanded("c1", "2024-02-01", 0.0001m),
        Contracted("c1", "2024-03-15", 20m),
        Owner("bob", "2024-04-01"),
        Owner("cy", "2024-04-01"),
        Churned("c1", "2024-05-01", "price"),
        Churned("c2", "2024-05-01", "product gap"),
        Started("c3", "2025-01-31", 7_922_816_251_426_433.7593m), // a mantissa wider than 64 bits
        Churned("c3", "2025-03-01"),
        Started("c4", "2026-06-01", 12m),
    ]);

    private static void AssertSame(AccountHistory expected, AccountHistory actual)
    {
        Assert.Equal(expected.AccountId, actual.AccountId);
        Assert.Equal(expected.Movements.Count, actual.Movements.Count);
        for (int i = 0; i < expected.Movements.Count; i++)
        {
            Movement e = expected.Movements[i], a = actual.Movements[i];
            Assert.Equal((e.Day, e.Kind, e.ChurnReason), (a.Day, a.Kind, a.ChurnReason));
            // decimal equality ignores scale (100.50 == 100.5); reports print what is stored, so compare the bits.
            Assert.Equal(Bits(e.Amount, e.Before, e.After), Bits(a.Amount, a.Before, a.After));
            Assert.Equal(e.ChurnShares.Select(s => (s.Reason, Bits(s.Mrr))), a.ChurnShares.Select(s => (s.Reason, Bits(s.Mrr))));
        }
        Assert.Equal(expected.OwnerChangeDays, actual.OwnerChangeDays);
        foreach (var day in expected.OwnerChangeDays.Concat(expected.Movements.Select(m => m.Day)))
        {
            Assert.Equal(expected.OwnerDuring(day), actual.OwnerDuring(day));
            Assert.Equal(Bits(expected.MrrAt(day.AddDays(1))), Bits(actual.MrrAt(day.AddDays(1))));
        }
    }

    private static string Bits(params decimal[] values) => string.Join("|", values.Select(v => string.Join(",", decimal.GetBits(v))));

    [Fact]
    public void A_history_comes_back_exactly_from_its_bytes()
    {
        var history = Varied();
        Assert.Equal(
            [MovementKind.New, MovementKind.Expansion, MovementKind.Contraction, MovementKind.Churn, MovementKind.Reactivation, MovementKind.Churn, MovementKind.Reactivation],
            history.Movements.Select(m => m.Kind));
        Assert.Equal(2, history.Movements[3].ChurnShares.Length);
        AssertSame(history, AccountHistory.FromBytes(history.ToBytes()));
    }

    [Fact]
    public void A_day_that_nets_to_zero_in_value_but_not_in_decimal_places_does_not_change_the_numbers_read_back()
    {
        // 100.5 + 10.25 − 10.25 = 100.50: no movement that day, but the churn after it starts from 100.50, not 100.5.
        var history = AccountHistory.Build("acme",
            [Started("c1", "2024-01-01", 100.5m), Expanded("c1", "2024-02-01", 10.25m), Contracted("c1", "2024-02-01", 10.25m), Churned("c1", "2024-03-01")]);
        var churn = history.Movements[^1];
        Assert.Equal((MovementKind.Churn, 2, 2), (churn.Kind, churn.Before.Scale, churn.Amount.Scale));
        AssertSame(history, AccountHistory.FromBytes(history.ToBytes()));
    }

    [Fact]
    public void Mantissas_of_every_width_come_back()
    {
        var history = AccountHistory.Build("acme",
        [
            Started("c1", "2024-01-01", 930_000_000_000_000.0000m), // low 64 bits above 2^63
            Expanded("c1", "2024-02-01", 0.0000000001m),
            Started("c2", "2024-03-01", 79_228_162_514_264_337.593543950335m), // all 96 bits
        ]);
        AssertSame(history, AccountHistory.FromBytes(history.ToBytes()));
    }

    [Fact]
    public void An_empty_history_comes_back_empty()
    {
        var empty = AccountHistory.Build("nobody", []);
        AssertSame(empty, AccountHistory.FromBytes(empty.ToBytes()));
    }

    [Fact]
    public void Histories_stored_in_the_first_format_are_still_read()
    {
        var history = Varied();
        AssertSame(history, AccountHistory.FromBytes(Format1(history)));
    }

    [Fact]
    public void A_movement_takes_a_few_bytes_not_the_first_formats_58()
    {
        var events = new List<LedgerEvent> { Started("c1", "2020-01-01", 1_000m) };
        for (int month = 1; month <= 60; month++)
            events.Add(month % 3 == 0 ? Contracted("c1", $"{2020 + month / 12}-{month % 12 + 1:00}-01", 12.34m) : Expanded("c1", $"{2020 + month / 12}-{month % 12 + 1:00}-01", 25.5m));
        var history = AccountHistory.Build("acme", events);
        Assert.Equal(61, history.Movements.Count);
        Assert.InRange(history.ToBytes().Length, 1, 61 * 10);
        Assert.True(Format1(history).Length > 61 * 58);
    }

    /// <summary>Format 2 by hand: account "a", one movement (day gap, kind byte, MRR after 5), no shares or reason, no owners.</summary>
    private static byte[] OneMovement(byte dayGap = 10, byte kind = 0, byte decimalHeader = 0, byte count = 1) =>
        [2, 1, (byte)'a', count, dayGap, kind, decimalHeader, 5, 0, 0, 0];

    [Fact]
    public void Unknown_or_damaged_bytes_are_refused()
    {
        var valid = AccountHistory.FromBytes(OneMovement());
        Assert.Equal((MovementKind.New, 5m, 0m), (valid.Movements[0].Kind, valid.Movements[0].Amount, valid.Movements[0].Before));

        byte[][] damaged =
        [
            [3, 0],                                     // unknown format
            OneMovement(kind: 9),                       // unknown kind
            OneMovement(kind: 1),                       // 0 → 5 is new MRR, not an expansion
            OneMovement(decimalHeader: 29),             // decimal scale above 28
            OneMovement(count: 100),                    // more movements than bytes
            [.. OneMovement(), 0],                      // a byte left over
            [2, 1, (byte)'a', 2, 10, 0, 0, 5, 0, 0, 0, 0, 1, 0, 6, 0, 0, 0], // second movement on the same day
        ];
        foreach (var bytes in damaged) Assert.Throws<InvalidDataException>(() => AccountHistory.FromBytes(bytes));
        // The last one, a day later, is a valid expansion: it was refused for its day alone.
        Assert.Equal(MovementKind.Expansion, AccountHistory.FromBytes([2, 1, (byte)'a', 2, 10, 0, 0, 5, 0, 0, 1, 1, 0, 6, 0, 0, 0]).Movements[1].Kind);
        var whole = Varied().ToBytes();
        for (int cut = 1; cut < whole.Length; cut++) Assert.Throws<InvalidDataException>(() => AccountHistory.FromBytes(whole.AsSpan(0, cut)));
    }

    /// <summary>Format 1 as earlier versions wrote it: every number at full width.</summary>
    private static byte[] Format1(AccountHistory h)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.Write((byte)1);
            w.Write(h.AccountId);
            w.Write(h.Movements.Count);
            foreach (var m in h.Movements)
            {
                w.Write(m.Day.DayNumber); w.Write((byte)m.Kind); w.Write(m.Amount); w.Write(m.Before); w.Write(m.After);
                w.Write(m.ChurnShares.Length);
                foreach (var share in m.ChurnShares) { w.Write(share.Reason); w.Write(share.Mrr); }
                w.Write(m.ChurnReason is not null);
                if (m.ChurnReason is not null) w.Write(m.ChurnReason);
            }
            w.Write(h.OwnerChangeDays.Count);
            foreach (var day in h.OwnerChangeDays)
            {
                var owner = h.OwnerDuring(day);
                w.Write(day.DayNumber);
                w.Write(owner is not null);
                if (owner is not null) w.Write(owner);
            }
        }
        return stream.ToArray();
    }
}
