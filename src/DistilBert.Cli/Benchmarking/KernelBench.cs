using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using DistilBert.Compute;

namespace DistilBert.Cli.Benchmarking;

/// <summary>One SGEMM measurement: y[M, N] = x[M, K] · Wᵀ + b through a pre-packed weight, by the plain GEMM and with
/// every 128-row block by Strassen (<see cref="StrassenMedianSeconds"/>, null where Strassen does not apply: M below
/// 128 rows, or a machine without AVX-512, which then runs the plain GEMM again).</summary>
public sealed record GemmResult(int M, int N, int K, int Threads, double MedianSeconds, double BestSeconds, double? StrassenMedianSeconds)
{
    /// <summary>The int8 GEMM (<see cref="Int8Linear"/>, activations quantised in the call) on the same shape, timed alternately.</summary>
    public double? Int8MedianSeconds { get; init; }
    /// <summary>Giga (multiply + add) per second of the int8 GEMM, counted as the SGEMM's flops are.</summary>
    public double? Int8Gops => Int8MedianSeconds is { } s ? 2.0 * M * N * K / s / 1e9 : null;
    /// <summary>Throughput of the plain GEMM at its median time, in 10⁹ floating-point operations per second.</summary>
    public double Gflops => 2.0 * M * N * K / MedianSeconds / 1e9;
    /// <summary>Strassen's time over the plain GEMM's, from the two timed alternately call by call.</summary>
    public double? StrassenRatio => StrassenMedianSeconds / MedianSeconds;
}

/// <summary>The kernel figures of <c>distilbert bench --kernels</c>: FMA peak and SGEMM on the DistilBERT FFN shapes.</summary>
public static class KernelBench
{
    /// <summary>DistilBERT's FFN GEMM shapes (M tokens, N outputs, K inputs) at batch 32 × 128 and 1 × 128.</summary>
    public static readonly (int M, int N, int K)[] FfnShapes =
    [
        (4096, 3072, 768), (4096, 768, 3072), // 32 × 128 tokens: FFN up and down projections
        (128, 3072, 768), (128, 768, 3072),   // 1 × 128 tokens (latency)
    ];

    /// <summary>
    /// Times y[m, n] = x[m, k] · Wᵀ + b on <paramref name="threads"/> threads, plain and with Strassen alternating
    /// (and the int8 GEMM when <paramref name="int8"/>).
    /// </summary>
    public static GemmResult TimeLinear(int m, int n, int k, int threads, int warmup, int iterations, bool int8 = false)
    {
        var rng = new Random(42);
        var x = new float[m * k];
        var w = new float[n * k];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle() - 0.5f;
        for (int i = 0; i < w.Length; i++) w[i] = rng.NextSingle() - 0.5f;
        var bias = new float[n];
        var y = new float[m * n];
        var packed = PackedMatrix.FromLinearWeight(w, n, k);
        var quantized = int8 ? Int8Matrix.FromLinearWeight(w, n, k) : null;
        // every whole 128-row block, as a batch of 128-token sequences would give them
        var blocks = Enumerable.Range(0, m / 128).Select(b => b * 128).ToArray();
        bool strassen = blocks.Length > 0 && Avx512F.IsSupported && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        int saved = ComputeThreads.Count;
        try
        {
            ComputeThreads.Count = threads;
            for (int i = 0; i < warmup; i++)
            {
                Linear.Forward(x, m, packed, bias, y);
                if (strassen) Linear.Forward(x, m, packed, bias, y, Epilogue.None, blocks);
                if (quantized is not null) Int8Linear.Forward(x, m, quantized, bias, y);
            }
            var int8Times = new double[iterations];
            var times = new double[iterations];
            var strassenTimes = new double[iterations];
            for (int i = 0; i < iterations; i++)
            {
                // alternating call by call: this VM's speed drifts more over seconds than the difference measured
                long t0 = Stopwatch.GetTimestamp();
                Linear.Forward(x, m, packed, bias, y);
                times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (quantized is not null)
                {
                    t0 = Stopwatch.GetTimestamp();
                    Int8Linear.Forward(x, m, quantized, bias, y);
                    int8Times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                }
                if (!strassen) continue;
                t0 = Stopwatch.GetTimestamp();
                Linear.Forward(x, m, packed, bias, y, Epilogue.None, blocks);
                strassenTimes[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            }
            return new GemmResult(m, n, k, threads, Median(times), times.Min(), strassen ? Median(strassenTimes) : null)
            {
                Int8MedianSeconds = quantized is not null ? Median(int8Times) : null,
            };
        }
        finally { ComputeThreads.Count = saved; }
    }

    /// <summary>Single-thread nanoseconds per element of the element-wise kernels on an FFN-sized buffer:
    /// GELU over [4096, 3072], softmax over 128-wide rows, LayerNorm over 768-wide rows.</summary>
    public static IReadOnlyList<(string Kernel, double NanosecondsPerElement)> TimeElementwise(int iterations)
    {
        var rng = new Random(7);
        var x = new float[4096 * 3072];
        for (int i = 0; i < x.Length; i++) x[i] = (rng.NextSingle() - 0.5f) * 8;
        var y = new float[x.Length];
        var gamma = new float[768]; Array.Fill(gamma, 1f);
        var beta = new float[768];
        double Time(Action body)
        {
            body();
            var times = new double[iterations];
            for (int i = 0; i < iterations; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                body();
                times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            }
            return Median(times) / x.Length * 1e9;
        }
        return
        [
            ("GELU (erf)", Time(() => Activations.Gelu(x, y))),
            ("softmax rows of 128", Time(() => { x.AsSpan().CopyTo(y); Softmax.Rows(y, y.Length / 128, 128); })),
            ("LayerNorm rows of 768", Time(() => LayerNorm.Forward(x, gamma, beta, y, x.Length / 768, 768, 1e-12f, [], []))),
        ];
    }

    /// <summary>Runs <paramref name="pass"/> <paramref name="warmup"/> times untimed, then <paramref name="iterations"/>
    /// times timed; returns each timed pass in seconds.</summary>
    public static double[] TimePasses(Action pass, int warmup, int iterations)
    {
        for (int i = 0; i < warmup; i++) pass();
        var times = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            pass();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        return times;
    }

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    public static double Median(double[] values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }
}
