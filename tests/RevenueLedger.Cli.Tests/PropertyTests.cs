using RevenueLedger.Tests;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Sqlite;

namespace RevenueLedger.Cli.Tests;

/// <summary>Invariants of spec §6–8 on generated books, several seeds.</summary>
public sealed class PropertyTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly DateOnly Start = new(2022, 1, 1);

    private static List<string> Book(int seed) =>
        BookGenerator.Generate(new BookOptions(Accounts: 250, Owners: 7, Start, Months: 30, seed, Intensity: 2.5)).Select(WireFormat.ToWireJson).ToList();

    private async Task<(LedgerSnapshot Snapshot, List<SubmissionResult> Outcomes)> ImportAsync(string name, IEnumerable<string> lines)
    {
        await using var store = await SqliteEventStore.OpenAsync(_dir.File(name + ".db"));
        var outcomes = new List<SubmissionResult>();
        await Importer.ImportAsync(new Ledger(store), lines, (_, r) => outcomes.Add(r));
        return (await LedgerSnapshot.LoadAsync(store), outcomes);
    }

    private static IEnumerable<Window> AllWindows() =>
        new[] { WindowKind.Month, WindowKind.Quarter, WindowKind.Year }.SelectMany(k => Window.Calendar(k, Start.AddMonths(-12), Start.AddMonths(36)))
            .Append(new Window(new DateOnly(2022, 2, 17), new DateOnly(2023, 8, 3)));

    public static TheoryData<int> Seeds => [11, 23, 37, 51];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Generated_books_are_accepted_whole_and_exercise_every_kind_of_event(int seed)
    {
        var lines = Book(seed);
        var (snapshot, outcomes) = await ImportAsync("book", lines);
        Assert.All(outcomes, o => Assert.Equal(Outcome.Accepted, o.Outcome));
        var kinds = lines.Select(l => l[9..l.IndexOf('"', 9)]).ToHashSet();
        Assert.Equal(["ContractChurned", "ContractContracted", "ContractExpanded", "ContractStarted", "EventReversed", "OwnerAssigned"], kinds.Order());
        var movements = snapshot.Accounts.SelectMany(a => a.Movements).Select(m => m.Kind).ToHashSet();
        Assert.Equal(Enum.GetValues<MovementKind>().ToHashSet(), movements);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Bridge_and_nrr_identities_hold_for_every_owner_and_window(int seed)
    {
        var (snapshot, _) = await ImportAsync("book", Book(seed));
        foreach (var window in AllWindows())
        {
            var r = snapshot.Report(window);
            foreach (var b in r.Bridge)
            {
                Assert.Equal(b.ClosingMrr, b.OpeningMrr + b.New + b.Expansion - b.Contraction - b.Churn + b.Reactivation + b.TransferIn - b.TransferOut);
                if (b.Owner.IsAll) Assert.Equal((0m, 0m), (b.TransferIn, b.TransferOut));
            }
            foreach (var n in r.Nrr)
            {
                Assert.Equal(n.ClosingMrr, n.OpeningMrr + n.Expansion - n.Contraction - n.Churn + n.Reactivation);
                Assert.InRange(n.AccountsRetained, 0, n.AccountsOpening);
                Assert.True(n.Grr <= 1m);
            }
            // Owner rows add up to the company row; transfers cancel out.
            var owners = r.Bridge.Where(b => !b.Owner.IsAll).ToList();
            var all = r.Bridge.SingleOrDefault(b => b.Owner.IsAll);
            Assert.Equal(all?.OpeningMrr ?? 0, owners.Sum(b => b.OpeningMrr));
            Assert.Equal(all?.ClosingMrr ?? 0, owners.Sum(b => b.ClosingMrr));
            Assert.Equal(all?.New ?? 0, owners.Sum(b => b.New));
            Assert.Equal(all?.Churn ?? 0, owners.Sum(b => b.Churn));
            Assert.Equal(owners.Sum(b => b.TransferIn), owners.Sum(b => b.TransferOut));
            var cohort = r.Nrr.SingleOrDefault(n => n.Owner.IsAll);
            Assert.Equal(all?.OpeningMrr ?? 0, cohort?.OpeningMrr ?? 0);
            Assert.Equal(r.Nrr.Where(n => !n.Owner.IsAll).Sum(n => n.ClosingMrr), cohort?.ClosingMrr ?? 0);
            Assert.Equal(r.ChurnReasons.Sum(c => c.MrrLost), all?.Churn ?? 0);
            Assert.Equal(r.ChurnReasons.Sum(c => c.Accounts), all?.AccountsChurned ?? 0);
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Consecutive_windows_chain(int seed)
    {
        var (snapshot, _) = await ImportAsync("book", Book(seed));
        foreach (var kind in new[] { WindowKind.Month, WindowKind.Quarter })
        {
            var reports = Window.Calendar(kind, Start, Start.AddMonths(30)).Select(w => snapshot.Report(w)).ToList();
            for (int i = 0; i + 1 < reports.Count; i++)
            {
                var closing = reports[i].Bridge.ToDictionary(b => b.Owner, b => b.ClosingMrr);
                var opening = reports[i + 1].Bridge.ToDictionary(b => b.Owner, b => b.OpeningMrr);
                foreach (var owner in closing.Keys.Union(opening.Keys))
                    Assert.Equal(closing.GetValueOrDefault(owner), opening.GetValueOrDefault(owner));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task A_reversed_event_counts_as_if_it_had_never_been_recorded(int seed)
    {
        var lines = Book(seed);
        var parsed = lines.Select(l => WireFormat.Parse(l, () => throw new InvalidOperationException()).Event!).ToList();
        var reversedIds = parsed.OfType<EventReversed>().Select(r => r.TargetEventId).ToHashSet();
        Assert.NotEmpty(reversedIds);
        var neverRecorded = lines.Where((_, i) => parsed[i] is not EventReversed && !reversedIds.Contains(parsed[i].EventId)).ToList();

        var (withReversals, _) = await ImportAsync("with", lines);
        var (without, _) = await ImportAsync("without", neverRecorded);
        foreach (var window in AllWindows())
            Assert.Equal(Json(withReversals, window), Json(without, window));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task As_of_a_position_equals_importing_only_what_was_stored_up_to_it(int seed)
    {
        var lines = Book(seed);
        var (full, outcomes) = await ImportAsync("full", lines);
        await using var store = await SqliteEventStore.OpenAsync(_dir.File("full.db"));
        foreach (var fraction in new[] { 0.2, 0.5, 0.85 })
        {
            long p = (long)(full.Position * fraction);
            var past = await LedgerSnapshot.LoadAsync(store, p);
            var prefix = lines.Where((_, i) => outcomes[i].Position <= p).ToList();
            var (replayed, _) = await ImportAsync($"prefix-{p}", prefix);
            Assert.Equal(p, replayed.Position);
            foreach (var window in AllWindows())
                Assert.Equal(ReportFormats.ToJson(p, [past.Report(window)]), ReportFormats.ToJson(replayed.Position, [replayed.Report(window)]));
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task The_fast_replay_equals_folding_parsed_events(int seed)
    {
        var (fast, _) = await ImportAsync("book", Book(seed));
        await using var store = await SqliteEventStore.OpenAsync(_dir.File("book.db"));
        var events = new List<LedgerEvent>();
        await foreach (var e in store.ReadAllAsync()) events.Add(e.Event);
        Assert.Contains(events, e => e.Metadata.Count > 0);
        var slow = new LedgerSnapshot(fast.Position, LedgerSnapshot.Fold(events));
        foreach (var window in AllWindows())
            Assert.Equal(Json(slow, window), Json(fast, window));
    }

    private static string Json(LedgerSnapshot s, Window w) => ReportFormats.ToJson(0, [s.Report(w)]);
}
