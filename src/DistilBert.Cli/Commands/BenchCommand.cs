using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using DistilBert.Cli.Benchmarking;
using DistilBert.Compute;
using DistilBert.Inference;
using DistilBert.Modeling;
using DistilBert.Modeling.Layers;
using Spectre.Console;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert bench</c>: times a forward pass of a DistilBERT/BERT-base-shaped encoder with random weights and
/// reports median latency, sequences/s, tokens/s and achieved GFLOP/s; <c>--kernels</c> reports the machine's FMA peak
/// and the SGEMM on the DistilBERT FFN shapes instead. Until the models are integrated the encoder is
/// <see cref="EncoderHarness"/> (kernels wired as HF's layers, random weights).
/// </summary>
public static class BenchCommand
{
    /// <summary>The <c>bench</c> command.</summary>
    public static Command Create()
    {
        var shape = new Option<string>("--shape") { Description = "distilbert-base or bert-base", DefaultValueFactory = _ => "distilbert-base" };
        var batch = new Option<int>("--batch") { Description = "sequences per forward pass", DefaultValueFactory = _ => 1 };
        var seq = new Option<int>("--seq") { Description = "tokens per sequence", DefaultValueFactory = _ => 128 };
        var threads = new Option<int>("--threads") { Description = "compute threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var warmup = new Option<int>("--warmup") { Description = "untimed passes first", DefaultValueFactory = _ => 2 };
        var iterations = new Option<int>("--iterations") { Description = "timed passes (the median is reported)", DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "print one JSON object instead of a table" };
        var engine = new Option<string>("--engine")
        {
            Description = "model: DistilBertModel/BertModel with random HF-style init; model-plain: the same with every linear layer by the plain GEMM (no Strassen on 128-token blocks); harness: the kernels wired as an encoder (packed weights, fused epilogues)",
            DefaultValueFactory = _ => "model",
        };
        var texts = new Option<string?>("--texts")
        {
            Description = "mixed-length mode: real texts (one per line, SST-2 TSV, or JSON lines with \"text\", .gz ok), tokenized, " +
                "truncated to --seq, batched --batch at a time (see --order); each sequence runs at its own length",
        };
        var limit = new Option<int?>("--limit") { Description = "use only the first N texts of --texts" };
        var order = new Option<string>("--order")
        {
            Description = "with --texts: file (consecutive texts, as a server receives them), length (sorted by token count first) or length-desc (longest first)",
            DefaultValueFactory = _ => "file",
        };
        var kernels = new Option<bool>("--kernels") { Description = "measure the FMA peak and the SGEMM on the FFN shapes (1 and --threads threads)" };
        var soak = new Option<int?>("--soak")
        {
            Description = "memory soak: N requests of random batch 1..--batch × length 1..--seq through the model (inference-only), " +
                "RSS after warm-up and at the end; exit code 3 if anything retained grew",
        };
        var soakWarmup = new Option<int>("--soak-warmup") { Description = "random requests before the soak's baseline reading (after one of the largest shape)", DefaultValueFactory = _ => 50 };
        var int8 = new Option<bool>("--int8")
        {
            Description = "also time the same model with its encoder's linear layers in int8, pass by pass alternately with fp32 " +
                "(with --kernels: the int8 GEMM beside the SGEMM)",
        };
        var cmd = new Command("bench", "Time the inference engine (random weights of a standard shape).")
        {
            shape, batch, seq, threads, warmup, iterations, json, engine, texts, limit, order, kernels, soak, soakWarmup, int8,
        };
        CliAction.Set(cmd, parseResult =>
        {
            int b = parseResult.GetValue(batch), s = parseResult.GetValue(seq), n = parseResult.GetValue(threads);
            int w = parseResult.GetValue(warmup), it = parseResult.GetValue(iterations);
            if (b < 1) throw new InvalidInputException($"--batch must be at least 1, got {b}");
            if (n < 1 || n > 256) throw new InvalidInputException($"--threads must be between 1 and 256, got {n}");
            if (w < 0) throw new InvalidInputException($"--warmup must be 0 or more, got {w}");
            if (it < 1) throw new InvalidInputException($"--iterations must be at least 1, got {it}");
            bool withInt8 = parseResult.GetValue(int8);
            if (parseResult.GetValue(kernels)) return RunKernels(n, w, it, parseResult.GetValue(json), withInt8);
            var encoder = EncoderShape.Parse(parseResult.GetValue(shape) ?? "distilbert-base");
            if (s < 1 || s > encoder.MaxPositions)
                throw new InvalidInputException($"--seq must be between 1 and {encoder.MaxPositions} (max_position_embeddings), got {s}");
            string engineName = parseResult.GetValue(engine) ?? "model";
            if (engineName is not ("model" or "model-plain" or "harness"))
                throw new InvalidInputException($"--engine must be model, model-plain or harness, got '{engineName}'");
            if (withInt8 && engineName == "harness") throw new InvalidInputException("--int8 times the model; it does not apply to --engine harness");
            if (withInt8 && parseResult.GetValue(soak) is not null) throw new InvalidInputException("--int8 does not apply to --soak");
            if (withInt8)
            {
                var pair = parseResult.GetValue(texts) is { } pairTexts
                    ? TextBatches.Load(pairTexts, b, s, parseResult.GetValue(limit), TextBatches.ParseOrder(parseResult.GetValue(order) ?? "file"))
                    : null;
                return RunInt8Pair(encoder, engineName, pair, b, s, n, w, it, parseResult.GetValue(json));
            }
            if (parseResult.GetValue(soak) is { } soakRequests)
                return RunSoak(encoder, soakRequests, parseResult.GetValue(soakWarmup), b, s, n, parseResult.GetValue(json));
            if (parseResult.GetValue(texts) is { } textFile)
            {
                var batchOrder = TextBatches.ParseOrder(parseResult.GetValue(order) ?? "file");
                var data = TextBatches.Load(textFile, b, s, parseResult.GetValue(limit), batchOrder);
                return RunTexts(encoder, engineName, data, batchOrder, n, w, it, parseResult.GetValue(json));
            }
            return RunEncoder(encoder, engineName, b, s, n, w, it, parseResult.GetValue(json));
        });
        return cmd;
    }

    static int RunEncoder(EncoderShape shape, string engine, int batch, int seq, int threads, int warmup, int iterations, bool json)
    {
        ComputeThreads.Count = threads;
        var rng = new Random(1234);
        var ids = new int[batch * seq];
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(shape.Vocab);
        var starts = new int[batch + 1];
        for (int i = 0; i <= batch; i++) starts[i] = i * seq;
        var lengths = Enumerable.Repeat(seq, batch).ToArray();
        long loadStart = Stopwatch.GetTimestamp();
        var run = CreateEngine(shape, engine);
        double loadSeconds = Stopwatch.GetElapsedTime(loadStart).TotalSeconds;
        var sequences = Enumerable.Range(0, batch).Select(b => ids.AsSpan(b * seq, seq).ToArray()).ToArray();
        var times = KernelBench.TimePasses(() => run(sequences), warmup, iterations);
        double median = KernelBench.Median(times), best = times.Min();
        double flops = shape.Flops(lengths);
        long peakRss = ProcessMemory.Read().PeakResidentBytes; // VmHWM: the load counts too
        if (json)
        {
            WriteJson(writer =>
            {
                writer.WriteString("engine", engine switch
                {
                    "harness" => "DistilBert.NET encoder harness (kernels, random weights)",
                    "model-plain" => "DistilBert.NET model (random HF init, inference-only, plain GEMM)",
                    _ => "DistilBert.NET model (random HF init, inference-only)",
                });
                writer.WriteString("shape", shape.Name);
                writer.WriteString("kernel_path", ComputeDiagnostics.KernelPathName);
                writer.WriteNumber("batch", batch);
                writer.WriteNumber("seq", seq);
                writer.WriteNumber("threads", threads);
                writer.WriteNumber("iterations", iterations);
                writer.WriteNumber("median_ms", median * 1e3);
                writer.WriteNumber("best_ms", best * 1e3);
                writer.WriteNumber("sequences_per_s", batch / median);
                writer.WriteNumber("tokens_per_s", batch * seq / median);
                writer.WriteNumber("gflops", flops / median / 1e9);
                writer.WriteNumber("peak_rss_mib", peakRss / 1048576.0);
                writer.WriteNumber("load_ms", loadSeconds * 1e3);
                writer.WriteStartArray("times_ms");
                foreach (var t in times) writer.WriteNumberValue(t * 1e3);
                writer.WriteEndArray();
            });
            return 0;
        }
        var table = new Table().Title($"[bold]{shape.Name}[/] {(engine == "harness" ? "encoder harness" : engine)} (random weights), fp32, {ComputeDiagnostics.KernelPathName} kernels");
        foreach (var column in new[] { "batch × seq", "threads", "median", "best", "sequences/s", "tokens/s", "GFLOP/s", "peak RSS" })
            table.AddColumn(new TableColumn(column).RightAligned());
        table.AddRow($"{batch} × {seq}", threads.ToString(), $"{median * 1e3:F1} ms", $"{best * 1e3:F1} ms",
            $"{batch / median:F1}", $"{batch * seq / median:F0}", $"{flops / median / 1e9:F1}", $"{peakRss / 1048576.0:F0} MiB");
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>Growth after warm-up that counts as growth: resident memory beyond noise (GC-committed space varies by a
    /// few MiB between readings), or any managed heap growth beyond 1 MiB.</summary>
    static string Duration(TimeSpan t) => t.TotalSeconds < 90 ? $"{t.TotalSeconds:F0} s" : $"{t.TotalMinutes:F1} min";

    const long SoakResidentSlack = 16L << 20, SoakHeapSlack = 1L << 20;

    static int RunSoak(EncoderShape shape, int requests, int warmup, int maxBatch, int maxSeq, int threads, bool json)
    {
        ComputeThreads.Count = threads;
        var model = CreateModel(shape);
        var start = Stopwatch.GetTimestamp();
        static double Mib(long bytes) => bytes / 1048576.0;
        // A soak runs minutes: the warm-up's pace, known first, says up front how long the rest will take.
        Console.Error.WriteLine($"soak: {requests:N0} requests of random batch 1..{maxBatch} × length 1..{maxSeq} after {warmup:N0} warm-up requests; " +
            "estimating the time from the warm-up…");
        TimeSpan soakStart = default;
        var result = MemorySoak.Run(model, requests, warmup, maxBatch, maxSeq, progress: sample =>
        {
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (sample.Requests == 0)
            {
                soakStart = elapsed;
                var expected = elapsed / (warmup + 1) * requests;
                Console.Error.WriteLine($"warm-up took {elapsed.TotalSeconds:F1} s: the soak should take about {Duration(expected)}");
            }
            var left = sample.Requests == 0 ? "" : $", about {Duration((elapsed - soakStart) / sample.Requests * (requests - sample.Requests))} left";
            if (!json)
                Console.Error.WriteLine($"after {sample.Requests,6} requests: RSS {Mib(sample.ResidentBytes):F1} MiB, peak {Mib(sample.PeakResidentBytes):F1} MiB, " +
                    $"managed heap {Mib(sample.ManagedHeapBytes):F1} MiB, workspace {Mib(sample.WorkspaceFloats * 4):F1} MiB{left}");
        });
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        bool grew = result.Grew(SoakResidentSlack, SoakHeapSlack);
        if (json)
        {
            WriteJson(writer =>
            {
                writer.WriteString("engine", "DistilBert.NET model (random HF init, inference-only)");
                writer.WriteString("shape", shape.Name);
                writer.WriteNumber("requests", requests);
                writer.WriteNumber("max_batch", maxBatch);
                writer.WriteNumber("max_seq", maxSeq);
                writer.WriteNumber("tokens", result.Tokens);
                writer.WriteNumber("seconds", seconds);
                writer.WriteNumber("rss_after_warmup_mib", Mib(result.AfterWarmup.ResidentBytes));
                writer.WriteNumber("rss_end_mib", Mib(result.End.ResidentBytes));
                writer.WriteNumber("peak_rss_mib", Mib(result.End.PeakResidentBytes));
                writer.WriteNumber("managed_heap_after_warmup_mib", Mib(result.AfterWarmup.ManagedHeapBytes));
                writer.WriteNumber("managed_heap_end_mib", Mib(result.End.ManagedHeapBytes));
                writer.WriteNumber("workspace_floats_after_warmup", result.AfterWarmup.WorkspaceFloats);
                writer.WriteNumber("workspace_floats_end", result.End.WorkspaceFloats);
                writer.WriteBoolean("grew", grew);
            });
        }
        else
        {
            Console.WriteLine($"{shape.Name}: {requests} requests of batch 1-{maxBatch} × seq 1-{maxSeq} ({result.Tokens} tokens) in {seconds:F1} s");
            Console.WriteLine($"RSS after warm-up {Mib(result.AfterWarmup.ResidentBytes):F1} MiB, at the end {Mib(result.End.ResidentBytes):F1} MiB " +
                $"({Mib(result.ResidentGrowthBytes):+0.0;-0.0} MiB), peak {Mib(result.End.PeakResidentBytes):F1} MiB");
            Console.WriteLine(grew ? "GROWTH: memory retained by the engine grew after warm-up" : "no growth after warm-up");
        }
        return grew ? 3 : 0;
    }

    /// <summary>The real model of this shape, random HF init, inference-only (packed weights are the only copy);
    /// <paramref name="plainGemm"/>: no Strassen (<see cref="TransformerModel.StrassenForInference"/>).</summary>
    static TransformerModel CreateModel(EncoderShape shape, bool plainGemm = false, bool prepare = true)
    {
        TransformerModel model = shape.TokenTypes
            ? new BertModel(new BertConfig { NumHiddenLayers = shape.Layers })
            : new DistilBertModel(new DistilBertConfig { NLayers = shape.Layers });
        ModelInitializer.Initialize(model, seed: 1234);
        if (prepare) model.PrepareForInference();
        model.StrassenForInference = !plainGemm;
        return model;
    }

    /// <summary>Builds the engine: the real model (random HF init, inference-only) or the kernel harness; returns a forward
    /// over one ragged batch of token-id sequences.</summary>
    static Action<int[][]> CreateEngine(EncoderShape shape, string engine)
    {
        if (engine == "harness")
        {
            var harness = new EncoderHarness(shape);
            return sequences =>
            {
                var starts = new int[sequences.Length + 1];
                for (int i = 0; i < sequences.Length; i++) starts[i + 1] = starts[i] + sequences[i].Length;
                harness.Forward(sequences.SelectMany(x => x).ToArray(), starts);
            };
        }
        var model = CreateModel(shape, plainGemm: engine == "model-plain");
        return sequences => model.Forward(ModelInput.FromSequences(sequences));
    }

    static int RunTexts(EncoderShape shape, string engine, TextBatches data, BatchOrder order, int threads, int warmup, int iterations, bool json)
    {
        ComputeThreads.Count = threads;
        var forward = CreateEngine(shape, engine);
        // A pass over a large file takes minutes: time the first one, then say how long the others will take.
        Console.Error.WriteLine($"{data.Texts:N0} texts in {data.Batches.Count:N0} batches, {data.Tokens:N0} tokens: " +
            $"{warmup} warm-up and {iterations} timed passes over all of them; timing the first…");
        int passes = 0;
        void Pass()
        {
            long t0 = Stopwatch.GetTimestamp();
            foreach (var batch in data.Batches) forward(batch);
            if (passes++ == 0 && warmup + iterations > 1)
            {
                var one = Stopwatch.GetElapsedTime(t0);
                Console.Error.WriteLine($"one pass took {Duration(one)}: about {Duration(one * (warmup + iterations - 1))} for the other {warmup + iterations - 1}");
            }
        }
        var times = KernelBench.TimePasses(Pass, warmup, iterations);
        double median = KernelBench.Median(times);
        double flops = data.Batches.Sum(b => shape.Flops(b.Select(x => x.Length).ToArray()));
        double padding = 1 - (double)data.Tokens / data.PaddedTokens;
        if (json)
        {
            WriteJson(writer =>
            {
                writer.WriteString("engine", engine);
                writer.WriteString("shape", shape.Name);
                data.WriteRun(writer, order, threads, times);
                writer.WriteNumber("gflops", flops / median / 1e9);
            });
            return 0;
        }
        var table = new Table().Title($"[bold]{shape.Name}[/] {engine}, mixed-length texts (ragged batches, no padding computed)");
        foreach (var column in new[] { "texts", "batches", "tokens", "padding a padded engine computes", "median pass", "texts/s", "tokens/s", "GFLOP/s" })
            table.AddColumn(new TableColumn(column).RightAligned());
        table.AddRow(data.Texts.ToString(), data.Batches.Count.ToString(), data.Tokens.ToString(), $"{100 * padding:F1}%",
            $"{median * 1e3:F1} ms", $"{data.Texts / median:F1}", $"{data.Tokens / median:F0}", $"{flops / median / 1e9:F1}");
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>
    /// fp32 and int8 engines of the same random model, timed pass by pass alternately (this VM's speed drifts over seconds
    /// more than many differences measured): dense batch × seq, or the mixed-length batches of <paramref name="texts"/>.
    /// </summary>
    static int RunInt8Pair(EncoderShape shape, string engine, TextBatches? texts, int batch, int seq, int threads, int warmup, int iterations, bool json)
    {
        ComputeThreads.Count = threads;
        var fp32 = CreateModel(shape, plainGemm: engine == "model-plain");
        var int8Model = CreateModel(shape, plainGemm: engine == "model-plain", prepare: false);
        var session = InferenceSession.Create(int8Model, releasePlainWeights: true, int8: true);
        var rng = new Random(1234);
        IReadOnlyList<int[][]> batches = texts is not null ? texts.Batches
            : [Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, seq).Select(_ => rng.Next(shape.Vocab)).ToArray()).ToArray()];
        void Fp32Pass() { foreach (var b in batches) fp32.Forward(ModelInput.FromSequences(b)); }
        void Int8Pass() { foreach (var b in batches) session.Run(ModelInput.FromSequences(b)); }
        for (int i = 0; i < warmup; i++) { Fp32Pass(); Int8Pass(); }
        var fp32Times = new double[iterations];
        var int8Times = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Fp32Pass();
            fp32Times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            t0 = Stopwatch.GetTimestamp();
            Int8Pass();
            int8Times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        double fp32Median = KernelBench.Median(fp32Times), int8Median = KernelBench.Median(int8Times);
        long fp32LinearBytes = Int8Weights.QuantizedLayers(fp32).Sum(l => (long)l.Weight.Length) * sizeof(float);
        long int8Bytes = session.Int8!.ByteCount;
        string what = texts is null ? $"{batch} × {seq}" : $"{texts.Texts} texts in {texts.Batches.Count} batches ({texts.Tokens} tokens)";
        if (json)
        {
            WriteJson(writer =>
            {
                writer.WriteString("engine", engine);
                writer.WriteString("shape", shape.Name);
                writer.WriteString("input", what);
                writer.WriteNumber("threads", threads);
                writer.WriteNumber("iterations", iterations);
                writer.WriteString("int8_path", Int8Linear.KernelPath);
                writer.WriteNumber("fp32_median_ms", fp32Median * 1e3);
                writer.WriteNumber("int8_median_ms", int8Median * 1e3);
                writer.WriteNumber("int8_over_fp32", int8Median / fp32Median);
                writer.WriteNumber("fp32_linear_weight_bytes", fp32LinearBytes);
                writer.WriteNumber("int8_linear_weight_bytes", int8Bytes);
            });
            return 0;
        }
        var table = new Table().Title($"[bold]{shape.Name}[/] {engine} (random weights): fp32 and int8 ({Int8Linear.KernelPath}) alternately, {what}");
        foreach (var column in new[] { "engine", "median pass", "best pass", "time vs fp32", "linear weights" })
            table.AddColumn(new TableColumn(column).RightAligned());
        table.AddRow("fp32", $"{fp32Median * 1e3:F1} ms", $"{fp32Times.Min() * 1e3:F1} ms", "1.000", $"{fp32LinearBytes / 1048576.0:F1} MiB");
        table.AddRow("int8", $"{int8Median * 1e3:F1} ms", $"{int8Times.Min() * 1e3:F1} ms", $"{int8Median / fp32Median:F3}", $"{int8Bytes / 1048576.0:F1} MiB");
        AnsiConsole.Write(table);
        return 0;
    }

    static int RunKernels(int threads, int warmup, int iterations, bool json, bool int8 = false)
    {
        var threadCounts = threads == 1 ? new[] { 1 } : new[] { 1, threads };
        var peaks = threadCounts.ToDictionary(t => t, t => ComputeDiagnostics.MeasureFmaPeak(t));
        var results = new List<GemmResult>();
        foreach (var (m, n, k) in KernelBench.FfnShapes)
            foreach (int t in threadCounts)
                results.Add(KernelBench.TimeLinear(m, n, k, t, Math.Max(1, warmup), iterations, int8));
        int savedThreads = ComputeThreads.Count;
        ComputeThreads.Count = 1;
        var elementwise = KernelBench.TimeElementwise(iterations);
        ComputeThreads.Count = savedThreads;
        if (json)
        {
            WriteJson(writer =>
            {
                writer.WriteString("kernel_path", ComputeDiagnostics.KernelPathName);
                writer.WriteStartObject("elementwise_ns_per_element_1_thread");
                foreach (var (name, ns) in elementwise) writer.WriteNumber(name, ns);
                writer.WriteEndObject();
                writer.WriteStartObject("fma_peak_gflops");
                foreach (var (t, p) in peaks) writer.WriteNumber(t.ToString(), p);
                writer.WriteEndObject();
                writer.WriteStartArray("sgemm");
                foreach (var r in results)
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("m", r.M); writer.WriteNumber("n", r.N); writer.WriteNumber("k", r.K);
                    writer.WriteNumber("threads", r.Threads);
                    writer.WriteNumber("median_ms", r.MedianSeconds * 1e3);
                    writer.WriteNumber("gflops", r.Gflops);
                    writer.WriteNumber("fraction_of_peak", r.Gflops / peaks[r.Threads]);
                    if (r.Int8MedianSeconds is { } int8Seconds)
                    {
                        writer.WriteNumber("int8_median_ms", int8Seconds * 1e3);
                        writer.WriteNumber("int8_gops", r.Int8Gops!.Value);
                        // the instruction peak: 64 int8 multiply-adds per vpmaddubsw + vpmaddwd pair, taken as one pair per
                        // cycle = 4× the fp32 FMA peak measured (16 FMAs per zmm per cycle) at the same clock: docs/int8.md
                        writer.WriteNumber("int8_fraction_of_instruction_peak", r.Int8Gops!.Value / (4 * peaks[r.Threads]));
                    }
                    if (r.StrassenMedianSeconds is { } strassen)
                    {
                        writer.WriteNumber("strassen_median_ms", strassen * 1e3);
                        writer.WriteNumber("strassen_over_plain", r.StrassenRatio!.Value);
                    }
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            });
            return 0;
        }
        var table = new Table().Title($"[bold]SGEMM[/] y = x·Wᵀ + b, pre-packed W (DistilBERT FFN shapes), {ComputeDiagnostics.KernelPathName} kernels; Strassen on 128-row blocks alternating");
        foreach (var column in new[] { "M × N × K", "threads", "median", "GFLOP/s", "FMA peak", "% of peak", "Strassen", "vs plain" })
            table.AddColumn(new TableColumn(column).RightAligned());
        foreach (var r in results)
            table.AddRow($"{r.M} × {r.N} × {r.K}", r.Threads.ToString(), $"{r.MedianSeconds * 1e3:F2} ms", $"{r.Gflops:F1}",
                $"{peaks[r.Threads]:F1}", $"{100 * r.Gflops / peaks[r.Threads]:F1}%",
                r.StrassenMedianSeconds is { } strassen ? $"{strassen * 1e3:F2} ms" : "—", r.StrassenRatio is { } ratio ? $"{ratio:F3}" : "—");
        AnsiConsole.Write(table);
        if (int8)
        {
            var int8Table = new Table().Title($"[bold]int8 GEMM[/] ({Int8Linear.KernelPath}), same shapes, alternating with the SGEMM; peak = 4 × FMA peak (docs/int8.md)");
            foreach (var column in new[] { "M × N × K", "threads", "median", "GOP/s", "% of int8 peak", "time vs SGEMM" })
                int8Table.AddColumn(new TableColumn(column).RightAligned());
            foreach (var r in results)
                int8Table.AddRow($"{r.M} × {r.N} × {r.K}", r.Threads.ToString(), $"{r.Int8MedianSeconds!.Value * 1e3:F2} ms", $"{r.Int8Gops!.Value:F1}",
                    $"{100 * r.Int8Gops!.Value / (4 * peaks[r.Threads]):F1}%", $"{r.Int8MedianSeconds!.Value / r.MedianSeconds:F3}");
            AnsiConsole.Write(int8Table);
        }
        var small = new Table().Title("[bold]element-wise kernels[/], 1 thread");
        small.AddColumn("kernel");
        small.AddColumn(new TableColumn("ns / element").RightAligned());
        foreach (var (name, ns) in elementwise) small.AddRow(name, $"{ns:F3}");
        AnsiConsole.Write(small);
        return 0;
    }

    /// <summary>One JSON object to Console.Out (not the raw stdout stream, so a caller that redirects Console sees it).</summary>
    static void WriteJson(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
