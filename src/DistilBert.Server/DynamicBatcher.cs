using System.Diagnostics;
using System.Threading.Channels;

namespace DistilBert.Server;

/// <summary>The queue is full or shutting down: the request is refused with 429 / 503 rather than queued.</summary>
internal sealed class QueueFullException(string message) : Exception(message);

/// <summary>
/// Dynamic batching for one model: requests wait in a bounded queue and a single loop packs the waiting ones into one
/// ragged batch under a token budget, runs it, and hands each caller its own rows. No padding is added anywhere: the
/// engine runs each sequence at its own length, so packing requests of different lengths costs nothing extra.
/// <para>The loop takes whatever is queued at once; it waits up to <c>maxWait</c> for more only while other requests
/// have been admitted and are still being read or tokenised (<see cref="Announce"/>), so a lone request never waits.
/// Work of a client that has gone away is dropped before it runs. Requests with different options (a different
/// top_k, aggregation...) share the queue; each option group of a batch is one forward pass.</para>
/// </summary>
internal sealed class DynamicBatcher<TInput, TOutput>
{
    /// <summary>One request: its inputs, their token count, the options they run with, and where the answer goes.</summary>
    internal sealed class Job(TInput[] inputs, int tokens, object? group, CancellationToken aborted)
    {
        public TInput[] Inputs { get; } = inputs;
        public int Tokens { get; } = tokens;
        public object? Group { get; } = group;
        public CancellationToken Aborted { get; } = aborted;
        public long EnqueuedAt { get; } = Stopwatch.GetTimestamp();
        public TimeSpan QueueTime { get; set; }
        public TimeSpan ComputeTime { get; set; }
        public TaskCompletionSource<TOutput[]> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Runs the inputs of one option group as one batch; results in input order.</summary>
    public delegate IReadOnlyList<TOutput> RunBatch(object? group, IReadOnlyList<TInput> inputs);

    readonly Channel<Job> _queue;
    readonly RunBatch _run;
    readonly int _maxBatchTokens;
    readonly int _maxBatchRequests;
    readonly TimeSpan _maxWait;
    readonly Action<int, int>? _onBatch;
    readonly Task _loop;
    int _incoming;

    public DynamicBatcher(RunBatch run, int capacity, int maxBatchTokens, TimeSpan maxWait, Action<int, int>? onBatch = null,
        int maxBatchRequests = int.MaxValue)
    {
        _run = run;
        _maxBatchTokens = maxBatchTokens;
        _maxBatchRequests = maxBatchRequests;
        _maxWait = maxWait;
        _onBatch = onBatch;
        _queue = Channel.CreateBounded<Job>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Requests waiting in the queue.</summary>
    public int QueueDepth => _queue.Reader.Count;

    /// <summary>A request has been admitted and will be enqueued soon: the loop may wait a little for it. Dispose when
    /// it is enqueued or given up.</summary>
    public IDisposable Announce()
    {
        Interlocked.Increment(ref _incoming);
        return new Announcement(this);
    }

    sealed class Announcement(DynamicBatcher<TInput, TOutput> owner) : IDisposable
    {
        int _disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) Interlocked.Decrement(ref owner._incoming);
        }
    }

    /// <summary>Queues a request; the task completes with one output per input, in order.</summary>
    /// <exception cref="QueueFullException">the queue is full or the batcher is stopping.</exception>
    public Job Enqueue(TInput[] inputs, int tokens, object? group, CancellationToken aborted)
    {
        var job = new Job(inputs, tokens, group, aborted);
        if (!_queue.Writer.TryWrite(job)) throw new QueueFullException("the model's queue is full or the server is shutting down");
        return job;
    }

    /// <summary>Stops taking work, runs what is queued for at most <paramref name="timeout"/>, then cancels the rest.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _queue.Writer.TryComplete();
        if (await Task.WhenAny(_loop, Task.Delay(timeout)) == _loop) return;
        while (_queue.Reader.TryRead(out var left)) left.Done.TrySetException(new QueueFullException("the server is shutting down"));
    }

    async Task LoopAsync()
    {
        var batch = new List<Job>();
        Job? carried = null;
        while (carried is not null || await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            int tokens = 0;
            if (carried is not null) { batch.Add(carried); tokens = carried.Tokens; carried = null; }
            long deadline = Stopwatch.GetTimestamp() + (long)(_maxWait.TotalSeconds * Stopwatch.Frequency);
            while (tokens < _maxBatchTokens && batch.Count < _maxBatchRequests)
            {
                if (_queue.Reader.TryRead(out var next))
                {
                    if (next.Aborted.IsCancellationRequested) { next.Done.TrySetCanceled(next.Aborted); continue; }
                    if (batch.Count > 0 && tokens + next.Tokens > _maxBatchTokens) { carried = next; break; }
                    batch.Add(next);
                    tokens += next.Tokens;
                    continue;
                }
                if (batch.Count > 0 && Volatile.Read(ref _incoming) == 0) break;
                long remaining = deadline - Stopwatch.GetTimestamp();
                if (batch.Count > 0 && remaining <= 0) break;
                if (batch.Count == 0)
                {
                    // Everything taken so far was cancelled: wait for new work as at the top of the loop.
                    if (!await _queue.Reader.WaitToReadAsync().ConfigureAwait(false)) break;
                    continue;
                }
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency));
                try
                {
                    if (!await _queue.Reader.WaitToReadAsync(wait.Token).ConfigureAwait(false)) break;
                }
                catch (OperationCanceledException) { break; }
            }
            if (batch.Count > 0) Run(batch, tokens);
        }
    }

    void Run(List<Job> batch, int tokens)
    {
        long started = Stopwatch.GetTimestamp();
        foreach (var job in batch) job.QueueTime = Stopwatch.GetElapsedTime(job.EnqueuedAt, started);
        _onBatch?.Invoke(batch.Sum(j => j.Inputs.Length), tokens);
        // Option groups in order of first appearance; each is one forward pass over all its requests' inputs.
        foreach (var group in batch.GroupBy(j => j.Group))
        {
            var jobs = group.ToList();
            try { Deliver(jobs, _run(group.Key, jobs.SelectMany(j => j.Inputs).ToList()), started); }
            catch (Exception) when (jobs.Count > 1)
            {
                // One bad input must not fail its neighbours: run each request alone so the error reaches only its owner.
                foreach (var job in jobs)
                {
                    try { Deliver([job], _run(group.Key, job.Inputs), started); }
                    catch (Exception e) { job.Done.TrySetException(e); }
                }
            }
            catch (Exception e) { jobs[0].Done.TrySetException(e); }
        }
    }

    static void Deliver(List<Job> jobs, IReadOnlyList<TOutput> outputs, long started)
    {
        var compute = Stopwatch.GetElapsedTime(started);
        int total = jobs.Sum(j => j.Inputs.Length);
        if (outputs.Count != total) throw new InvalidOperationException($"a batch of {total} inputs gave {outputs.Count} results");
        int at = 0;
        foreach (var job in jobs)
        {
            job.ComputeTime = compute;
            var mine = new TOutput[job.Inputs.Length];
            for (int i = 0; i < mine.Length; i++) mine[i] = outputs[at++];
            job.Done.TrySetResult(mine);
        }
    }
}
