using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using DistilBert;
using DistilBert.Checkpoints;
using DistilBert.Compute;
using DistilBert.Modeling;
using DistilBert.Tokenization;

namespace DistilBert.GoldenCheck;

/// <summary>
/// Replays the golden forward cases (tests/fixtures/golden/models, from safetensors) and the golden tokenizer cases with
/// the tolerances of ModelGoldenTests and the acceptance rule of TokenizerGoldenTests, without xunit, so a build for
/// another CPU (linux-arm64 under qemu-user) can prove its results. Prints one line per case and exits 1 on any failure.
/// </summary>
public static class Program
{
    static readonly HashSet<string> InputNames = ["input_ids", "attention_mask", "token_type_ids", "labels", "start_positions", "end_positions"];

    public static int Main(string[] args)
    {
        var golden = args.Length > 0 ? args[0] : FindGolden();
        Console.WriteLine($"architecture {RuntimeInformation.ProcessArchitecture}, kernel path {ComputeDiagnostics.KernelPathName}, " +
            $"Vector128 accelerated {System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated}, " +
            $"AdvSimd {System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported}");
        var clock = Stopwatch.StartNew();
        int failures = 0;
        foreach (var folder in Directory.GetDirectories(Path.Combine(golden, "models")).Order(StringComparer.Ordinal))
        {
            var problem = CheckModelCase(folder);
            Console.WriteLine($"{(problem is null ? "pass" : "FAIL")}  model {Path.GetFileName(folder)}{(problem is null ? "" : ": " + problem)}");
            if (problem is not null) failures++;
        }
        var (cases, tokenizerFailures) = CheckTokenizerCases(Path.Combine(golden, "tokenizer"));
        foreach (var f in tokenizerFailures.Take(20)) Console.WriteLine($"FAIL  tokenizer {f}");
        Console.WriteLine($"{(tokenizerFailures.Count == 0 ? "pass" : "FAIL")}  tokenizer {cases - tokenizerFailures.Count}/{cases} cases");
        failures += tokenizerFailures.Count;
        Console.WriteLine($"{(failures == 0 ? "all passed" : $"{failures} failures")} in {clock.Elapsed.TotalSeconds:F1} s");
        return failures == 0 ? 0 : 1;
    }

    static string FindGolden()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixtures", "golden");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/fixtures/golden not found above " + AppContext.BaseDirectory + "; pass its path");
    }

    /// <summary>Null when every output is within tolerance, else the first difference.</summary>
    static string? CheckModelCase(string folder)
    {
        var config = ModelConfig.Load(Path.Combine(folder, "config.json"));
        var model = PretrainedModel.Create(config);
        using (var weights = CheckpointFile.Open(Path.Combine(folder, "model.safetensors")))
        {
            var report = ParameterStateDict.LoadInto(model.Parameters, weights, model.BaseModelPrefix);
            if (report.Missing.Count > 0 || report.Unexpected.Count > 0) return "weights do not match the model";
        }
        using var expected = SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        var output = model.Forward(ReadInput(expected), new ForwardOptions(true, true));
        int compared = 0;
        foreach (var info in expected.Tensors)
        {
            if (InputNames.Contains(info.Name)) continue;
            if (!output.TryGet(info.Name, out var actual)) return $"no output '{info.Name}'";
            var want = expected.ReadFloat32(info.Name);
            if (want.Length != actual.Data.Length) return $"{info.Name}: {actual.Data.Length} elements, expected {want.Length}";
            var (abs, rel) = Tolerance(info.Name, config);
            for (int i = 0; i < want.Length; i++)
            {
                double e = want[i], a = actual.Data[i];
                double limit = info.Name == "loss" ? abs * Math.Max(1, Math.Abs(e)) : abs + rel * Math.Abs(e);
                if (!(Math.Abs(a - e) <= limit)) return $"{info.Name}[{i}]: got {a}, expected {e} (|diff| {Math.Abs(a - e):G3} > {limit:G3})";
            }
            compared++;
        }
        return compared >= 3 ? null : $"only {compared} outputs compared";
    }

    /// <summary>(absolute, relative), as the golden README and ModelGoldenTests set them.</summary>
    static (double Abs, double Rel) Tolerance(string output, ModelConfig config) => output switch
    {
        "loss" => (1e-5, 1e-5),
        _ when output.StartsWith("attentions.", StringComparison.Ordinal) => (2e-5, 0),
        "logits" when config.Architectures?[0].EndsWith("ForMaskedLM", StringComparison.Ordinal) == true => (5e-4, 1e-4),
        _ => (1e-4, 1e-4),
    };

    static ModelInput ReadInput(ITensorSource source)
    {
        var shape = source.Info("input_ids").Shape;
        int batch = shape.Length == 2 ? (int)shape[0] : 1, seq = (int)shape[^1];
        long[]? Optional(string name) => source.Contains(name) ? source.ReadInt64(name) : null;
        var input = ModelInput.FromPadded(source.ReadInt64("input_ids"), batch, seq, Optional("attention_mask"), Optional("token_type_ids"));
        if (source.Contains("labels"))
        {
            if (source.Info("labels").DType is TensorDType.F32) input.FloatLabels = source.ReadFloat32("labels");
            else input.Labels = source.ReadInt64("labels");
        }
        input.StartPositions = Optional("start_positions");
        input.EndPositions = Optional("end_positions");
        return input;
    }

    /// <summary>Ids and type ids against the fast tokenizer's (the slow one's where a text has unassigned code points),
    /// refusals where the fast tokenizer refused.</summary>
    static (int Cases, List<string> Failures) CheckTokenizerCases(string folder)
    {
        var tokenizer = WordPieceTokenizer.FromFolder(folder);
        var failures = new List<string>();
        int count = 0;
        foreach (var line in File.ReadLines(Path.Combine(folder, "cases.jsonl")))
        {
            count++;
            var c = (JsonObject)JsonNode.Parse(line)!;
            var id = (string)c["id"]!;
            var text = (string)c["text"]!;
            var pair = (string?)c["text_pair"];
            var fast = (JsonObject)c["fast"]!;
            var options = EncodeOptions.Default;
            if (c["truncation"] is JsonObject t)
                options = new EncodeOptions
                {
                    Truncation = (string)t["strategy"]! switch
                    {
                        "longest_first" => TruncationStrategy.LongestFirst,
                        "only_first" => TruncationStrategy.OnlyFirst,
                        _ => TruncationStrategy.OnlySecond,
                    },
                    MaxLength = (int)t["max_length"]!,
                };
            if (fast["error"] is not null)
            {
                try { tokenizer.Encode(text, pair, options); failures.Add($"{id}: expected a refusal"); }
                catch (InvalidInputException) { }
                continue;
            }
            var encoded = tokenizer.Encode(text, pair, options);
            int[] Ints(JsonNode? node) => node!.AsArray().Select(x => (int)x!).ToArray();
            var fastIds = Ints(fast["input_ids"] ?? c["input_ids"]);
            var fastTypes = Ints(fast["token_type_ids"] ?? c["token_type_ids"]);
            bool matchesFast = encoded.Ids.SequenceEqual(fastIds) && encoded.TypeIds.SequenceEqual(fastTypes);
            bool matchesSlow = encoded.Ids.SequenceEqual(Ints(c["input_ids"])) && encoded.TypeIds.SequenceEqual(Ints(c["token_type_ids"]));
            if (!(matchesFast || (bool)c["has_unassigned_codepoints"]! && matchesSlow))
                failures.Add($"{id}: ids [{string.Join(",", encoded.Ids)}], expected [{string.Join(",", fastIds)}]");
        }
        return (count, failures);
    }
}
