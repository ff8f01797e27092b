using DistilBert.Compute;

namespace DistilBert.Tests;

/// <summary>The int8 GEMM on every path this machine runs, against plain loops: exact int32 sums, then the dequantised
/// floats.</summary>
[Collection(nameof(ComputeCollection))]
public sealed unsafe class ComputeInt8Tests
{
    static void ForEachPath(Action<Int8Path> body)
    {
        var saved = Int8Paths.Active;
        try
        {
            foreach (var path in Int8Paths.Supported())
            {
                Int8Paths.Active = path;
                body(path);
            }
        }
        finally { Int8Paths.Active = saved; }
    }

    /// <summary>What the kernels must produce exactly: the rows of x quantised as the driver does, times the weight's values.</summary>
    static (int[] Expected, int[] Actual) Accumulations(Int8Path path, float[] x, int m, Int8Matrix w)
    {
        int k = w.Rows, n = w.Columns;
        var q = new byte[m * w.PaddedRows];
        var scales = new float[m];
        var zeros = new int[m];
        fixed (float* px = x) fixed (byte* pq = q) fixed (float* ps = scales) fixed (int* pz = zeros)
            Int8Gemm.QuantizeRows(px, m, k, w.PaddedRows, pq, ps, pz);
        var dense = new byte[m * k];
        for (int i = 0; i < m; i++) Array.Copy(q, i * w.PaddedRows, dense, i * k, k);
        var values = new sbyte[n * k];
        w.CopyValuesTo(values);
        var expected = new int[m * n];
        Int8GemmReference.Accumulate(dense, m, k, values, n, expected);
        var actual = new int[m * n];
        fixed (float* px = x) fixed (int* pa = actual)
            Int8Gemm.Run(path, px, m, w, null, null, pa, Epilogue.None);
        return (expected, actual);
    }

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 4, 1 }, { 1, 768, 64 }, { 1, 13, 70 }, { 3, 5, 3 }, { 7, 33, 130 }, { 130, 37, 64 }, { 9, 770, 200 }, { 133, 64, 65 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryPathSumsExactlyAsThePlainLoops(int m, int k, int n)
    {
        var rng = new Random(m * 1000 + k * 10 + n);
        var x = KernelPathScope.Random(rng, m * k, 3f);
        var w = Int8Matrix.FromLinearWeight(KernelPathScope.Random(rng, n * k, 0.2f), n, k);
        ForEachPath(path =>
        {
            var (expected, actual) = Accumulations(path, x, m, w);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{path} at [{m}, {k}] × [{k}, {n}]");
        });
    }

    [Fact]
    public void LargestPairSumsDoNotSaturate()
    {
        // every activation quantises to 255 and every weight is ±63: the vpmaddubsw pair sums are 2·255·63 = 32130,
        // the largest there can be, just under the i16 limit 32767
        int m = 5, k = 96, n = 70;
        var x = Enumerable.Repeat(2.5f, m * k).ToArray();
        var values = new sbyte[n * k];
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++) values[j * k + p] = (sbyte)(j % 2 == 0 ? 63 : -63);
        var w = Int8Matrix.FromQuantized(values, Enumerable.Repeat(0.01f, n).ToArray(), n, k);
        ForEachPath(path =>
        {
            var (expected, actual) = Accumulations(path, x, m, w);
            Assert.Equal(255 * 63 * k, expected[0]);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{path}");
        });
    }

    [Fact]
    public void OutputIsTheDequantisedProductPlusBiasThenGelu()
    {
        var rng = new Random(5);
        int m = 11, k = 50, n = 90;
        var x = KernelPathScope.Random(rng, m * k, 2f);
        var bias = KernelPathScope.Random(rng, n);
        var w = Int8Matrix.FromLinearWeight(KernelPathScope.Random(rng, n * k, 0.3f), n, k);
        var values = new sbyte[n * k];
        w.CopyValuesTo(values);
        var q = new byte[m * w.PaddedRows];
        var scales = new float[m];
        var zeros = new int[m];
        fixed (float* px = x) fixed (byte* pq = q) fixed (float* ps = scales) fixed (int* pz = zeros)
            Int8Gemm.QuantizeRows(px, m, k, w.PaddedRows, pq, ps, pz);
        var expected = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++) sum += (q[i * w.PaddedRows + p] - zeros[i]) * (double)values[j * k + p];
                expected[i * n + j] = (float)(sum * scales[i] * w.ColumnScales[j] + bias[j]);
            }
        var gelu = new float[expected.Length];
        Activations.Gelu(expected, gelu);
        ForEachPath(path =>
        {
            var y = new float[m * n];
            Int8Linear.Forward(x, m, w, bias, y);
            for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"{path} [{i}]: {y[i]} vs {expected[i]}");
            Int8Linear.Forward(x, m, w, bias, y, Epilogue.Gelu);
            for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - gelu[i]) <= 1e-5f * (1 + Math.Abs(gelu[i])), $"{path} gelu [{i}]");
        });
    }

    [Fact]
    public void CloseToTheFloatProductWithinTheQuantisationBound()
    {
        // |error| ≤ Σ_k (|x|·δw + |w|·δx + δx·δw) with δw = scale_w/2 and δx = scale_x/2: rounding to the nearest step
        var rng = new Random(9);
        int m = 6, k = 300, n = 40;
        var x = KernelPathScope.Random(rng, m * k, 1f);
        var weight = KernelPathScope.Random(rng, n * k, 0.1f);
        var w = Int8Matrix.FromLinearWeight(weight, n, k);
        var y = new float[m * n];
        Int8Linear.Forward(x, m, w, default, y);
        var exact = new float[m * n];
        LinearReference.Forward(x, m, k, weight, n, default, exact);
        for (int i = 0; i < m; i++)
        {
            float xMax = x.AsSpan(i * k, k).ToArray().Max(), xMin = Math.Min(0, x.AsSpan(i * k, k).ToArray().Min());
            float dx = (Math.Max(0, xMax) - xMin) / 255 / 2;
            for (int j = 0; j < n; j++)
            {
                float dw = w.ColumnScales[j] / 2;
                double bound = 0;
                for (int p = 0; p < k; p++) bound += Math.Abs(x[i * k + p]) * dw + Math.Abs(weight[j * k + p]) * dx + dx * dw;
                Assert.True(Math.Abs(y[i * n + j] - exact[i * n + j]) <= bound + 1e-5, $"[{i}, {j}]");
            }
        }
    }

    [Fact]
    public void ThreadCountAndBatchNeighboursDoNotChangeABit()
    {
        var rng = new Random(3);
        int m = 150, k = 200, n = 300;
        var x = KernelPathScope.Random(rng, m * k);
        var w = Int8Matrix.FromLinearWeight(KernelPathScope.Random(rng, n * k, 0.1f), n, k);
        int saved = ComputeThreads.Count;
        try
        {
            ComputeThreads.Count = 1;
            var one = new float[m * n];
            Int8Linear.Forward(x, m, w, default, one);
            ComputeThreads.Count = 2;
            var two = new float[m * n];
            Int8Linear.Forward(x, m, w, default, two);
            Assert.Equal(one, two);
            var alone = new float[n];
            Int8Linear.Forward(x.AsSpan(77 * k, k), 1, w, default, alone);
            Assert.Equal(one.AsSpan(77 * n, n).ToArray(), alone);
        }
        finally { ComputeThreads.Count = saved; }
    }

    [Fact]
    public void WeightsOutsideSevenBitsAndBadScalesAreRefused()
    {
        var values = new sbyte[] { 1, 2, 64, 3 };
        var e = Assert.Throws<InvalidInputException>(() => Int8Matrix.FromQuantized(values, [1f, 1f], 2, 2));
        Assert.Contains("[1, 0] = 64", e.Message);
        Assert.Throws<InvalidInputException>(() => Int8Matrix.FromQuantized(new sbyte[4], [1f, float.NaN], 2, 2));
        Assert.Throws<InvalidInputException>(() => Int8Matrix.FromQuantized(new sbyte[4], [1f], 2, 2));
        Assert.Throws<InvalidInputException>(() => Int8Matrix.FromQuantized(new sbyte[3], [1f, 1f], 2, 2));
    }

    [Fact]
    public void QuantisationRoundTripsAndKeepsWithinHalfAStep()
    {
        var rng = new Random(1);
        int n = 70, k = 19;
        var weight = KernelPathScope.Random(rng, n * k);
        weight.AsSpan(5 * k, k).Clear(); // an all-zero row: scale 0
        var w = Int8Matrix.FromLinearWeight(weight, n, k);
        var back = new float[n * k];
        w.Dequantize(back);
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++) Assert.True(Math.Abs(back[j * k + p] - weight[j * k + p]) <= w.ColumnScales[j] / 2 * 1.0001f);
        var values = new sbyte[n * k];
        w.CopyValuesTo(values);
        Assert.Equal(63, values.Max(v => Math.Abs((int)v)));
        var again = Int8Matrix.FromQuantized(values, w.ColumnScales, n, k);
        var back2 = new float[n * k];
        again.Dequantize(back2);
        Assert.Equal(back, back2);
    }

    [Fact]
    public void NonFiniteInputRowIsAClearError()
    {
        var w = Int8Matrix.FromLinearWeight(new float[8], 2, 4);
        var x = new float[] { 1, float.NaN, 0, 0 };
        var e = Assert.Throws<InvalidInputException>(() => Int8Linear.Forward(x, 1, w, default, new float[2]));
        Assert.Contains("NaN", e.Message);
        var wide = Int8Matrix.FromLinearWeight(new float[2 * 20], 2, 20);
        var x20 = new float[20];
        x20[3] = float.NaN;
        Assert.Throws<InvalidInputException>(() => Int8Linear.Forward(x20, 1, wide, default, new float[2]));
    }
}
