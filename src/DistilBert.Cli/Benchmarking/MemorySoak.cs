using DistilBert.Modeling;

namespace DistilBert.Cli.Benchmarking;

/// <summary>Resident memory of this process: VmRSS and its high-water mark VmHWM from /proc/self/status on Linux
/// (the kernel's own figures), the working set and its peak elsewhere.</summary>
public static class ProcessMemory
{
    /// <summary>This process's resident memory now and at its peak, in bytes.</summary>
    public static (long ResidentBytes, long PeakResidentBytes) Read()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
        {
            long rss = -1, hwm = -1;
            foreach (var line in File.ReadLines(status))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kibibytes(line) * 1024;
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kibibytes(line) * 1024;
            }
            if (rss >= 0 && hwm >= 0) return (rss, hwm);
        }
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return (process.WorkingSet64, process.PeakWorkingSet64);
    }

    // "VmRSS:\t  123456 kB"
    static long Kibibytes(string line) => long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim());
}

/// <summary>One reading of the soak: after <see cref="Requests"/> requests, with the garbage collected first so that
/// readings compare what is retained, not what happens to be awaiting collection.</summary>
public sealed record SoakSample(int Requests, long ResidentBytes, long PeakResidentBytes, long ManagedHeapBytes, long WorkspaceFloats,
    long PlainParameterFloats);

/// <summary>What a soak measured: the reading after warm-up, the last one, all of them, and the tokens run. Immutable:
/// safe to share between threads.</summary>
/// <param name="AfterWarmup">The baseline reading, taken after the warm-up.</param>
/// <param name="End">The reading after the last request.</param>
/// <param name="Samples">Every reading, baseline first.</param>
/// <param name="Tokens">Tokens run through the model in the soak's requests.</param>
public sealed record SoakResult(SoakSample AfterWarmup, SoakSample End, IReadOnlyList<SoakSample> Samples, long Tokens)
{
    /// <summary>Growth of resident memory from the end of warm-up to the end.</summary>
    public long ResidentGrowthBytes => End.ResidentBytes - AfterWarmup.ResidentBytes;

    /// <summary>Whether anything the model retains grew after warm-up: its workspace, its plain parameter copies, the
    /// managed heap by more than <paramref name="heapSlackBytes"/>, or resident memory by more than
    /// <paramref name="residentSlackBytes"/>.</summary>
    public bool Grew(long residentSlackBytes, long heapSlackBytes) =>
        End.WorkspaceFloats != AfterWarmup.WorkspaceFloats
        || End.PlainParameterFloats != AfterWarmup.PlainParameterFloats
        || End.ManagedHeapBytes - AfterWarmup.ManagedHeapBytes > heapSlackBytes
        || ResidentGrowthBytes > residentSlackBytes;
}

/// <summary>
/// The "no growth over many requests of varying shapes" check: requests of random batch 1…maxBatch × sequence length
/// 1…maxSeq (a fresh shape almost every time, the case where ONNX Runtime's arena grows). Warm-up starts with one request
/// of the largest shape, so every workspace reaches its final size, then runs <c>warmup</c> random requests; after
/// that nothing the model keeps may grow.
/// </summary>
public static class MemorySoak
{
    /// <summary>
    /// Runs the soak on <paramref name="model"/>: warm-up, then <paramref name="requests"/> random requests with
    /// readings between.
    /// </summary>
    public static SoakResult Run(TransformerModel model, int requests, int warmup, int maxBatch, int maxSeq, int seed = 1234,
        int samples = 10, Action<SoakSample>? progress = null)
    {
        if (requests < 1) throw new InvalidInputException($"soak needs at least 1 request, got {requests}");
        if (warmup < 0) throw new InvalidInputException($"soak warm-up must be 0 or more requests, got {warmup}");
        if (maxBatch < 1 || maxSeq < 1) throw new InvalidInputException($"soak shapes need batch and seq of at least 1, got {maxBatch} × {maxSeq}");
        var random = new Random(seed);
        int vocab = model.Config.VocabSize;
        long tokens = 0;
        void Request(int batch, int seq)
        {
            var sequences = new int[batch][];
            for (int b = 0; b < batch; b++)
            {
                // each sequence its own length: ragged batches are the usual case and the hardest on buffer reuse
                var ids = new int[b == 0 ? seq : random.Next(1, seq + 1)];
                for (int i = 0; i < ids.Length; i++) ids[i] = random.Next(vocab);
                sequences[b] = ids;
                tokens += ids.Length;
            }
            model.Forward(ModelInput.FromSequences(sequences));
        }
        void RandomRequest() => Request(random.Next(1, maxBatch + 1), random.Next(1, maxSeq + 1));

        // the largest shape first, every sequence at full length
        var largest = new int[maxBatch][];
        for (int b = 0; b < maxBatch; b++) largest[b] = Enumerable.Range(0, maxSeq).Select(_ => random.Next(vocab)).ToArray();
        model.Forward(ModelInput.FromSequences(largest));
        for (int i = 0; i < warmup; i++) RandomRequest();
        var afterWarmup = Sample(model, 0);
        progress?.Invoke(afterWarmup);
        var readings = new List<SoakSample> { afterWarmup };
        int every = Math.Max(1, requests / Math.Max(1, samples));
        for (int i = 1; i <= requests; i++)
        {
            RandomRequest();
            if (i % every == 0 || i == requests)
            {
                var sample = Sample(model, i);
                readings.Add(sample);
                progress?.Invoke(sample);
            }
        }
        return new SoakResult(afterWarmup, readings[^1], readings, tokens);
    }

    static SoakSample Sample(TransformerModel model, int requests)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var (rss, hwm) = ProcessMemory.Read();
        return new SoakSample(requests, rss, hwm, GC.GetTotalMemory(false), model.WorkspaceFloats, model.PlainParameterFloats);
    }
}
