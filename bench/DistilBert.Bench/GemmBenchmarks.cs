using BenchmarkDotNet.Attributes;
using DistilBert.Compute;

namespace DistilBert.Bench;

/// <summary>
/// SGEMM on the DistilBERT FFN shapes through a pre-packed weight: y[M, N] = x[M, K] · Wᵀ + b.
/// GFLOP/s = 2·M·N·K / time. `distilbert bench --kernels` prints the same shapes with GFLOP/s and % of the measured
/// FMA peak. Run: dotnet run -c Release --project bench/DistilBert.Bench -- --filter '*Gemm*'
/// </summary>
[SimpleJob(warmupCount: 2, iterationCount: 5)]
public class GemmBenchmarks
{
    [Params("4096x3072x768", "4096x768x3072", "128x3072x768", "128x768x3072")]
    public string Shape { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    int _m;
    float[] _x = [], _bias = [], _y = [];
    PackedMatrix _weight = null!;
    float[] _rawWeight = [];
    int _n, _k;

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x').Select(int.Parse).ToArray();
        (_m, _n, _k) = (dims[0], dims[1], dims[2]);
        var rng = new Random(1);
        _x = Enumerable.Range(0, _m * _k).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        _rawWeight = Enumerable.Range(0, _n * _k).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        _weight = PackedMatrix.FromLinearWeight(_rawWeight, _n, _k);
        _bias = new float[_n];
        _y = new float[_m * _n];
        ComputeThreads.Count = Threads;
    }

    [Benchmark]
    public void PackedLinear() => Linear.Forward(_x, _m, _weight, _bias, _y);

    [Benchmark]
    public void PackedLinearGelu() => Linear.Forward(_x, _m, _weight, _bias, _y, Epilogue.Gelu);
}

/// <summary>Ragged multi-head attention at DistilBERT's shape (12 heads × 64), batch × 128 tokens, as the encoder
/// calls it on a fused QKV buffer.</summary>
[SimpleJob(warmupCount: 2, iterationCount: 5)]
public class AttentionBenchmarks
{
    [Params(1, 32)]
    public int Batch { get; set; }

    [Params(2)]
    public int Threads { get; set; }

    float[] _qkv = [], _context = [];
    int[] _starts = [];

    [GlobalSetup]
    public void Setup()
    {
        int tokens = Batch * 128;
        var rng = new Random(2);
        _qkv = Enumerable.Range(0, tokens * 3 * 768).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        _context = new float[tokens * 768];
        _starts = Enumerable.Range(0, Batch + 1).Select(i => i * 128).ToArray();
        ComputeThreads.Count = Threads;
    }

    [Benchmark]
    public void Forward() => Attention.Forward(_qkv, 3 * 768, _qkv.AsSpan(768), 3 * 768, _qkv.AsSpan(2 * 768), 3 * 768,
        _starts, 12, 64, 0.125f, [], _context, 768, []);
}

/// <summary>The element-wise kernels on one FFN-sized activation ([4096, 3072] for GELU; [4096, 768] for LayerNorm).</summary>
[SimpleJob(warmupCount: 2, iterationCount: 5)]
public class ElementwiseBenchmarks
{
    float[] _ffn = [], _ffnOut = [], _hidden = [], _residual = [], _gamma = [], _beta = [], _scores = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(3);
        _ffn = Enumerable.Range(0, 4096 * 3072).Select(_ => (rng.NextSingle() - 0.5f) * 8).ToArray();
        _ffnOut = new float[_ffn.Length];
        _hidden = Enumerable.Range(0, 4096 * 768).Select(_ => rng.NextSingle()).ToArray();
        _residual = (float[])_hidden.Clone();
        _gamma = Enumerable.Repeat(1f, 768).ToArray();
        _beta = new float[768];
        _scores = Enumerable.Range(0, 12 * 128 * 128).Select(_ => rng.NextSingle() * 10).ToArray();
        ComputeThreads.Count = 1;
    }

    [Benchmark]
    public void Gelu() => Activations.Gelu(_ffn, _ffnOut);

    [Benchmark]
    public void GeluReference() => ActivationsReference.Gelu(_ffn, _ffnOut);

    [Benchmark]
    public void LayerNormResidual() => LayerNorm.ForwardResidual(_hidden, _residual, _gamma, _beta, _ffnOut, 4096, 768, 1e-12f);

    [Benchmark]
    public void SoftmaxRows() => Softmax.Rows(_scores, 12 * 128, 128);
}
