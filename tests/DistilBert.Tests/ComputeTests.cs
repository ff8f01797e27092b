using DistilBert.Checkpoints;
using DistilBert.Compute;

namespace DistilBert.Tests;

/// <summary>The compute tests switch process-wide settings (kernel path, thread count): they run alone.</summary>
[CollectionDefinition(nameof(ComputeCollection), DisableParallelization = true)]
public sealed class ComputeCollection;

/// <summary>Runs a test body once on every kernel path this machine supports, restoring the defaults after.</summary>
static class KernelPathScope
{
    public static void ForEachPath(Action<KernelPath> body)
    {
        var saved = KernelPaths.Active;
        try
        {
            foreach (var path in KernelPaths.Supported())
            {
                KernelPaths.Active = path;
                body(path);
            }
        }
        finally { KernelPaths.Active = saved; }
    }

    /// <summary>Reports the calling [SkippableFact]/[SkippableTheory] as skipped, not passed, where the machine has no
    /// AVX-512 (and so no Strassen, no second vector width) to test.</summary>
    public static void RequireAvx512(string what) =>
        Skip.IfNot(KernelPaths.Best == KernelPath.Avx512, $"{what} needs AVX-512, which this machine does not have");

    public static float[] Random(Random rng, int n, float scale = 1f)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return x;
    }
}

[Collection(nameof(ComputeCollection))]
public class ComputeGemmTests
{
    [Fact]
    public void MachineRunsTheWidestPathItHas()
    {
        var paths = KernelPaths.Supported().ToList();
        Assert.Contains(KernelPath.Portable, paths);
        Assert.Equal(paths[^1], KernelPaths.Best);
    }

    public static IEnumerable<object[]> Shapes()
    {
        // (m, n, k, transA, transB, alpha, beta): odd sizes around the 8-row / 48-column / 768-deep block edges, and
        // last panels 16, 32 and 42 wide (the narrow AVX-512 kernels, directly into C or through the edge tile)
        int[][] mnk =
        [
            [1, 1, 1], [1, 7, 3], [7, 1, 5], [8, 48, 768], [9, 49, 769], [33, 47, 31], [17, 96, 1537], [130, 97, 64],
            [3, 769, 7], [129, 5, 300], [64, 144, 1], [260, 50, 20], [8, 64, 100], [16, 80, 40], [13, 90, 70], [25, 112, 33],
        ];
        var rng = new Random(7);
        foreach (var s in mnk)
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
            {
                float alpha = rng.Next(3) switch { 0 => 1f, 1 => 0.5f, _ => -1.25f };
                float beta = rng.Next(3) switch { 0 => 0f, 1 => 1f, _ => 0.75f };
                yield return [s[0], s[1], s[2], ta, tb, alpha, beta];
            }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SgemmMatchesReferenceOnEveryPath(int m, int n, int k, bool transA, bool transB, float alpha, float beta)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        // row strides larger than the logical width, to catch stride mix-ups
        int lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 5;
        var a = KernelPathScope.Random(rng, (transA ? k : m) * lda);
        var b = KernelPathScope.Random(rng, (transB ? n : k) * ldb);
        var c0 = KernelPathScope.Random(rng, m * ldc);
        var expected = (float[])c0.Clone();
        GemmReference.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
        KernelPathScope.ForEachPath(path =>
        {
            var c = (float[])c0.Clone();
            Gemm.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            float tol = 2e-6f * k + 1e-5f;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < ldc; j++)
                {
                    int at = i * ldc + j;
                    if (j >= n) Assert.Equal(c0[at], c[at]); // padding between rows is never touched
                    else Assert.True(MathF.Abs(expected[at] - c[at]) <= tol,
                        $"{path}: C[{i},{j}] = {c[at]}, reference {expected[at]}");
                }
        });
    }

    [Fact]
    public void BetaZeroIgnoresNaNInC()
    {
        var rng = new Random(1);
        var a = KernelPathScope.Random(rng, 20 * 30);
        var b = KernelPathScope.Random(rng, 30 * 50);
        KernelPathScope.ForEachPath(path =>
        {
            var c = Enumerable.Repeat(float.NaN, 20 * 50).ToArray();
            Gemm.Sgemm(false, false, 20, 50, 30, 1f, a, 30, b, 50, 0f, c, 50);
            Assert.All(c, x => Assert.False(float.IsNaN(x), path.ToString()));
        });
    }

    [Fact]
    public void ZeroDepthScalesC()
    {
        var c = new float[] { 1, 2, 3, 4 };
        Gemm.Sgemm(false, false, 2, 2, 0, 1f, [], 1, [], 2, 0.5f, c, 2);
        Assert.Equal([0.5f, 1, 1.5f, 2], c);
    }

    [Fact]
    public void ResultDoesNotDependOnThreadCount()
    {
        // every C tile is computed by one task in a fixed K order, so the bits must not change with the thread count
        var rng = new Random(3);
        int m = 300, n = 200, k = 520;
        var a = KernelPathScope.Random(rng, m * k);
        var b = KernelPathScope.Random(rng, k * n);
        int saved = ComputeThreads.Count;
        try
        {
            var results = new List<float[]>();
            foreach (int threads in new[] { 1, 2, 3 })
            {
                ComputeThreads.Count = threads;
                var c = new float[m * n];
                Gemm.Sgemm(false, true, m, n, k, 1f, a, k, b, k, 0f, c, n);
                results.Add(c);
            }
            Assert.Equal(results[0], results[1]);
            Assert.Equal(results[0], results[2]);
        }
        finally { ComputeThreads.Count = saved; }
    }

    [Fact]
    public void OperandTooSmallIsAClearError()
    {
        var e = Assert.Throws<InvalidInputException>(() =>
            Gemm.Sgemm(false, false, 4, 4, 4, 1f, new float[15], 4, new float[16], 4, 0f, new float[16], 4));
        Assert.Contains("operand A", e.Message);
    }
}

[Collection(nameof(ComputeCollection))]
public class ComputeLinearTests
{
    static float[] ReferenceLinear(float[] x, int m, int k, float[] w, int n, float[] bias, Epilogue epilogue)
    {
        var y = new float[m * n];
        GemmReference.Sgemm(false, true, m, n, k, 1f, x, k, w, k, 0f, y, n);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float v = y[i * n + j] + (bias.Length == 0 ? 0 : bias[j]);
                y[i * n + j] = epilogue switch
                {
                    Epilogue.Gelu => Activations.GeluScalar(v),
                    Epilogue.Relu => v < 0 ? 0 : v,
                    _ => v,
                };
            }
        return y;
    }

    [Theory]
    [InlineData(1, 7, 5, Epilogue.None, true)]
    [InlineData(33, 97, 64, Epilogue.Gelu, true)]
    [InlineData(130, 48, 300, Epilogue.Relu, false)]
    [InlineData(9, 769, 33, Epilogue.Gelu, false)]
    // full 8 × 48 tiles through the AVX-512 tile epilogue: bias only, and after several K steps (k > KC)
    [InlineData(16, 96, 40, Epilogue.None, true)]
    [InlineData(64, 144, 1000, Epilogue.Relu, true)]
    [InlineData(128, 192, 1600, Epilogue.Gelu, true)]
    // narrow last panels (32 and 16 wide) with the epilogue, full and ragged rows
    [InlineData(24, 80, 50, Epilogue.Gelu, true)]
    [InlineData(9, 64, 800, Epilogue.Relu, true)]
    public void PackedLinearWithEpilogueMatchesReference(int m, int n, int k, Epilogue epilogue, bool withBias)
    {
        var rng = new Random(m + n + k);
        var x = KernelPathScope.Random(rng, m * k);
        var w = KernelPathScope.Random(rng, n * k, 0.2f);
        var bias = withBias ? KernelPathScope.Random(rng, n) : [];
        var expected = ReferenceLinear(x, m, k, w, n, bias, epilogue);
        KernelPathScope.ForEachPath(path =>
        {
            var packed = PackedMatrix.FromLinearWeight(w, n, k);
            var y = new float[m * n];
            Linear.Forward(x, m, packed, bias, y, epilogue);
            for (int i = 0; i < y.Length; i++)
                Assert.True(MathF.Abs(expected[i] - y[i]) <= 1e-5f, $"{path}: y[{i}] = {y[i]}, reference {expected[i]}");
            if (epilogue == Epilogue.None)
            {
                var y2 = new float[m * n];
                Linear.Forward(x, m, k, w, n, bias, y2);
                // up to StreamingMaxRows rows the unpacked overload streams W (another summation order), beyond it packs per call
                if (m > Linear.StreamingMaxRows) Assert.Equal(y, y2);
                else for (int i = 0; i < y.Length; i++) Assert.True(MathF.Abs(y[i] - y2[i]) <= 1e-5f, $"{path}: streamed y[{i}] = {y2[i]}, packed {y[i]}");
            }
        });
    }

    [Theory]
    // full and ragged row blocks (1 and 7 rows: rows past the end repeat the last real one) with K in one block, full
    // ones across K blocks (ragged ones then differ on purpose: see ARowGetsTheSameBitsWhereverTheBatchPutsIt)
    [InlineData(1, 96, 5, Epilogue.None)]
    [InlineData(7, 48, 768, Epilogue.Gelu)]
    [InlineData(8, 144, 64, Epilogue.Relu)]
    [InlineData(128, 96, 1000, Epilogue.Gelu)]
    public void RowMajorAReadInPlaceGivesThePackedABits(int m, int n, int k, Epilogue epilogue)
    {
        var rng = new Random(m * 7 + k);
        var x = KernelPathScope.Random(rng, m * k);
        var packed = PackedMatrix.FromLinearWeight(KernelPathScope.Random(rng, n * k, 0.2f), n, k);
        var bias = KernelPathScope.Random(rng, n);
        var direct = new float[m * n];
        var viaPackedA = new float[m * n];
        bool saved = GemmDriver.UseDirectA;
        try
        {
            GemmDriver.UseDirectA = true;
            Linear.Forward(x, m, packed, bias, direct, epilogue);
            GemmDriver.UseDirectA = false;
            Linear.Forward(x, m, packed, bias, viaPackedA, epilogue);
        }
        finally { GemmDriver.UseDirectA = saved; }
        Assert.Equal(viaPackedA, direct); // same products in the same order: bit for bit
    }

    [Theory]
    // K in one block and in three (the C rows of the last micro-panel are then carried through a tile)
    [InlineData(768, Epilogue.Gelu)]
    [InlineData(2000, Epilogue.None)]
    public void ARowGetsTheSameBitsWhereverTheBatchPutsIt(int k, Epilogue epilogue)
    {
        // 21 rows: two full 8-row micro-panels and a last one of 5; every row computed alone must give the same bits
        const int m = 21, n = 96;
        var rng = new Random(k);
        var x = KernelPathScope.Random(rng, m * k);
        var packed = PackedMatrix.FromLinearWeight(KernelPathScope.Random(rng, n * k, 0.2f), n, k);
        var bias = KernelPathScope.Random(rng, n);
        var batch = new float[m * n];
        Linear.Forward(x, m, packed, bias, batch, epilogue);
        for (int r = 0; r < m; r++)
        {
            var alone = new float[n];
            Linear.Forward(x.AsSpan(r * k, k), 1, packed, bias, alone, epilogue);
            Assert.Equal(alone, batch.AsSpan(r * n, n).ToArray());
        }
    }

    [Fact]
    public void RepackPicksUpNewWeights()
    {
        var rng = new Random(5);
        int n = 50, k = 20;
        var w = KernelPathScope.Random(rng, n * k);
        var packed = PackedMatrix.FromLinearWeight(w, n, k);
        Assert.Equal(w[3 * k + 7], packed[7, 3]);
        for (int i = 0; i < w.Length; i++) w[i] *= -2;
        packed.Repack(w);
        Assert.Equal(w[49 * k + 19], packed[19, 49]);
        var x = KernelPathScope.Random(rng, k);
        var y = new float[n];
        Linear.Forward(x, 1, packed, [], y);
        var expected = ReferenceLinear(x, 1, k, w, n, [], Epilogue.None);
        for (int j = 0; j < n; j++) Assert.Equal(expected[j], y[j], 1e-5f);
    }

    [Fact]
    public void BiasOfWrongLengthIsAClearError()
    {
        var packed = PackedMatrix.FromLinearWeight(new float[12], 3, 4);
        var e = Assert.Throws<InvalidInputException>(() => Linear.Forward(new float[8], 2, packed, new float[4], new float[6]));
        Assert.Contains("bias", e.Message);
    }
}

[Collection(nameof(ComputeCollection))]
public class ComputeElementwiseTests
{
    [Fact]
    public void GeluWithinOneMillionthOfExactOnEveryPath()
    {
        var xs = new List<float> { 0f, -0f, 1e-30f, -1e-30f, 40f, -40f, 1e4f, -1e4f, float.Epsilon, -float.Epsilon };
        for (float x = -12f; x <= 12f; x += 0.00137f) xs.Add(x);
        var x0 = xs.ToArray();
        KernelPathScope.ForEachPath(path =>
        {
            var y = new float[x0.Length];
            Activations.Gelu(x0, y);
            for (int i = 0; i < x0.Length; i++)
            {
                double exact = 0.5 * x0[i] * (1 + Activations.Erf(x0[i] / Math.Sqrt(2)));
                Assert.True(Math.Abs(y[i] - exact) <= 1e-6, $"{path}: gelu({x0[i]}) = {y[i]}, exact {exact}");
            }
        });
    }

    [Fact]
    public void ActivationsMatchGoldenPrimitives()
    {
        using var file = SafeTensors.Open(Fixtures.Golden("primitives", "activations.safetensors"));
        var x = file.ReadFloat32("x");
        var gelu = file.ReadFloat32("gelu");
        var relu = file.ReadFloat32("relu");
        KernelPathScope.ForEachPath(path =>
        {
            var y = new float[x.Length];
            Activations.Gelu(x, y);
            for (int i = 0; i < x.Length; i++) Assert.True(MathF.Abs(y[i] - gelu[i]) <= 1e-6f, $"{path}: gelu({x[i]}) = {y[i]}, HF {gelu[i]}");
            Activations.Relu(x, y);
            Assert.Equal(relu, y);
        });
    }

    [Fact]
    public void ReluKeepsNaNAndWorksInPlace()
    {
        KernelPathScope.ForEachPath(path =>
        {
            var x = new float[] { -1, 2, float.NaN, -0.5f, 3, 0, -7, 8, 9, -10, 11, 12, 13, -14, 15, 16, -17, 18 };
            Activations.Relu(x, x);
            Assert.True(float.IsNaN(x[2]), path.ToString());
            Assert.Equal(0f, x[0]);
            Assert.Equal(18f, x[^1]);
            Assert.Equal(0f, x[^2]);
        });
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(5, 33)]
    [InlineData(2, 769)]
    public void SoftmaxMatchesReference(int rows, int cols)
    {
        var rng = new Random(rows * cols);
        var x0 = KernelPathScope.Random(rng, rows * cols, 20f);
        if (cols > 1) x0[0] = float.NegativeInfinity; // a masked score
        var expected = (float[])x0.Clone();
        SoftmaxReference.Rows(expected, rows, cols);
        KernelPathScope.ForEachPath(path =>
        {
            var x = (float[])x0.Clone();
            Softmax.Rows(x, rows, cols);
            for (int i = 0; i < x.Length; i++)
                Assert.True(MathF.Abs(expected[i] - x[i]) <= 2e-6f, $"{path}: {x[i]} vs {expected[i]}");
            if (cols > 1) Assert.Equal(0f, x[0]);
        });
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(4, 768)]
    [InlineData(2, 37)]
    public void LayerNormMatchesReference(int rows, int dim)
    {
        var rng = new Random(rows + dim);
        var x = KernelPathScope.Random(rng, rows * dim, 3f);
        for (int i = 0; i < x.Length; i++) x[i] += 5f; // an offset mean, as residual streams have
        var gamma = KernelPathScope.Random(rng, dim);
        var beta = KernelPathScope.Random(rng, dim);
        var expected = new float[x.Length];
        var meanRef = new float[rows];
        var rstdRef = new float[rows];
        LayerNormReference.Forward(x, gamma, beta, expected, rows, dim, 1e-12f, meanRef, rstdRef);
        KernelPathScope.ForEachPath(path =>
        {
            var y = new float[x.Length];
            var mean = new float[rows];
            var rstd = new float[rows];
            LayerNorm.Forward(x, gamma, beta, y, rows, dim, 1e-12f, mean, rstd);
            for (int i = 0; i < y.Length; i++)
                Assert.True(MathF.Abs(expected[i] - y[i]) <= 1e-5f * MathF.Max(1, MathF.Abs(expected[i])), $"{path}: {y[i]} vs {expected[i]}");
            for (int r = 0; r < rows; r++)
            {
                Assert.Equal(meanRef[r], mean[r], 1e-5f);
                Assert.Equal(rstdRef[r], rstd[r], 1e-4f * rstdRef[r]);
            }
        });
    }

    [Theory]
    [InlineData(3, 37)]
    [InlineData(50, 768)] // large enough for the parallel row split
    public void ResidualLayerNormMatchesAddThenReference(int rows, int dim)
    {
        var rng = new Random(rows * dim);
        var x = KernelPathScope.Random(rng, rows * dim, 3f);
        var residual = KernelPathScope.Random(rng, rows * dim, 3f);
        var gamma = KernelPathScope.Random(rng, dim);
        var beta = KernelPathScope.Random(rng, dim);
        var sum = x.Zip(residual, (a, b) => a + b).ToArray();
        var expected = new float[sum.Length];
        LayerNormReference.Forward(sum, gamma, beta, expected, rows, dim, 1e-12f, [], []);
        KernelPathScope.ForEachPath(path =>
        {
            var y = (float[])residual.Clone(); // y aliases the residual, as the encoder layers call it
            LayerNorm.ForwardResidual(x, y, gamma, beta, y, rows, dim, 1e-12f);
            for (int i = 0; i < y.Length; i++)
                Assert.True(MathF.Abs(expected[i] - y[i]) <= 1e-5f * MathF.Max(1, MathF.Abs(expected[i])), $"{path}: {y[i]} vs {expected[i]}");
            var y2 = new float[sum.Length];
            var mean = new float[rows];
            LayerNorm.Forward(sum, gamma, beta, y2, rows, dim, 1e-12f, mean, []);
            for (int i = 0; i < y2.Length; i++)
                Assert.True(MathF.Abs(expected[i] - y2[i]) <= 1e-5f * MathF.Max(1, MathF.Abs(expected[i])), $"{path}: {y2[i]} vs {expected[i]}");
            Assert.Equal(sum.Take(dim).Average(), mean[0], 1e-4f);
        });
    }

    [Fact]
    public void VectorExpIsWithinTwoUlpsAndHandlesTheEdges()
    {
        var inputs = new List<float> { float.NegativeInfinity, -1000f, -87.4f, -87.3f, -20f, -1e-8f, 0f, 1e-8f, 1f, 20f, 88.7f, 88.8f, float.PositiveInfinity };
        for (float x = -87f; x < 88.5f; x += 0.0173f) inputs.Add(x);
        foreach (var x in inputs)
        {
            var wide = FastExp.Exp(System.Runtime.Intrinsics.Vector512.Create(x))[0];
            var narrow = FastExp.Exp(System.Runtime.Intrinsics.Vector256.Create(x))[0];
            double exact = Math.Exp(x);
            foreach (var got in new[] { wide, narrow })
            {
                if (exact < 1.1754944e-38) Assert.Equal(0f, got);
                else if (exact > float.MaxValue) Assert.Equal(float.PositiveInfinity, got);
                else Assert.True(Math.Abs(got - exact) <= 2.5e-7 * exact, $"exp({x}) = {got}, exact {exact}");
            }
        }
        Assert.True(float.IsNaN(FastExp.Exp(System.Runtime.Intrinsics.Vector512.Create(float.NaN))[0]));
    }

    [Fact]
    public void LayerNormMatchesGoldenPrimitives()
    {
        using var file = SafeTensors.Open(Fixtures.Golden("primitives", "layernorm.safetensors"));
        var x = file.ReadFloat32("x");
        var weight = file.ReadFloat32("weight");
        int dim = weight.Length, rows = x.Length / dim;
        var bias = file.ReadFloat32("bias");
        KernelPathScope.ForEachPath(path =>
        {
            foreach (var (name, eps) in new[] { ("y_eps1e-12", 1e-12f), ("y_eps1e-5", 1e-5f) })
            {
                var expected = file.ReadFloat32(name);
                var y = new float[x.Length];
                LayerNorm.Forward(x, weight, bias, y, rows, dim, eps, [], []);
                for (int i = 0; i < y.Length; i++)
                    Assert.True(MathF.Abs(expected[i] - y[i]) <= 1e-5f * MathF.Max(1, MathF.Abs(expected[i])),
                        $"{path} {name}: y[{i}] = {y[i]}, HF {expected[i]}");
            }
        });
    }
}

[Collection(nameof(ComputeCollection))]
public class ComputeAttentionTests
{
    public static IEnumerable<object[]> Batches() =>
    [
        // lengths, heads, headDim, mask pattern: 0 none, 1 random padding keys, 2 one sequence fully masked
        [new[] { 1 }, 1, 4, 0],
        [new[] { 7, 33, 0, 5 }, 3, 8, 1],
        [new[] { 130, 2 }, 2, 64, 2],
        [new[] { 49, 48, 47 }, 4, 16, 1],
    ];

    [Theory]
    [MemberData(nameof(Batches))]
    public void AttentionMatchesReferenceOnEveryPath(int[] lengths, int heads, int headDim, int maskPattern)
    {
        var rng = new Random(lengths.Sum() + heads);
        var starts = new int[lengths.Length + 1];
        for (int s = 0; s < lengths.Length; s++) starts[s + 1] = starts[s] + lengths[s];
        int tokens = starts[^1], width = heads * headDim;
        // q, k, v interleaved in one fused QKV buffer [tokens, 3·width], as a fused projection writes them
        int stride = 3 * width;
        var qkv = KernelPathScope.Random(rng, tokens * stride, 2f);
        var mask = maskPattern == 0 ? [] : Enumerable.Repeat(1f, tokens).ToArray();
        if (maskPattern == 1) for (int t = 0; t < tokens; t++) if (rng.Next(4) == 0) mask[t] = 0;
        if (maskPattern == 2) for (int t = starts[1]; t < starts[2]; t++) mask[t] = 0;
        float scale = 1f / MathF.Sqrt(headDim);
        int contextStride = width + 2;
        var expectedContext = new float[tokens * contextStride];
        var expectedProbs = new float[Attention.ProbabilitiesLength(starts, heads)];
        AttentionReference.Forward(qkv, stride, qkv.AsSpan(width), stride, qkv.AsSpan(2 * width), stride, starts, heads,
            headDim, scale, mask, expectedContext, contextStride, expectedProbs);
        KernelPathScope.ForEachPath(path =>
        {
            foreach (bool withProbs in new[] { true, false })
            {
                var context = new float[tokens * contextStride];
                var probs = withProbs ? new float[expectedProbs.Length] : [];
                Attention.Forward(qkv, stride, qkv.AsSpan(width), stride, qkv.AsSpan(2 * width), stride, starts, heads,
                    headDim, scale, mask, context, contextStride, probs);
                for (int i = 0; i < context.Length; i++)
                    Assert.True(MathF.Abs(expectedContext[i] - context[i]) <= 1e-5f, $"{path}: context[{i}] = {context[i]} vs {expectedContext[i]}");
                for (int i = 0; i < probs.Length; i++)
                {
                    Assert.True(MathF.Abs(expectedProbs[i] - probs[i]) <= 1e-6f, $"{path}: p[{i}] = {probs[i]} vs {expectedProbs[i]}");
                    if (expectedProbs[i] == 0) Assert.Equal(0f, probs[i]); // masked keys: exactly zero, as HF
                }
            }
        });
    }

    [Fact]
    public void DecreasingOffsetsAreAClearError()
    {
        var e = Assert.Throws<InvalidInputException>(() => Attention.Forward(new float[8], 2, new float[8], 2, new float[8], 2,
            [0, 3, 2], 1, 2, 1f, [], new float[8], 2, []));
        Assert.Contains("sequenceStarts[2]", e.Message);
    }
}

[Collection(nameof(ComputeCollection))]
public class ComputeThreadsTests
{
    sealed class CountingWork(int n) : ParallelWork
    {
        public readonly int[] Hits = new int[n];
        public override void Execute(int index) => Interlocked.Increment(ref Hits[index]);
    }

    sealed class ThrowingWork : ParallelWork
    {
        public override void Execute(int index) { if (index == 5) throw new InvalidOperationException("boom"); }
    }

    [Fact]
    public void EveryIndexRunsExactlyOnceEvenFromConcurrentCallers()
    {
        int saved = ComputeThreads.Count;
        try
        {
            ComputeThreads.Count = 3;
            var works = Enumerable.Range(0, 4).Select(_ => new CountingWork(1000)).ToArray();
            Parallel.For(0, 4, i => { for (int r = 0; r < 20; r++) ComputeThreads.For(50 * (i + 1), works[i]); });
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 1000; j++) Assert.Equal(j < 50 * (i + 1) ? 20 : 0, works[i].Hits[j]);
        }
        finally { ComputeThreads.Count = saved; }
    }

    [Fact]
    public void SteadyStateKernelsAllocateNothing()
    {
        var rng = new Random(11);
        int tokens = 70, dim = 96, heads = 4;
        var x = KernelPathScope.Random(rng, tokens * dim);
        var qkvWeight = PackedMatrix.FromLinearWeight(KernelPathScope.Random(rng, 3 * dim * dim, 0.1f), 3 * dim, dim);
        var ffnWeight = PackedMatrix.FromLinearWeight(KernelPathScope.Random(rng, 4 * dim * dim, 0.1f), 4 * dim, dim);
        var rawWeight = KernelPathScope.Random(rng, dim * dim);
        var qkv = new float[tokens * 3 * dim];
        var ffn = new float[tokens * 4 * dim];
        var context = new float[tokens * dim];
        var gamma = Enumerable.Repeat(1f, dim).ToArray();
        var beta = new float[dim];
        int[] starts = [0, 30, 31, 70];
        void Step()
        {
            Linear.Forward(x, tokens, qkvWeight, [], qkv);
            Attention.Forward(qkv, 3 * dim, qkv.AsSpan(dim), 3 * dim, qkv.AsSpan(2 * dim), 3 * dim, starts, heads, dim / heads,
                0.2f, [], context, dim, []);
            Linear.Forward(context, tokens, dim, rawWeight, dim, [], x);
            LayerNorm.ForwardResidual(context, x, gamma, beta, x, tokens, dim, 1e-12f);
            Linear.Forward(x, tokens, ffnWeight, [], ffn, Epilogue.Gelu);
            Softmax.Rows(ffn, tokens, 4 * dim);
        }
        Step(); // first call sizes the per-thread workspaces
        Step();
        // Other test classes run kernels at the same time and may resize the shared pool once; steady state means some
        // round of five steps allocates nothing at all (a per-call allocation would show in every round).
        long fewest = long.MaxValue;
        for (int round = 0; round < 4 && fewest > 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++) Step();
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, fewest);
    }

    [Fact]
    public void ManyTinyDispatchesWithLateWorkersRunEveryIndexOnce()
    {
        // more workers than cores: workers often wake after the caller has finished the job alone, and must neither
        // run an index of a finished job nor make the caller wait for them
        int saved = ComputeThreads.Count;
        try
        {
            ComputeThreads.Count = 4;
            var works = Enumerable.Range(0, 3).Select(_ => new CountingWork(5)).ToArray();
            for (int r = 0; r < 3000; r++) ComputeThreads.For(2 + r % 4, works[r % 3]);
            for (int w = 0; w < 3; w++)
                for (int j = 0; j < 5; j++)
                {
                    int expected = Enumerable.Range(0, 3000).Count(r => r % 3 == w && 2 + r % 4 > j);
                    Assert.Equal(expected, works[w].Hits[j]);
                }
        }
        finally { ComputeThreads.Count = saved; }
    }

    [Fact]
    public void ExceptionsReachTheCaller()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ComputeThreads.For(10, new ThrowingWork()));
        Assert.Equal("boom", e.Message);
        var after = new CountingWork(10);
        ComputeThreads.For(10, after); // the pool still works
        Assert.All(after.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void ThreadCountIsValidated()
    {
        Assert.Throws<InvalidInputException>(() => ComputeThreads.Count = 0);
    }
}
