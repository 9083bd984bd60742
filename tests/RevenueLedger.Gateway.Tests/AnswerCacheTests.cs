using RevenueLedger.Gateway;

namespace RevenueLedger.Gateway.Tests;

/// <summary>The gateway's answer cache: one computation per stale report, however many requests ask at once.</summary>
public sealed class AnswerCacheTests
{
    private static Answer At(long position, string body) => new(1, position, System.Text.Encoding.UTF8.GetBytes(body), "application/json");

    [Fact]
    public async Task Concurrent_requests_for_a_stale_report_share_one_computation()
    {
        var cache = new AnswerCache();
        int computed = 0;
        var release = new TaskCompletionSource();
        var requests = Enumerable.Range(0, 16).Select(_ => Task.Run(() => cache.GetOrComputeAsync("r", (1, 5), async () =>
        {
            Interlocked.Increment(ref computed);
            await release.Task;
            return At(5, "five");
        }, CancellationToken.None))).ToList();
        await Task.Delay(100);
        release.SetResult();
        var answers = await Task.WhenAll(requests);
        Assert.Equal(1, computed);
        Assert.All(answers, a => Assert.Same(answers[0], a));

        // Moved on: the cached answer is stale, so it is computed once more.
        var next = await cache.GetOrComputeAsync("r", (1, 6), () => Task.FromResult(At(6, "six")), CancellationToken.None);
        Assert.Equal(6, next.Position);
        Assert.Same(next, await cache.GetOrComputeAsync("r", (1, 6), () => throw new InvalidOperationException("not again"), CancellationToken.None));
    }

    /// <summary>A first request whose computation throws <paramref name="failure"/> while a second one waits for it.</summary>
    private static async Task<(Task<Answer> First, Task<Answer> Second, Func<int> ComputedBySecond)> FailingWhileOneWaitsAsync(Exception failure)
    {
        var cache = new AnswerCache();
        var started = new TaskCompletionSource();
        var fail = new TaskCompletionSource();
        var first = cache.GetOrComputeAsync("r", (1, 5), async () =>
        {
            started.SetResult();
            await fail.Task;
            throw failure;
        }, CancellationToken.None);
        await started.Task;
        int computedBySecond = 0;
        var second = cache.GetOrComputeAsync("r", (1, 5), () =>
        {
            Interlocked.Increment(ref computedBySecond);
            return Task.FromResult(At(5, "five"));
        }, CancellationToken.None);
        fail.SetResult();
        return (first, second, () => computedBySecond);
    }

    [Fact]
    public async Task When_the_computing_request_is_cancelled_the_waiting_ones_compute_it_themselves()
    {
        var (first, second, computedBySecond) = await FailingWhileOneWaitsAsync(new OperationCanceledException("the first caller went away"));
        await Assert.ThrowsAsync<OperationCanceledException>(() => first);
        Assert.Equal(5, (await second).Position);
        Assert.Equal(1, computedBySecond());
    }

    [Fact]
    public async Task Any_other_failure_of_the_computation_reaches_the_waiting_requests_without_their_computing_again()
    {
        var (first, second, computedBySecond) = await FailingWhileOneWaitsAsync(new InvalidOperationException("the read models are away"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => first);
        Assert.Equal("the read models are away", (await Assert.ThrowsAsync<InvalidOperationException>(() => second)).Message);
        Assert.Equal(0, computedBySecond());
    }
}
