namespace DistilBert.Server.Tests;

/// <summary>The batcher on its own, with a runner that records the batches it is given.</summary>
public sealed class DynamicBatcherTests
{
    sealed class Recorder
    {
        public readonly List<string[]> Batches = [];
        public readonly ManualResetEventSlim Gate = new(true);

        public IReadOnlyList<string> Run(object? group, IReadOnlyList<string> inputs)
        {
            Gate.Wait(TimeSpan.FromSeconds(10));
            lock (Batches) Batches.Add(inputs.ToArray());
            if (inputs.Contains("bad")) throw new InvalidInputException("input 'bad' is bad");
            return inputs.Select(i => $"{group}:{i}").ToArray();
        }
    }

    static DynamicBatcher<string, string> Batcher(Recorder recorder, int budget = 1000) =>
        new(recorder.Run, capacity: 100, maxBatchTokens: budget, maxWait: TimeSpan.FromMilliseconds(2));

    [Fact]
    public async Task RequestsWaitingWhileABatchRuns_AreRunTogetherInTheNextBatch_EachGettingItsOwnRows()
    {
        var recorder = new Recorder();
        var batcher = Batcher(recorder);
        recorder.Gate.Reset();
        var first = batcher.Enqueue(["a"], 1, null, default);
        await Task.Delay(100); // the loop takes "a" at once (nobody else is coming) and blocks in the runner
        var waiting = Enumerable.Range(0, 5).Select(i => batcher.Enqueue([$"x{i}", $"y{i}"], 2, null, default)).ToArray();
        recorder.Gate.Set();
        Assert.Equal([":a"], await first.Done.Task);
        for (int i = 0; i < 5; i++) Assert.Equal([$":x{i}", $":y{i}"], await waiting[i].Done.Task);
        Assert.Equal(2, recorder.Batches.Count);
        Assert.Equal(10, recorder.Batches[1].Length); // all five requests in one batch
        await batcher.StopAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task MaxBatchRequestsOne_RunsEachWaitingRequestInAPassOfItsOwn_InArrivalOrder()
    {
        var recorder = new Recorder();
        var batcher = new DynamicBatcher<string, string>(recorder.Run, capacity: 100, maxBatchTokens: 1000,
            maxWait: TimeSpan.FromMilliseconds(2), maxBatchRequests: 1);
        recorder.Gate.Reset();
        var blocker = batcher.Enqueue(["first"], 1, null, default);
        await Task.Delay(100);
        // Five requests of two inputs wait together: batching would run them as one pass of ten inputs.
        var waiting = Enumerable.Range(0, 5).Select(i => batcher.Enqueue([$"x{i}", $"y{i}"], 2, null, default)).ToArray();
        recorder.Gate.Set();
        await blocker.Done.Task;
        for (int i = 0; i < 5; i++) Assert.Equal([$":x{i}", $":y{i}"], await waiting[i].Done.Task);
        Assert.Equal(6, recorder.Batches.Count);
        for (int i = 0; i < 5; i++) Assert.Equal([$"x{i}", $"y{i}"], recorder.Batches[i + 1]);
        await batcher.StopAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task TokenBudget_SplitsBatches_AndOptionGroupsRunApart()
    {
        var recorder = new Recorder();
        var batcher = Batcher(recorder, budget: 10);
        recorder.Gate.Reset();
        var blocker = batcher.Enqueue(["first"], 1, null, default);
        await Task.Delay(100);
        var jobs = Enumerable.Range(0, 6).Select(i => batcher.Enqueue([$"t{i}"], 4, i % 2 == 0 ? "even" : "odd", default)).ToArray();
        recorder.Gate.Set();
        await blocker.Done.Task;
        for (int i = 0; i < 6; i++) Assert.Equal([$"{(i % 2 == 0 ? "even" : "odd")}:t{i}"], await jobs[i].Done.Task);
        // 6 requests of 4 tokens under a budget of 10: at most two per batch; each batch split by option group.
        var after = recorder.Batches.Skip(1).ToList();
        Assert.Equal(6, after.Sum(b => b.Length));
        Assert.All(after, b => Assert.True(b.Length == 1, $"a forward pass mixed {b.Length} inputs of different groups"));
        await batcher.StopAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task WorkOfAClientThatLeft_IsDroppedBeforeItRuns()
    {
        var recorder = new Recorder();
        var batcher = Batcher(recorder);
        recorder.Gate.Reset();
        var blocker = batcher.Enqueue(["first"], 1, null, default);
        await Task.Delay(100);
        using var gone = new CancellationTokenSource();
        var abandoned = batcher.Enqueue(["abandoned"], 1, null, gone.Token);
        var kept = batcher.Enqueue(["kept"], 1, null, default);
        gone.Cancel();
        recorder.Gate.Set();
        await blocker.Done.Task;
        Assert.Equal([":kept"], await kept.Done.Task);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned.Done.Task);
        Assert.DoesNotContain(recorder.Batches, b => b.Contains("abandoned"));
        await batcher.StopAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ABadInput_FailsOnlyItsOwnRequest()
    {
        var recorder = new Recorder();
        var batcher = Batcher(recorder);
        recorder.Gate.Reset();
        var blocker = batcher.Enqueue(["first"], 1, null, default);
        await Task.Delay(100);
        var good = batcher.Enqueue(["good"], 1, null, default);
        var bad = batcher.Enqueue(["bad"], 1, null, default);
        var alsoGood = batcher.Enqueue(["fine"], 1, null, default);
        recorder.Gate.Set();
        await blocker.Done.Task;
        Assert.Equal([":good"], await good.Done.Task);
        Assert.Equal([":fine"], await alsoGood.Done.Task);
        Assert.Contains("'bad' is bad", (await Assert.ThrowsAsync<InvalidInputException>(() => bad.Done.Task)).Message);
        await batcher.StopAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Stop_RunsWhatIsQueued_ThenRefusesNewWork()
    {
        var recorder = new Recorder();
        var batcher = Batcher(recorder);
        recorder.Gate.Reset();
        var blocker = batcher.Enqueue(["first"], 1, null, default);
        await Task.Delay(100);
        var queued = batcher.Enqueue(["queued"], 1, null, default);
        var stopping = batcher.StopAsync(TimeSpan.FromSeconds(5));
        Assert.Throws<QueueFullException>(() => batcher.Enqueue(["late"], 1, null, default));
        recorder.Gate.Set();
        await stopping;
        Assert.Equal([":queued"], await queued.Done.Task);
        await blocker.Done.Task;
    }
}
