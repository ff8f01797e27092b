using DistilBert.Compute;

namespace DistilBert.Tests;

/// <summary>The vector GELU (a 16-piece polynomial for ½|x|·erfc(|x|/√2)) against the exact erf form in double.</summary>
[Collection(nameof(ComputeCollection))]
public class ComputeGeluTests
{
    // Beyond the output's own rounding the approximation adds ≤ 2.7e-8 (measured over every float in [-10, 10]);
    // the Abramowitz–Stegun form it replaced added up to 2.2e-7 and would fail this.
    const double AllowedBeyondRounding = 5e-8;

    static double ExactGelu(float x) => 0.5 * x * (1 + Activations.Erf(x / Math.Sqrt(2)));

    static double HalfUlp(float v)
    {
        v = MathF.Abs(v);
        return float.IsFinite(v) ? 0.5 * ((double)MathF.BitIncrement(v) - v) : 0;
    }

    /// <summary>Every 61st float in [-10, 10] by bit pattern (all binades, 36 million values), plus the floats
    /// around every interval edge k/2.5 and the cut-off at 5.8.</summary>
    static float[] DenseInputs()
    {
        var xs = new List<float>(40_000_000);
        uint top = BitConverter.SingleToUInt32Bits(10f);
        for (uint bits = 0; bits <= top; bits += 61)
        {
            float v = BitConverter.UInt32BitsToSingle(bits);
            xs.Add(v);
            xs.Add(-v);
        }
        for (int k = 1; k <= 16; k++)
        {
            float edge = (k - 0.5f) / 2.5f, v = edge;
            for (int i = 0; i < 64; i++) v = MathF.BitDecrement(v);
            for (int i = 0; i < 129; i++, v = MathF.BitIncrement(v)) { xs.Add(v); xs.Add(-v); }
        }
        return xs.ToArray();
    }

    [Fact]
    public void GeluIsWithinOutputRoundingOfExactOverDenseFloatsOnEveryPath()
    {
        var x = DenseInputs();
        var y = new float[x.Length];
        KernelPathScope.ForEachPath(path =>
        {
            Activations.Gelu(x, y);
            for (int i = 0; i < x.Length; i++)
            {
                double exact = ExactGelu(x[i]), error = Math.Abs(y[i] - exact);
                if (error > 1e-6 || error > HalfUlp((float)exact) + AllowedBeyondRounding)
                    Assert.Fail($"{path}: gelu({x[i]:R}) = {y[i]:R}, exact {exact:R}, error {error:E3}");
            }
        });
    }

    [Fact]
    public void GeluOfSpecialValues()
    {
        float[] x = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue,
            1e4f, -1e4f, 40f, -40f, 5.8f, -5.8f, float.Epsilon, -float.Epsilon, 1e-30f, -1e-30f];
        KernelPathScope.ForEachPath(path =>
        {
            // padded past one vector so both the full-vector loop and the tail see every value
            var input = x.Concat(x).ToArray();
            var y = new float[input.Length];
            Activations.Gelu(input, y);
            for (int i = 0; i < input.Length; i += x.Length)
            {
                Assert.Equal(0f, y[i]);
                Assert.True(float.IsNaN(y[i + 2]), $"{path}: gelu(NaN) = {y[i + 2]}");
                Assert.Equal(float.PositiveInfinity, y[i + 3]);
                Assert.Equal(float.MaxValue, y[i + 5]);
                Assert.Equal(1e4f, y[i + 7]);
                Assert.Equal(40f, y[i + 9]);
                for (int j = 0; j < x.Length; j++)
                {
                    if (!float.IsFinite(x[j])) continue;
                    Assert.True(Math.Abs(y[i + j] - ExactGelu(x[j])) <= 1e-6, $"{path}: gelu({x[j]:R}) = {y[i + j]:R}");
                }
                Assert.True(y[i + 4] == 0f, $"{path}: gelu(-inf) = {y[i + 4]}, the limit is 0");
                Assert.Equal(0.5e-30f, y[i + 15], 1e-36f);
                Assert.Equal(-0.5e-30f, y[i + 16], 1e-36f);
            }
        });
    }

    [Fact]
    public void BothVectorWidthsGiveTheSameBits()
    {
        var paths = KernelPaths.Supported().Where(p => p != KernelPath.Portable).ToList();
        if (paths.Count < 2) return; // only one vector path on this machine: nothing to compare
        var rng = new Random(7);
        var x = Enumerable.Range(0, 100_003).Select(_ => (float)(rng.NextDouble() * 16 - 8)).ToArray();
        var results = new List<float[]>();
        KernelPathScope.ForEachPath(path =>
        {
            if (path == KernelPath.Portable) return;
            var y = new float[x.Length];
            Activations.Gelu(x, y);
            results.Add(y);
        });
        Assert.Equal(results[0], results[1]);
    }

    [Fact]
    public void FusedGemmEpilogueGivesTheSameBitsAsTheElementwiseGelu()
    {
        // x: [rows, k] · wᵀ: [k, n] + bias, GELU fused into the GEMM vs Linear without epilogue, then Activations.Gelu
        const int rows = 37, k = 64, n = 96;
        var rng = new Random(3);
        var x = KernelPathScope.Random(rng, rows * k, 2f);
        var w = KernelPathScope.Random(rng, n * k, 0.5f);
        var bias = KernelPathScope.Random(rng, n);
        var packed = PackedMatrix.FromLinearWeight(w, n, k);
        KernelPathScope.ForEachPath(path =>
        {
            var fused = new float[rows * n];
            var separate = new float[rows * n];
            Linear.Forward(x, rows, packed, bias, fused, Epilogue.Gelu);
            Linear.Forward(x, rows, packed, bias, separate, Epilogue.None);
            Activations.Gelu(separate, separate);
            Assert.Equal(separate, fused);
        });
    }
}
