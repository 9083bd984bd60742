using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Application.Tests;

/// <summary>
/// Spec §10's identities over generated books in three currencies (every event valid in order, rates recorded monthly
/// for every pair), for each reporting currency: they must hold exactly, not within a tolerance.
/// </summary>
public sealed class MultiCurrencyPropertyTests
{
    private static readonly string[] Currencies = ["USD", "EUR", "GBP"];

    /// <summary>The book folded as the log would hold it: positions 1..n in submission order.</summary>
    private static LedgerSnapshot Book(int seed)
    {
        var events = BookGenerator.Generate(new BookOptions(160, 5, new DateOnly(2022, 1, 1), 24, seed, 1.5, Currencies)).ToList();
        var folder = new FactFolder(events.OfType<EventReversed>().Select(r => r.TargetEventId));
        for (int i = 0; i < events.Count; i++) folder.Add(events[i], i + 1);
        Assert.Contains(events, e => e is FxRateRecorded);
        var snapshot = new LedgerSnapshot(events.Count, folder.Build(), new FxRateTable(folder.Rates));
        Assert.Equal(Currencies.Order(), snapshot.Accounts.Select(a => a.Currency).Where(c => c.Length > 0).Distinct().Order());
        return snapshot;
    }

    public static TheoryData<int, string> Cases()
    {
        var data = new TheoryData<int, string>();
        foreach (var seed in new[] { 1, 2, 3 })
            foreach (var c in Currencies) data.Add(seed, c);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_bridge_row_balances_with_fx_impact_and_consecutive_windows_chain(int seed, string currency)
    {
        var book = Book(seed);
        foreach (var kind in new[] { WindowKind.Month, WindowKind.Quarter })
        {
            var windows = book.ReportIn(currency, Window.Calendar(kind, new DateOnly(2022, 1, 1), new DateOnly(2024, 1, 1)));
            int fxRows = 0;
            foreach (var w in windows)
                foreach (var b in w.Bridge)
                {
                    Assert.Equal(b.ClosingMrr, b.OpeningMrr + b.New + b.Expansion - b.Contraction - b.Churn + b.Reactivation + b.TransferIn - b.TransferOut + b.FxImpact);
                    if (b.FxImpact != 0) fxRows++;
                }
            Assert.True(fxRows > 0, "rates moved, so some rows carry an fx impact");
            for (int i = 1; i < windows.Count; i++)
            {
                var closing = windows[i - 1].Bridge.ToDictionary(b => b.Owner, b => b.ClosingMrr);
                var opening = windows[i].Bridge.ToDictionary(b => b.Owner, b => b.OpeningMrr);
                foreach (var owner in closing.Keys.Union(opening.Keys))
                    Assert.Equal(closing.GetValueOrDefault(owner), opening.GetValueOrDefault(owner));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_cohort_row_balances_at_the_opening_rate(int seed, string currency)
    {
        foreach (var w in Book(seed).ReportIn(currency, Window.Calendar(WindowKind.Quarter, new DateOnly(2022, 1, 1), new DateOnly(2024, 1, 1))))
            foreach (var n in w.Nrr)
                Assert.Equal(n.ClosingMrr, n.OpeningMrr + n.Expansion - n.Contraction - n.Churn + n.Reactivation);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Nrr_does_not_move_when_every_rate_after_the_window_s_first_day_moves_by_one_factor(int seed, string currency)
    {
        var book = Book(seed);
        foreach (var window in Window.Calendar(WindowKind.Quarter, new DateOnly(2022, 4, 1), new DateOnly(2024, 1, 1)))
        {
            var moved = new FxRateTable(book.Rates.All.Select(r => r.EffectiveDate > window.From ? r with { Rate = r.Rate * 1.25m } : r));
            var before = book.ReportIn(currency, window);
            var after = Conversion.ToCurrency(book.Report(window), currency, moved, book.Position);
            Assert.Equal(before.Nrr, after.Nrr);
            // The bridge does see it (its closing is at the closing rate), so the rates did move.
            Assert.NotEqual(before.Bridge.Single(b => b.Owner.IsAll).ClosingMrr, after.Bridge.Single(b => b.Owner.IsAll).ClosingMrr);
        }
    }

    [Fact]
    public void A_one_currency_book_reports_the_same_numbers_in_its_currency_as_before_conversion()
    {
        var events = BookGenerator.Generate(new BookOptions(120, 4, new DateOnly(2022, 1, 1), 24, 7)).ToList();
        Assert.DoesNotContain(events, e => e is FxRateRecorded);
        var book = LedgerSnapshot.Fold(events);
        var snapshot = new LedgerSnapshot(events.Count, book);
        foreach (var w in Window.Calendar(WindowKind.Quarter, new DateOnly(2022, 1, 1), new DateOnly(2024, 1, 1)))
        {
            var native = snapshot.Report(w);
            var usd = snapshot.ReportIn("USD", w);
            Assert.Equal(native.Nrr.Select(n => n with { Currency = "" }), usd.Nrr.Select(n => n with { Currency = "" }));
            Assert.Equal(native.Bridge.Select(b => b with { Currency = "" }), usd.Bridge.Select(b => b with { Currency = "" }));
            Assert.Empty(usd.Rates!);
        }
    }
}
