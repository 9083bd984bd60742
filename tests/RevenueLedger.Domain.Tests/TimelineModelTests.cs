namespace RevenueLedger.Domain.Tests;

/// <summary>
/// The decider keeps each contract's timeline as shared nodes and checks the contract's latest event against running
/// totals. This compares it, over random histories with back-dated events, churns, currency mistakes and reversals,
/// with a plain model that re-checks every contract's whole sorted timeline from scratch for every event.
/// </summary>
public sealed class TimelineModelTests
{
    private sealed record Entry(string Id, string Contract, DateOnly Date, long Version, char Kind, decimal Amount, string Currency);

    /// <summary>Rules 1–4 of spec §2 over one contract's events in (effectiveDate, version) order: the first broken rule's code.</summary>
    private static string? Check(IEnumerable<Entry> contract)
    {
        decimal mrr = 0;
        string? currency = null;
        bool churned = false;
        int i = 0;
        foreach (var e in contract.OrderBy(e => e.Date).ThenBy(e => e.Version))
        {
            if (churned) return ErrorCodes.ContractChurned;
            if (i++ == 0 && e.Kind != 'S') return ErrorCodes.ContractNotStarted;
            switch (e.Kind)
            {
                case 'S' when i > 1: return ErrorCodes.ContractAlreadyStarted;
                case 'S': (mrr, currency) = (e.Amount, e.Currency); break;
                case 'E' when e.Currency != currency: return ErrorCodes.CurrencyMismatch;
                case 'E': mrr += e.Amount; break;
                case 'C' when e.Currency != currency: return ErrorCodes.CurrencyMismatch;
                case 'C':
                    mrr -= e.Amount;
                    if (mrr <= 0) return ErrorCodes.ContractionExceedsMrr;
                    break;
                case 'X': churned = true; break;
            }
        }
        return null;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void The_decider_refuses_exactly_what_a_full_recheck_of_the_timeline_refuses(int seed)
    {
        var random = new Random(seed);
        var start = new DateOnly(2024, 1, 1);
        var state = AccountState.Initial("acme");
        var active = new List<Entry>();           // the model: every active contract event
        var reversals = new HashSet<string>();
        var reversed = new HashSet<string>();
        var ids = new List<string>();
        long version = 0;
        int accepted = 0, refused = 0;
        for (int n = 0; n < 3000; n++)
        {
            string contract = "c" + random.Next(3);
            var date = start.AddDays(random.Next(400));
            string currency = random.Next(25) == 0 ? "EUR" : "USD";
            decimal amount = random.Next(1, 60);
            string id = "e" + n;
            LedgerEvent e = random.Next(12) switch
            {
                0 or 1 => new ContractStarted(id, "acme", contract, date, amount + 50, currency, Metadata.Empty),
                2 or 3 or 4 => new ContractExpanded(id, "acme", contract, date, amount, currency, null, Metadata.Empty),
                5 or 6 or 7 => new ContractContracted(id, "acme", contract, date, amount, currency, null, Metadata.Empty),
                8 => new ContractChurned(id, "acme", contract, date, null, Metadata.Empty),
                _ when ids.Count > 0 => new EventReversed(id, "acme", ids[random.Next(ids.Count)], null, Metadata.Empty),
                _ => new ContractChurned(id, "acme", contract, date, null, Metadata.Empty),
            };

            string? expected;
            Entry? added = null;
            switch (e)
            {
                case EventReversed r:
                    var target = active.Find(x => x.Id == r.TargetEventId);
                    expected = reversals.Contains(r.TargetEventId) ? ErrorCodes.ReversalOfReversal
                        : reversed.Contains(r.TargetEventId) ? ErrorCodes.AlreadyReversed
                        : target is null ? ErrorCodes.ReversalTargetNotFound
                        : Check(active.Where(x => x.Contract == target.Contract && x != target)) is null ? null : ErrorCodes.ReversalBreaksTimeline;
                    break;
                case ContractEvent c:
                    char kind = c switch { ContractStarted => 'S', ContractExpanded => 'E', ContractContracted => 'C', _ => 'X' };
                    decimal value = c switch { ContractStarted s => s.Mrr, ContractExpanded x => x.Amount, ContractContracted k => k.Amount, _ => 0 };
                    string cur = c switch { ContractStarted s => s.Currency, ContractExpanded x => x.Currency, ContractContracted k => k.Currency, _ => "" };
                    added = new Entry(c.EventId, c.ContractId, c.EffectiveDate, version + 1, kind, value, cur);
                    // Rule 5: a new contract takes the account's currency, that of its other active contracts.
                    expected = Check(active.Where(x => x.Contract == c.ContractId).Append(added))
                        ?? (kind == 'S' && active.Any(x => x.Kind == 'S' && x.Contract != c.ContractId && x.Currency != cur) ? ErrorCodes.AccountCurrencyMismatch : null);
                    break;
                default:
                    throw new InvalidOperationException();
            }

            var decision = AccountDecider.Decide(new SubmitEvent(e, null), state);
            if (expected is null)
            {
                var accept = Assert.IsType<Decision.Accept>(decision);
                state = AccountDecider.Evolve(state, accept.Event);
                version++;
                accepted++;
                ids.Add(e.EventId);
                if (added is not null) active.Add(added);
                if (e is EventReversed rev)
                {
                    reversals.Add(rev.EventId);
                    reversed.Add(rev.TargetEventId);
                    active.RemoveAll(x => x.Id == rev.TargetEventId);
                }
            }
            else
            {
                var refusal = Assert.IsType<Decision.Refuse>(decision);
                Assert.Equal(expected, refusal.Error.Code);
                refused++;
            }
        }
        // Both kinds of outcome happened often enough for the comparison to mean something.
        Assert.True(accepted > 300 && refused > 300, $"accepted {accepted}, refused {refused}");
    }

    [Fact]
    public void A_stored_timeline_that_breaks_the_rules_is_still_folded_and_later_events_are_checked_against_all_of_it()
    {
        // Events are facts: a history this ledger would have refused (an expansion before the start) still folds,
        // and every later decision on that contract sees the whole timeline, as a full re-check would.
        var state = AccountDecider.Fold("acme", [
            Ev.Expanded("c1", "2024-01-01", 10), Ev.Started("c1", "2024-02-01", 100), Ev.Expanded("c1", "2024-03-01", 5),
            Ev.Expanded("c1", "2024-04-01", 5)]);
        var later = AccountDecider.Decide(new SubmitEvent(Ev.Expanded("c1", "2024-05-01", 5), null), state);
        Assert.Equal(ErrorCodes.ContractNotStarted, Assert.IsType<Decision.Refuse>(later).Error.Code);
        var backDated = AccountDecider.Decide(new SubmitEvent(Ev.Expanded("c1", "2024-01-15", 5), null), state);
        Assert.Equal(ErrorCodes.ContractNotStarted, Assert.IsType<Decision.Refuse>(backDated).Error.Code);
        Assert.IsType<Decision.Accept>(AccountDecider.Decide(new SubmitEvent(Ev.Started("c2", "2024-05-01", 50), null), state));
    }
}
