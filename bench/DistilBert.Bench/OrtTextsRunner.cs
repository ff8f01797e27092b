using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DistilBert.Cli.Benchmarking;
using DistilBert.Modeling;
using Microsoft.ML.OnnxRuntime;

namespace DistilBert.Bench;

/// <summary>
/// ONNX Runtime fed real texts, the counterpart of <c>distilbert bench --texts</c>: the same tokenizer, truncation and
/// batches in the same order (<see cref="TextBatches"/>), each batch padded to its longest sequence with
/// attention_mask 0 on the padding (<see cref="PaddedBatch"/>), as a .NET user of ORT feeds it. Session options as the
/// shared ORT harness: ORT_ENABLE_ALL, intra-op threads = --threads, one inter-op thread, sequential.
/// Prints one JSON object (same keys as <c>distilbert bench --texts --json</c>, plus ORT's padding figures).
/// <c>--check</c> instead runs the first batches once through ORT and through our DistilBertModel (random weights, so
/// values differ) and checks output shapes, per-sequence token counts and that ORT's outputs are finite; <c>--stats</c>
/// only prints the batches' token and FLOP counts (real, and padded as ORT computes them), without ORT.
/// </summary>
public static class OrtTextsRunner
{
    const string Usage = "usage: ort-texts --model distilbert.onnx --texts FILE [--limit N] [--batch 32] [--seq 512] " +
        "[--order file|length|length-desc] [--threads 2] [--warmup 1] [--iterations 3] [--check | --stats]";

    public static int Run(string[] args)
    {
        try { return RunChecked(args); }
        catch (Exception e) when (e is DistilBertException or IOException or OnnxRuntimeException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    static int RunChecked(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        var options = new Dictionary<string, string>();
        bool check = false, stats = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--check") { check = true; continue; }
            if (args[i] == "--stats") { stats = true; continue; }
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                Console.Error.WriteLine($"error: unexpected argument '{args[i]}'\n{Usage}");
                return 2;
            }
            options[args[i][2..]] = args[++i];
        }
        string Get(string key, string fallback) => options.TryGetValue(key, out var v) ? v : fallback;
        if (!options.TryGetValue("model", out var modelPath) || !options.TryGetValue("texts", out var textsPath))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        int Int(string key, string fallback, int min, int max)
        {
            string text = Get(key, fallback);
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
                throw new InvalidInputException($"--{key} must be an integer from {min} to {max}, got '{text}'");
            return value;
        }
        int batchSize = Int("batch", "32", 1, 4096);
        int maxLength = Int("seq", "512", 2, 512);   // the ONNX export's max_position_embeddings
        int threads = Int("threads", "2", 1, 256);
        int warmup = Int("warmup", "1", 0, 1000);
        int iterations = Int("iterations", "3", 1, 1000);
        int? limit = options.ContainsKey("limit") ? Int("limit", "", 1, int.MaxValue) : null;
        var order = TextBatches.ParseOrder(Get("order", "file"));

        var data = TextBatches.Load(textsPath, batchSize, maxLength, limit, order);
        // FLOPs of one pass: ragged (what our engine computes) and padded (every row at its batch's longest).
        var shape = EncoderShape.Parse("distilbert-base");
        double realFlops = data.Batches.Sum(b => shape.Flops(b.Select(x => x.Length).ToArray()));
        double paddedFlops = data.Batches.Sum(b => shape.Flops(Enumerable.Repeat(b.Max(x => x.Length), b.Length).ToArray()));
        if (stats)
        {
            var lengths = data.Batches.SelectMany(b => b.Select(x => x.Length)).ToArray();
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["order"] = TextBatches.OrderName(order), ["texts"] = data.Texts, ["batches"] = data.Batches.Count,
                ["tokens"] = data.Tokens, ["padded_tokens"] = data.PaddedTokens, ["mean_length"] = lengths.Average(),
                ["max_length"] = lengths.Max(), ["real_gflop"] = realFlops / 1e9, ["padded_gflop"] = paddedFlops / 1e9,
            }));
            return 0;
        }
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        using var session = new InferenceSession(modelPath, sessionOptions);
        if (check) return Check(session, data);

        void Pass()
        {
            foreach (var sequences in data.Batches) RunBatch(session, PaddedBatch.From(sequences)).Dispose();
        }
        var times = KernelBench.TimePasses(Pass, warmup, iterations);
        double median = KernelBench.Median(times);
        using var stdout = Console.OpenStandardOutput();
        using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("engine", "ort");
            writer.WriteString("version", OrtEnv.Instance().GetVersionString());
            writer.WriteString("model", Path.GetFileName(modelPath));
            data.WriteRun(writer, order, threads, times);
            writer.WriteNumber("padded_tokens_per_s", data.PaddedTokens / median);
            writer.WriteNumber("padded_gflops", paddedFlops / median / 1e9);   // the work ORT does, padding included
            writer.WriteEndObject();
        }
        stdout.Write("\n"u8);
        return 0;
    }

    static IDisposableReadOnlyCollection<OrtValue> RunBatch(InferenceSession session, PaddedBatch batch)
    {
        var shape = new long[] { batch.BatchSize, batch.Length };
        using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIds, shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask, shape);
        using var runOptions = new RunOptions();
        return session.Run(runOptions, ["input_ids", "attention_mask"], [ids, mask], ["last_hidden_state"]);
    }

    /// <summary>The two engines compute the same thing shape-wise: ORT gives [batch, longest, 768] with finite values;
    /// our model gives one 768-vector per real token; the real tokens per sequence (mask sums) agree.</summary>
    static int Check(InferenceSession session, TextBatches data)
    {
        var model = new DistilBertModel(new DistilBertConfig());
        ModelInitializer.Initialize(model, seed: 1234);
        model.Eval();
        int failures = 0, checkedBatches = Math.Min(2, data.Batches.Count);
        for (int b = 0; b < checkedBatches; b++)
        {
            var sequences = data.Batches[b];
            var padded = PaddedBatch.From(sequences);
            using var outputs = RunBatch(session, padded);
            var shape = outputs[0].GetTensorTypeAndShape().Shape;
            var values = outputs[0].GetTensorDataAsSpan<float>();
            bool shapeOk = shape.SequenceEqual(new long[] { padded.BatchSize, padded.Length, 768 });
            int nonFinite = 0;
            foreach (float v in values) if (!float.IsFinite(v)) nonFinite++;
            var maskSums = Enumerable.Range(0, padded.BatchSize)
                .Select(r => (int)padded.AttentionMask.AsSpan(r * padded.Length, padded.Length).ToArray().Sum()).ToArray();
            var ours = model.Forward(ModelInput.FromSequences(sequences))["last_hidden_state"];   // [tokens, 768]
            int ourRows = ours.Shape[0];
            bool countsOk = maskSums.SequenceEqual(sequences.Select(s => s.Length)) && ourRows == padded.RealTokens
                && ours.Shape[1] == 768 && ours.Data.All(float.IsFinite);
            Console.WriteLine($"batch {b}: {padded.BatchSize} sequences, longest {padded.Length}, real tokens {padded.RealTokens}; " +
                $"ORT output [{string.Join(", ", shape)}] {(shapeOk ? "ok" : "WRONG")}, non-finite {nonFinite}; " +
                $"our rows {ourRows} {(countsOk ? "= real tokens" : "MISMATCH")}");
            if (!shapeOk || nonFinite > 0 || !countsOk) failures++;
        }
        // ORT honours the mask: a padded sequence's real positions match the same sequence run alone (no padding).
        var first = data.Batches[0];
        int shortRow = Array.FindIndex(first, s => s.Length < first.Max(x => x.Length));
        if (shortRow >= 0)
        {
            var batch = PaddedBatch.From(first);
            var alone = PaddedBatch.From([first[shortRow]]);
            using var padOut = RunBatch(session, batch);
            using var aloneOut = RunBatch(session, alone);
            var padded = padOut[0].GetTensorDataAsSpan<float>().Slice(shortRow * batch.Length * 768, alone.Length * 768);
            var single = aloneOut[0].GetTensorDataAsSpan<float>();
            float maxDiff = 0;
            for (int i = 0; i < single.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(padded[i] - single[i]));
            bool ok = maxDiff < 1e-3f;
            Console.WriteLine($"padding invariance: sequence {shortRow} of batch 0 ({alone.Length} tokens, padded to {batch.Length}) " +
                $"vs alone: max |diff| {maxDiff:E2} {(ok ? "ok" : "TOO LARGE")}");
            if (!ok) failures++;
        }
        Console.WriteLine(failures == 0 ? "check passed" : $"check FAILED ({failures} failure(s))");
        return failures == 0 ? 0 : 1;
    }
}
