namespace DistilBert.Compute;

/// <summary>
/// One parallel loop body: <see cref="Execute"/> runs once for every index in [0, count). Kernels keep one instance per
/// calling thread and refill its fields before each call, so dispatching allocates nothing.
/// </summary>
public abstract class ParallelWork
{
    public abstract void Execute(int index);
}

/// <summary>
/// The fixed worker pool every kernel parallelises through. <see cref="Count"/> threads take part in a loop: the calling
/// thread plus Count − 1 background workers. Idle workers park on a semaphore (after a very short spin) instead of
/// spinning: on a shared 2-core machine a spinning pool collapses when another process takes a core
/// (shared/bench/RESULTS.md §5.1). Indices are handed out one at a time from a shared counter, so a worker that lost
/// its core simply takes fewer of them. Calls made from inside a worker, or while another thread holds the pool, run
/// inline on the calling thread.
/// </summary>
public static class ComputeThreads
{
    static readonly object DispatchLock = new();
    static Pool? _pool;
    static int _count = Math.Max(1, Environment.ProcessorCount);

    [ThreadStatic] static bool _insideLoop;

    /// <summary>Tests only: runs after every index a pool thread finishes, where a stalled worker once broke the loop's
    /// completion (a stress test sleeps here to play a preempted vCPU).</summary>
    internal static Action? AfterIndexForTests;

    /// <summary>Threads a parallel kernel uses (default: the processor count). Setting it replaces the worker pool.</summary>
    public static int Count
    {
        get => _count;
        set
        {
            if (value < 1 || value > 256)
                throw new InvalidInputException($"thread count must be between 1 and 256, got {value}");
            lock (DispatchLock)
            {
                if (value == _count) return;
                _pool?.Stop();
                _pool = null;
                _count = value;
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> for every index in [0, count), in any order, on up to <see cref="Count"/>
    /// threads; returns when all are done. An exception in any index is rethrown here (the first one).</summary>
    public static void For(int count, ParallelWork work)
    {
        if (count <= 0) return;
        if (count == 1 || _count == 1 || _insideLoop || !Monitor.TryEnter(DispatchLock))
        {
            RunInline(count, work);
            return;
        }
        try
        {
            _pool ??= new Pool(_count - 1);
            _insideLoop = true;
            _pool.Run(count, work);
        }
        finally
        {
            _insideLoop = false;
            Monitor.Exit(DispatchLock);
        }
    }

    static void RunInline(int count, ParallelWork work)
    {
        bool wasInside = _insideLoop;
        _insideLoop = true;
        try { for (int i = 0; i < count; i++) work.Execute(i); }
        finally { _insideLoop = wasInside; }
    }

    /// <summary>
    /// The caller never waits for a worker that has not started: indices are claimed from one 64-bit state
    /// (generation | next index) by compare-and-swap, and the caller waits only for claimed indices to finish. Under
    /// load a parked worker can take a whole scheduler slice to wake; by then the caller may have done every index
    /// itself and moved on, and the late worker's claim fails against the new generation instead of waiting.
    /// </summary>
    sealed class Pool
    {
        const int Closed = int.MaxValue;
        readonly Thread[] _workers;
        readonly SemaphoreSlim _wake = new(0);
        readonly ManualResetEventSlim _done = new(false, spinCount: 50);
        long _state = Closed;
        int _generation, _total, _remaining;
        ParallelWork? _work;
        volatile bool _stopping;
        Exception? _error;

        public Pool(int workers)
        {
            _workers = new Thread[workers];
            for (int i = 0; i < workers; i++)
            {
                _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"DistilBert compute {i + 1}" };
                _workers[i].Start();
            }
        }

        public void Run(int count, ParallelWork work)
        {
            // close the previous job before touching its fields, so a late claimer can only fail
            Volatile.Write(ref _state, ((long)_generation << 32) | Closed);
            _generation++;
            _work = work;
            _total = count;
            _error = null;
            Volatile.Write(ref _remaining, count);
            _done.Reset();
            Volatile.Write(ref _state, (long)_generation << 32);
            _wake.Release(Math.Min(_workers.Length, count - 1));
            while (TryClaim(out int index, out var claimed)) Execute(claimed, index);
            _done.Wait(); // set by whoever finishes the last index, exactly once per job
            _work = null;
            if (_error is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        }

        bool TryClaim(out int index, out ParallelWork work)
        {
            while (true)
            {
                long state = Volatile.Read(ref _state);
                index = (int)(state & 0xFFFFFFFF);
                work = _work!;
                if (index == Closed || index >= _total) return false;
                if (Interlocked.CompareExchange(ref _state, state + 1, state) == state) return true;
            }
        }

        /// <summary>Completion counts down from this job's own count, so a worker delayed after its last step never
        /// reads a field that the next job rewrites: a caller is released only when every claimed index has finished
        /// (docs/reliability.md, the GEMM access violation).</summary>
        void Execute(ParallelWork work, int index)
        {
            try { work.Execute(index); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            int left = Interlocked.Decrement(ref _remaining);
            AfterIndexForTests?.Invoke();
            if (left == 0) _done.Set();
        }

        void WorkerLoop()
        {
            _insideLoop = true;
            while (true)
            {
                _wake.Wait();
                if (_stopping) return;
                while (TryClaim(out int index, out var work)) Execute(work, index);
            }
        }

        /// <summary>Only called under the dispatch lock, i.e. never during a Run.</summary>
        public void Stop()
        {
            _stopping = true;
            _wake.Release(_workers.Length);
        }
    }
}
