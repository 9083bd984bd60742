using System.Globalization;
using CsCheck;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.EventStore;
using RevenueLedger.Sqlite;
using RevenueLedger.Tests;

namespace RevenueLedger.Cli.Tests;

/// <summary>
/// Generated sequences of submissions against a real store (CsCheck): valid events, rule breakers (contracting below
/// zero, events after a churn, a second currency), reversals of anything, resubmissions and altered resubmissions.
/// Whatever the mix: an accepted event takes the next position, a refused one changes nothing, a resubmission is a
/// duplicate at its first position, an altered one a conflict, and the chain verifies.
/// </summary>
public sealed class SubmissionProperties
{
    private static readonly Gen<string> Account = Gen.OneOf("a1", "a2", "a3");
    private static readonly Gen<string> Contract = Gen.OneOf("c1", "c2");
    private static readonly Gen<string> Day = Gen.Int[0, 400].Select(d => new DateOnly(2024, 1, 1).AddDays(d).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
    private static readonly Gen<int> Money = Gen.Int[1, 500];

    /// <summary>One submission's JSON; "again:N" resubmits the Nth earlier one, "alter:N" the Nth with another amount.</summary>
    private static readonly Gen<string> Op = Gen.Frequency(
        (4, from a in Account from c in Contract from d in Day from m in Money from cur in Gen.Frequency((9, Gen.Const("USD")), (1, Gen.Const("EUR")))
            select $$"""{"type":"ContractStarted","accountId":"{{a}}","contractId":"{{c}}","effectiveDate":"{{d}}","mrr":"{{m}}","currency":"{{cur}}"}"""),
        (4, from a in Account from c in Contract from d in Day from m in Money from t in Gen.OneOf("ContractExpanded", "ContractContracted")
            select $$"""{"type":"{{t}}","accountId":"{{a}}","contractId":"{{c}}","effectiveDate":"{{d}}","amount":"{{m}}","currency":"USD"}"""),
        (2, from a in Account from c in Contract from d in Day
            select $$"""{"type":"ContractChurned","accountId":"{{a}}","contractId":"{{c}}","effectiveDate":"{{d}}","reason":"cost"}"""),
        (1, from a in Account from d in Day select $$"""{"type":"OwnerAssigned","accountId":"{{a}}","ownerId":"ana","effectiveDate":"{{d}}"}"""),
        (1, from a in Account from v in Gen.Int[-5, 5] from d in Day select $$"""{"type":"SignalRecorded","accountId":"{{a}}","signal":"usage","value":"{{v}}","effectiveDate":"{{d}}"}"""),
        (2, from a in Account from n in Gen.Int[1, 40] select $$"""{"type":"EventReversed","accountId":"{{a}}","targetEventId":"p{{n}}"}"""),
        (2, Gen.Int[0, 40].Select(n => $"again:{n}")),
        (1, Gen.Int[0, 40].Select(n => $"alter:{n}")),
        (1, Gen.OneOf("""{"type":"ContractStarted","accountId":"a1"}""", """{"type":"Nope"}""", "{", """{"type":"OwnerAssigned","accountId":"a1","ownerId":null,"effectiveDate":"2024-01-01"}""")));

    [Fact]
    public void A_refused_submission_changes_nothing_and_a_resubmission_is_a_duplicate() =>
        Op.List[5, 40].Sample(ops => Run(ops).GetAwaiter().GetResult(), iter: 60);

    /// <summary>The same eventId with different content: a later day, or (reversals, which have none) another target.</summary>
    private static string Alter(string json) => json.Contains("\"targetEventId\"", StringComparison.Ordinal)
        ? json.Replace("\"targetEventId\":\"", "\"targetEventId\":\"x", StringComparison.Ordinal)
        : json.Replace("\"effectiveDate\":\"2024-", "\"effectiveDate\":\"2026-", StringComparison.Ordinal).Replace("\"effectiveDate\":\"2025-", "\"effectiveDate\":\"2027-", StringComparison.Ordinal);

    private static async Task Run(List<string> ops)
    {
        using var dir = new TempDir();
        await using var store = await SqliteEventStore.OpenAsync(Path.Combine(dir.Path, "p.db"));
        var ledger = new Ledger(store);
        var sent = new List<(string Json, SubmissionResult Result)>();
        for (int i = 0; i < ops.Count; i++)
        {
            string json = ops[i];
            Outcome? expected = null;
            long? expectedPosition = null;
            if (json.StartsWith("again:", StringComparison.Ordinal) || json.StartsWith("alter:", StringComparison.Ordinal))
            {
                int n = int.Parse(json[6..], CultureInfo.InvariantCulture);
                var earlier = sent.Where(s => s.Result.Outcome == Outcome.Accepted).ToList();
                if (earlier.Count == 0) continue;
                var (first, result) = earlier[n % earlier.Count];
                bool alter = json.StartsWith("alter:", StringComparison.Ordinal);
                // Sent with its eventId (every accepted one was): the same again, or with other content.
                json = alter ? Alter(first) : first;
                (expected, expectedPosition) = alter ? (Outcome.Conflict, null) : (Outcome.Duplicate, result.Position);
            }
            else if (!json.Contains("\"eventId\"", StringComparison.Ordinal) && json.StartsWith("{\"type\"", StringComparison.Ordinal) && json.EndsWith('}'))
            {
                json = json.Replace("{\"type\"", $"{{\"eventId\":\"p{i}\",\"type\"", StringComparison.Ordinal);
            }
            long before = (await store.GetHeadAsync()).Position;
            var outcome = (await ledger.SubmitEachAsync([WireFormat.Parse(json, () => $"g{i}")]))[0];
            long after = (await store.GetHeadAsync()).Position;
            if (expected is { } e) Assert.True(e == outcome.Outcome, $"{json}: {outcome.Outcome} {outcome.Error?.Message}, expected {e}");
            if (expectedPosition is { } p) Assert.Equal(p, outcome.Position);
            if (outcome.Outcome == Outcome.Accepted)
            {
                Assert.Equal(before + 1, after);
                Assert.Equal(after, outcome.Position);
            }
            else
            {
                Assert.True(before == after, $"{json} was {outcome.Outcome} yet the head moved {before} → {after}");
                if (outcome.Outcome is not Outcome.Duplicate) Assert.NotNull(outcome.Error);
            }
            sent.Add((json, outcome));
        }
        var verify = await HashChain.VerifyAsync(store);
        Assert.True(verify.IsIntact, verify.Problem);
        Assert.Equal(sent.Count(s => s.Result.Outcome == Outcome.Accepted), verify.VerifiedCount);
    }
}
