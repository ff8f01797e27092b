using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DistilBert.Compute;
using DistilBert.Modeling;
using DistilBert.Training;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert bench-train</c>: times full training steps of DistilBertForSequenceClassification with HF's random
/// init on random token ids, the same step bench/torch_train_step.py times for PyTorch (batch × seq, 2 labels, loss on
/// the [CLS] head): zero grad, training forward (dropout 0.1 unless --no-dropout), cross-entropy, backward, global-norm
/// clipping, AdamW with HF Trainer's groups. Prints each phase per step and the median step.
/// </summary>
public static class TrainBenchCommand
{
    /// <summary>One training step's phases, in seconds. Immutable: safe to share between threads.</summary>
    /// <param name="ZeroGrad">Clearing the gradients.</param>
    /// <param name="Forward">The training-mode forward pass and loss.</param>
    /// <param name="Backward">The backward pass.</param>
    /// <param name="Clip">Gradient clipping.</param>
    /// <param name="Optimizer">The AdamW step.</param>
    public sealed record StepTiming(double ZeroGrad, double Forward, double Backward, double Clip, double Optimizer)
    {
        /// <summary>The whole step, in seconds.</summary>
        public double Total => ZeroGrad + Forward + Backward + Clip + Optimizer;
    }

    /// <summary>The <c>bench-train</c> command.</summary>
    public static Command Create()
    {
        var shape = new Option<string>("--shape") { Description = "distilbert-base (dim 768, 6 layers) or tiny (dim 128, 2 layers)", DefaultValueFactory = _ => "distilbert-base" };
        var batch = new Option<int>("--batch") { Description = "sequences per step", DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { Description = "tokens per sequence", DefaultValueFactory = _ => 128 };
        var threads = new Option<int>("--threads") { Description = "compute threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var warmup = new Option<int>("--warmup") { Description = "untimed steps first", DefaultValueFactory = _ => 1 };
        var steps = new Option<int>("--steps") { Description = "timed steps (the median is reported)", DefaultValueFactory = _ => 4 };
        var noDropout = new Option<bool>("--no-dropout") { Description = "training mode with dropout off" };
        var cmd = new Command("bench-train", "Time training steps (forward, backward, clipping, AdamW) of a randomly initialised classifier.")
        {
            shape, batch, seq, threads, warmup, steps, noDropout,
        };
        CliAction.Set(cmd, parseResult =>
        {
            int b = parseResult.GetValue(batch), s = parseResult.GetValue(seq), n = parseResult.GetValue(threads);
            int w = parseResult.GetValue(warmup), it = parseResult.GetValue(steps);
            if (b < 1) throw new InvalidInputException($"--batch must be at least 1, got {b}");
            if (s < 2 || s > 512) throw new InvalidInputException($"--seq must be between 2 and 512, got {s}");
            if (n < 1 || n > 256) throw new InvalidInputException($"--threads must be between 1 and 256, got {n}");
            if (w < 0) throw new InvalidInputException($"--warmup must be 0 or more, got {w}");
            if (it < 1) throw new InvalidInputException($"--steps must be at least 1, got {it}");
            string shapeName = parseResult.GetValue(shape) ?? "distilbert-base";
            var config = ConfigFor(shapeName);
            ComputeThreads.Count = n;
            Console.WriteLine($"{shapeName}, batch {b} × {s}, {n} threads, dropout {(parseResult.GetValue(noDropout) ? "off" : "0.1")}");
            var timings = Run(config, b, s, w, it, !parseResult.GetValue(noDropout), (i, t) =>
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"step {i}: zero {t.ZeroGrad:F3} s, forward {t.Forward:F3} s, backward {t.Backward:F3} s, clip {t.Clip:F3} s, adamw {t.Optimizer:F3} s, total {t.Total:F3} s")));
            var median = timings.OrderBy(t => t.Total).ElementAt(timings.Count / 2);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"median step {median.Total:F3} s ({b * s / median.Total:F0} tokens/s): forward {median.Forward:F3}, backward {median.Backward:F3}, " +
                $"zero {median.ZeroGrad:F3}, clip {median.Clip:F3}, adamw {median.Optimizer:F3}"));
            return 0;
        });
        return cmd;
    }

    static ModelConfig ConfigFor(string shape) => shape switch
    {
        "distilbert-base" => ModelConfig.Parse("""{"model_type":"distilbert","architectures":["DistilBertForSequenceClassification"],"vocab_size":30522,"dim":768,"n_layers":6,"n_heads":12,"hidden_dim":3072}"""),
        "tiny" => ModelConfig.Parse("""{"model_type":"distilbert","architectures":["DistilBertForSequenceClassification"],"vocab_size":30522,"dim":128,"n_layers":2,"n_heads":2,"hidden_dim":512}"""),
        _ => throw new InvalidInputException($"--shape must be distilbert-base or tiny, got '{shape}'"),
    };

    /// <summary>Warmup steps, then <paramref name="steps"/> timed ones; <paramref name="onStep"/> sees each timed step.</summary>
    public static List<StepTiming> Run(ModelConfig config, int batch, int seq, int warmup, int steps, bool dropout, Action<int, StepTiming>? onStep = null)
    {
        var model = PretrainedModel.Create(config, seed: 42);
        var optimizer = new AdamW(AdamW.TrainerGroups(model.Parameters, 0.01));
        model.Random = new SeededRandom(7);
        model.Train(dropout);
        var random = new Random(1);
        var timings = new List<StepTiming>();
        for (int i = 0; i < warmup + steps; i++)
        {
            // ids in [1000, 30000) and two labels, as the PyTorch script draws them
            var sequences = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, seq).Select(_ => random.Next(1000, 30000)).ToArray()).ToList();
            var input = ModelInput.FromSequences(sequences);
            input.Labels = Enumerable.Range(0, batch).Select(_ => (long)random.Next(2)).ToArray();
            var clock = Stopwatch.StartNew();
            model.Parameters.ZeroGrad();
            double zero = Lap(clock);
            model.Forward(input);
            double forward = Lap(clock);
            model.Backward();
            double backward = Lap(clock);
            GradientClipping.ClipGlobalNorm(model.Parameters, 1.0);
            double clip = Lap(clock);
            optimizer.Step(5e-5);
            double adam = Lap(clock);
            if (i < warmup) continue;
            var t = new StepTiming(zero, forward, backward, clip, adam);
            timings.Add(t);
            onStep?.Invoke(i - warmup, t);
        }
        return timings;
    }

    static double Lap(Stopwatch clock)
    {
        double s = clock.Elapsed.TotalSeconds;
        clock.Restart();
        return s;
    }
}
