using RevenueLedger.Application;
using RevenueLedger.Application.Projections;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.EventStore;

namespace RevenueLedger.Projector.Tests;

/// <summary>The projection engine alone: folding in any steps gives what a full replay gives.</summary>
public class ProjectionTests
{
    private static List<PositionedEvent> Book(int seed) =>
        BookGenerator.Generate(new BookOptions(Accounts: 600, Owners: 6, Start: new DateOnly(2022, 1, 1), Months: 30, seed, Intensity: 2.5))
            .Select((e, i) => new PositionedEvent(i + 1, e)).ToList();

    private static string Json(WindowReport r) => ReportFormats.ToJson(0, [r]);

    [Theory]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(29)]
    public void Folding_in_random_steps_equals_replaying_everything(int seed)
    {
        var events = Book(seed);
        var rng = new Random(seed);
        var projection = new Projection();
        var reported = new Dictionary<WindowKey, WindowReport>();
        // 600 accounts: a catch-up step sums them on every core and merges (with 2+ cores), the others take out and put back.
        for (int i = 0; i < events.Count;)
        {
            int n = rng.Next(1, rng.NextDouble() < 0.2 ? 2_000 : 40);
            var changes = projection.Apply(events.Skip(i).Take(n).ToList());
            foreach (var (key, report) in changes.Windows) reported[key] = report;
            i += n;
        }
        var replay = new LedgerSnapshot(events.Count, LedgerSnapshot.Fold(events.Select(e => e.Event).ToList()));
        Assert.NotEmpty(reported);
        foreach (var (key, report) in reported)
            Assert.Equal(Json(replay.Report(key.Window)), Json(report));
        // Every calendar window the book spans was reported.
        Assert.Contains(reported.Keys, k => k.Kind == WindowKind.Year);
        Assert.Equal(replay.Accounts.Count, projection.AccountCount);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(41)]
    public void Folding_stored_bytes_equals_folding_parsed_events(int seed)
    {
        var events = Book(seed);
        var fromEvents = new Projection();
        fromEvents.Apply(events);
        var fromBytes = new Projection();
        foreach (var chunk in events.Chunk(700))
        {
            var batch = new RawEventBatch();
            foreach (var (position, e) in chunk)
                batch.Add(position, System.Text.Encoding.UTF8.GetBytes(e.StoredType), System.Text.Encoding.UTF8.GetBytes(WireFormat.ToCanonicalJson(e)));
            fromBytes.Add(batch);
        }
        var a = fromEvents.Everything();
        var b = fromBytes.Flush();
        Assert.Equal(a.Position, b.Position);
        Assert.Equal(a.Windows.Select(w => (w.Key, Json(w.Report))), b.Windows.OrderBy(w => w.Key.Kind).ThenBy(w => w.Key.From).Select(w => (w.Key, Json(w.Report))));
        // Histories answer any range alike (amounts may differ only in trailing zeros: 574.40 from the generator, 574.4 stored).
        var (ha, hb) = (new LedgerSnapshot(a.Position, a.Accounts.OrderBy(h => h.AccountId).ToList()), new LedgerSnapshot(b.Position, b.Accounts.OrderBy(h => h.AccountId).ToList()));
        foreach (var w in new[] { new Window(new DateOnly(2022, 2, 17), new DateOnly(2023, 8, 3)), new Window(new DateOnly(2023, 11, 30), new DateOnly(2024, 6, 1)) })
            Assert.Equal(Json(ha.Report(w)), Json(hb.Report(w)));
        Assert.Contains(events, e => e.Event is EventReversed);
        Assert.Contains(events, e => e.Event.Metadata.Count > 0);
    }

    [Fact]
    public void A_late_event_changes_exactly_the_windows_that_end_after_it()
    {
        LedgerEvent[] history =
        [
            new OwnerAssigned("o", "a", "ana", new DateOnly(2023, 1, 1), Metadata.Empty),
            new ContractStarted("s", "a", "c", new DateOnly(2023, 1, 10), 100, "USD", Metadata.Empty),
            new ContractExpanded("x", "a", "c", new DateOnly(2024, 6, 1), 10, "USD", null, Metadata.Empty),
        ];
        // Other accounts, so that one late event is a small change rather than a catch-up.
        var others = Enumerable.Range(0, 9).Select(i => (LedgerEvent)new ContractStarted($"s{i}", $"b{i}", "c", new DateOnly(2023, 2, 1), 50, "USD", Metadata.Empty));
        var projection = new Projection();
        var all = history.Concat(others).ToList();
        projection.Apply(all.Select((e, i) => new PositionedEvent(i + 1, e)).ToList());
        var late = new ContractExpanded("late", "a", "c", new DateOnly(2024, 3, 5), 5, "USD", null, Metadata.Empty);
        var changes = projection.Apply([new PositionedEvent(all.Count + 1, late)]);
        Assert.All(changes.Windows, w => Assert.True(w.Key.To > late.EffectiveDate));
        Assert.Contains(changes.Windows, w => w.Key == new WindowKey(WindowKind.Month, new DateOnly(2024, 3, 1), new DateOnly(2024, 4, 1)));
        Assert.DoesNotContain(changes.Windows, w => w.Key.Kind == WindowKind.Month && w.Key.From < new DateOnly(2024, 3, 1));
        Assert.Equal(["a"], changes.Accounts.Select(a => a.AccountId));
    }

    [Fact]
    public void A_step_says_which_histories_replace_stored_ones_and_which_accounts_are_new()
    {
        var projection = new Projection();
        projection.Apply([new PositionedEvent(1, new ContractStarted("s", "a", "c", new DateOnly(2024, 1, 1), 100, "USD", Metadata.Empty))]);
        var changes = projection.Apply(
        [
            new PositionedEvent(2, new ContractStarted("t", "b", "c", new DateOnly(2024, 2, 1), 50, "USD", Metadata.Empty)),
            new PositionedEvent(3, new ContractExpanded("x", "a", "c", new DateOnly(2024, 3, 1), 10, "USD", null, Metadata.Empty)),
            new PositionedEvent(4, new ContractStarted("u", "d", "c", new DateOnly(2024, 2, 1), 70, "USD", Metadata.Empty)),
        ]);
        // A store removes the stored rows of the first `Replaced` accounts only.
        Assert.Equal(1, changes.Replaced);
        Assert.Equal("a", changes.Accounts[0].AccountId);
        Assert.Equal(["b", "d"], changes.Accounts.Skip(1).Select(h => h.AccountId).Order(StringComparer.Ordinal));
    }
    [Fact]
    public void Reversals_take_out_exactly_their_event_whatever_its_place_and_however_alike_the_ids()
    {
        // Ids that are prefixes of each other, of different lengths: the fold keeps an account's ids packed together.
        LedgerEvent[] events =
        [
            new ContractStarted("e1", "a", "c", new DateOnly(2024, 1, 1), 100, "USD", Metadata.Empty),
            new ContractExpanded("e10", "a", "c", new DateOnly(2024, 2, 1), 10, "USD", null, Metadata.Empty),
            new ContractExpanded("e100", "a", "c", new DateOnly(2024, 3, 1), 20, "USD", null, Metadata.Empty),
            new ContractContracted("e1000", "a", "c", new DateOnly(2024, 4, 1), 5, "USD", null, Metadata.Empty),
            new EventReversed("r1", "a", "e10", "typo", Metadata.Empty),
            new ContractExpanded("e2", "a", "c", new DateOnly(2024, 5, 1), 7, "USD", null, Metadata.Empty),
            new EventReversed("r2", "a", "e1000", "typo", Metadata.Empty),
            new EventReversed("r3", "a", "e2", "typo", Metadata.Empty),
        ];
        var positioned = events.Select((e, i) => new PositionedEvent(i + 1, e)).ToList();
        var fromBytes = new Projection();
        var batch = new RawEventBatch();
        foreach (var (position, e) in positioned)
            batch.Add(position, System.Text.Encoding.UTF8.GetBytes(e.StoredType), System.Text.Encoding.UTF8.GetBytes(WireFormat.ToCanonicalJson(e)));
        fromBytes.Add(batch);
        var fromEvents = new Projection();
        fromEvents.Add(positioned);

        // What is left: started 100 on 1 January, +20 on 1 March.
        var expected = AccountHistory.Build("a", [events[0], events[2]]);
        foreach (var changes in new[] { fromBytes.Flush(), fromEvents.Flush() })
        {
            var history = Assert.Single(changes.Accounts);
            Assert.Equal(expected.Movements, history.Movements);
            Assert.Equal(120m, history.MrrAt(new DateOnly(2024, 6, 1)));
        }
    }
}
