using DistilBert.Modeling;
using DistilBert.Compute;
using DistilBert.Training;

namespace DistilBert.Tests;

/// <summary>The training-step kernels against their plain reference twins, on every kernel path the machine has.</summary>
[Collection(nameof(ComputeCollection))]
public class TrainSpeedKernelTests
{
    /// <summary>Ragged batch: lengths around the 8-wide transpose blocks and 16-wide vectors, one fully masked sequence
    /// and one with masked keys; dropout mask on or off; DistilBERT's and BERT's masking.</summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void AttentionBackwardMatchesReference(bool dropout, bool additiveMask)
    {
        var rng = new Random(dropout ? 3 : 4);
        int[] lengths = [17, 8, 1, 24, 5];
        int heads = 3, headDim = 8, dim = heads * headDim, stride = dim + 3;
        var starts = new int[lengths.Length + 1];
        for (int s = 0; s < lengths.Length; s++) starts[s + 1] = starts[s] + lengths[s];
        int tokens = starts[^1];
        var keyMask = new float[tokens];
        Array.Fill(keyMask, 1f);
        for (int j = starts[1]; j < starts[2]; j++) keyMask[j] = 0; // sequence 1: every key masked
        for (int j = starts[3] + 20; j < starts[4]; j++) keyMask[j] = 0; // sequence 3: the last keys masked
        var q = KernelPathScope.Random(rng, tokens * stride);
        var k = KernelPathScope.Random(rng, tokens * stride);
        var v = KernelPathScope.Random(rng, tokens * stride);
        var dContext = KernelPathScope.Random(rng, tokens * stride);
        long probLength = Attention.ProbabilitiesLength(starts, heads);
        var probs = new float[probLength];
        var context = new float[tokens * stride];
        AttentionReference.Forward(q, stride, k, stride, v, stride, starts, heads, headDim, 0.35f, keyMask, context, stride, probs);
        float[] used = probs, dropMask = [];
        if (dropout)
        {
            dropMask = new float[probLength];
            used = new float[probLength];
            for (int i = 0; i < probLength; i++)
            {
                dropMask[i] = rng.NextDouble() < 0.2 ? 0f : 1.25f;
                used[i] = probs[i] * dropMask[i];
            }
        }
        var expected = (dq: new float[tokens * stride], dk: new float[tokens * stride], dv: new float[tokens * stride]);
        AttentionBackwardReference.Backward(q, k, v, stride, starts, heads, headDim, 0.35f, keyMask, !additiveMask, probs, used, dropMask,
            dContext, expected.dq, expected.dk, expected.dv);
        // the fully masked sequence: no gradient to q with DistilBERT's fill, the uniform softmax's with BERT's mask
        double maskedDq = Enumerable.Range(starts[1] * stride, lengths[1] * stride).Sum(i => Math.Abs(expected.dq[i]));
        Assert.True(additiveMask ? maskedDq > 0 : maskedDq == 0);
        KernelPathScope.ForEachPath(path =>
        {
            var dq = new float[tokens * stride];
            var dk = new float[tokens * stride];
            var dv = new float[tokens * stride];
            Array.Fill(dq, float.NaN); // every gradient element must be written
            Array.Fill(dk, float.NaN);
            Array.Fill(dv, float.NaN);
            AttentionBackward.Backward(q, k, v, stride, starts, heads, headDim, 0.35f, keyMask, !additiveMask, probs, used, dropMask,
                dContext, dq, dk, dv);
            for (int t = 0; t < tokens; t++)
                for (int c = 0; c < dim; c++)
                {
                    int i = t * stride + c;
                    AssertNear(expected.dq[i], dq[i], $"{path} dq[{t},{c}]");
                    AssertNear(expected.dk[i], dk[i], $"{path} dk[{t},{c}]");
                    AssertNear(expected.dv[i], dv[i], $"{path} dv[{t},{c}]");
                }
        });
    }

    /// <summary>Softmax is shift-invariant, so exactly Σ_keys dS = 0 (the key bias gets no gradient). Computed in float the
    /// row kept a residue of a few ulps of its largest terms, which a last-layer query or key-bias gradient is mostly made
    /// of: enough to fail the golden distillation gradients. With peaked rows (one key dominates, dS is small) the residue was up to 2 % of Σ|dS|; now ≤ 3.5e-8 of it.</summary>
    [Fact]
    public void SoftmaxBackwardRowsSumToZero()
    {
        var rng = new Random(11);
        KernelPathScope.ForEachPath(path =>
        {
            foreach (int t in new[] { 7, 16, 128, 200 })
            {
                var p = new float[t];
                var g = new float[t];
                for (int j = 0; j < t; j++) { p[j] = (rng.NextSingle() - 0.5f) * 40; g[j] = rng.NextSingle() - 0.5f; } // peaked
                Softmax.Rows(p, 1, t);
                AttentionBackward.SoftmaxBackwardRow(p, default, g);
                double sum = 0, size = 0;
                foreach (float x in g) { sum += x; size += Math.Abs(x); }
                Assert.True(Math.Abs(sum) <= 5e-8 * size, $"{path}, T = {t}: dS sums to {sum:E2} (Σ|dS| = {size:E2})");
            }
        });
    }

    [Fact]
    public void AttentionBackwardRejectsAShortProbabilityBuffer()
    {
        int[] starts = [0, 4];
        var x = new float[4 * 8];
        var e = Assert.Throws<InvalidInputException>(() => AttentionBackward.Backward(x, x, x, 8, starts, 2, 4, 1f, default, true,
            new float[31], new float[32], default, x, new float[32], new float[32], new float[32]));
        Assert.Contains("needs 32", e.Message);
    }

    [Fact]
    public void AdamWUpdateIsBitIdenticalToTheScalarLoop()
    {
        var rng = new Random(5);
        foreach (int n in new[] { 1, 15, 17, 1000, (1 << 16) + 37, 3 * (1 << 16) })
            foreach (bool decay in new[] { false, true })
                KernelPathScope.ForEachPath(path =>
                {
                    var p = KernelPathScope.Random(rng, n);
                    var g = KernelPathScope.Random(rng, n, 0.1f);
                    var m = KernelPathScope.Random(rng, n, 0.01f);
                    var v = KernelPathScope.Random(rng, n, 0.001f);
                    for (int i = 0; i < n; i++) v[i] = Math.Abs(v[i]);
                    var s = new AdamWScalars(0.999f, decay, 0.9f, 0.1f, 0.999f, 0.001f, 1e-3f / 0.19f, MathF.Sqrt(0.002f), 1e-8f);
                    var (p2, m2, v2) = ((float[])p.Clone(), (float[])m.Clone(), (float[])v.Clone());
                    OptimizerReference.AdamWUpdate(p2, g, m2, v2, s);
                    OptimizerKernels.AdamWUpdate(p, g, m, v, s);
                    Assert.True(p.AsSpan().SequenceEqual(p2) && m.AsSpan().SequenceEqual(m2) && v.AsSpan().SequenceEqual(v2), $"{path}, n = {n}, decay {decay}");
                });
    }

    [Fact]
    public void NormAndScaleMatchTheScalarLoops()
    {
        var rng = new Random(6);
        foreach (int n in new[] { 1, 9, 100, (1 << 16) * 2 + 5 })
            KernelPathScope.ForEachPath(path =>
            {
                var x = KernelPathScope.Random(rng, n, 3f);
                Assert.Equal(OptimizerReference.SumOfSquares(x), OptimizerKernels.SumOfSquares(x), 1e-9 * n);
                var expected = x.Select(e => e * 0.37f).ToArray();
                OptimizerKernels.Scale(x, 0.37f);
                Assert.Equal(expected, x);
            });
    }

    [Fact]
    public void GeluBackwardMatchesTheScalarLoop()
    {
        var rng = new Random(8);
        foreach (int n in new[] { 7, 40, (1 << 15) * 3 + 11 })
        {
            var x = KernelPathScope.Random(rng, n, 6f);
            x[0] = 0f; x[1 % n] = 0.5f; x[2 % n] = -0.5f; // the branch edges and x = 0 (series branch)
            var y = new float[n];
            Activations.Gelu(x, y);
            var dy = KernelPathScope.Random(rng, n);
            var expected = new float[n];
            ActivationsBackwardReference.Gelu(x, y, dy, expected);
            KernelPathScope.ForEachPath(path =>
            {
                var dx = (float[])dy.Clone(); // in place, as the FFN calls it
                ActivationsBackward.Gelu(x, y, dx, dx);
                for (int i = 0; i < n; i++)
                    Assert.True(Math.Abs(dx[i] - expected[i]) <= 1e-6f + 1e-6f * Math.Abs(expected[i]), $"{path} x = {x[i]}: {dx[i]} vs {expected[i]}");
            });
        }
    }

    [Fact]
    public void ReluAndTanhBackwardMatchTheScalarLoops()
    {
        var rng = new Random(9);
        var x = KernelPathScope.Random(rng, 37);
        x[3] = 0f; x[4] = float.NaN;
        var dy = KernelPathScope.Random(rng, 37);
        var expected = new float[37];
        ActivationsBackwardReference.Relu(x, dy, expected);
        KernelPathScope.ForEachPath(path =>
        {
            var dx = new float[37];
            ActivationsBackward.Relu(x, dy, dx);
            Assert.Equal(expected, dx);
        });
        var y = x.Select(MathF.Tanh).ToArray();
        var dxTanh = new float[37];
        ActivationsBackward.Tanh(y, dy, dxTanh);
        Assert.Equal(dy[5] * (1 - y[5] * y[5]), dxTanh[5]);
    }

    [Theory]
    [InlineData(1, 768)]
    [InlineData(70, 37)]
    [InlineData(33, 128)]
    public void LayerNormBackwardMatchesReference(int rows, int dim)
    {
        var rng = new Random(rows + dim);
        var x = KernelPathScope.Random(rng, rows * dim, 2f);
        for (int i = 0; i < x.Length; i++) x[i] += 3f; // an offset mean, where x − μ matters
        var gamma = KernelPathScope.Random(rng, dim);
        var beta = KernelPathScope.Random(rng, dim);
        var (mean, rstd) = (new float[rows], new float[rows]);
        LayerNormReference.Forward(x, gamma, beta, new float[rows * dim], rows, dim, 1e-12f, mean, rstd);
        var dy = KernelPathScope.Random(rng, rows * dim);
        var expected = (dx: new float[rows * dim], dGamma: KernelPathScope.Random(rng, dim), dBeta: KernelPathScope.Random(rng, dim));
        var startGamma = (float[])expected.dGamma.Clone();
        var startBeta = (float[])expected.dBeta.Clone();
        LayerNormBackwardReference.Backward(x, mean, rstd, gamma, dy, rows, dim, expected.dx, expected.dGamma, expected.dBeta);
        KernelPathScope.ForEachPath(path =>
        {
            var dx = new float[rows * dim];
            var dGamma = (float[])startGamma.Clone();
            var dBeta = (float[])startBeta.Clone();
            LayerNormBackward.Backward(x, mean, rstd, gamma, dy, rows, dim, dx, dGamma, dBeta);
            for (int i = 0; i < dx.Length; i++) AssertNear(expected.dx[i], dx[i], $"{path} dx[{i}]");
            for (int i = 0; i < dim; i++)
            {
                Assert.True(Math.Abs(expected.dGamma[i] - dGamma[i]) <= 1e-5 * rows, $"{path} dGamma[{i}]: {dGamma[i]} vs {expected.dGamma[i]}");
                Assert.True(Math.Abs(expected.dBeta[i] - dBeta[i]) <= 1e-5 * rows, $"{path} dBeta[{i}]: {dBeta[i]} vs {expected.dBeta[i]}");
            }
            // no parameter gradients wanted: dx alone
            var dxOnly = new float[rows * dim];
            LayerNormBackward.Backward(x, mean, rstd, gamma, dy, rows, dim, dxOnly, default, default);
            Assert.Equal(dx, dxOnly);
        });
    }

    [Fact]
    public void ColumnSumsAndMultiplyAreTheScalarLoopsBits()
    {
        var rng = new Random(10);
        int rows = 29, cols = 53;
        var x = KernelPathScope.Random(rng, rows * cols);
        var start = KernelPathScope.Random(rng, cols);
        var expected = (float[])start.Clone();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) expected[j] += x[r * cols + j];
        var mask = KernelPathScope.Random(rng, rows * cols);
        KernelPathScope.ForEachPath(path =>
        {
            var sums = (float[])start.Clone();
            Elementwise.AddColumnSums(x, rows, cols, sums);
            Assert.Equal(expected, sums);
            var product = (float[])x.Clone();
            Elementwise.Multiply(product, mask, product);
            Assert.Equal(x.Select((v, i) => v * mask[i]).ToArray(), product);
        });
    }

    /// <summary>dy with 0, a few, most and all rows non-zero (the gathered and the dense path), dx overwritten or accumulated.</summary>
    [Theory]
    [InlineData(0, false)]
    [InlineData(3, false)]
    [InlineData(3, true)]
    [InlineData(40, true)]
    [InlineData(50, false)]
    public void LinearBackwardSkipsZeroRowsExactly(int activeRows, bool accumulateDx)
    {
        var rng = new Random(activeRows + (accumulateDx ? 100 : 0));
        int rows = 50, inFeatures = 37, outFeatures = 29;
        var x = KernelPathScope.Random(rng, rows * inFeatures);
        var weight = KernelPathScope.Random(rng, outFeatures * inFeatures);
        var dy = new float[rows * outFeatures];
        foreach (int r in Enumerable.Range(0, rows).OrderBy(_ => rng.Next()).Take(activeRows))
            for (int j = 0; j < outFeatures; j++) dy[r * outFeatures + j] = (float)(rng.NextDouble() - 0.5);
        var startW = KernelPathScope.Random(rng, outFeatures * inFeatures);
        var startB = KernelPathScope.Random(rng, outFeatures);
        var startDx = KernelPathScope.Random(rng, rows * inFeatures);
        var (ew, eb, edx) = ((float[])startW.Clone(), (float[])startB.Clone(), (float[])startDx.Clone());
        LinearBackwardReference.Backward(x, dy, rows, inFeatures, outFeatures, weight, ew, eb, edx, accumulateDx);
        var (w, b, dx) = ((float[])startW.Clone(), (float[])startB.Clone(), (float[])startDx.Clone());
        LinearBackward.Backward(x, dy, rows, inFeatures, outFeatures, weight, w, b, dx, accumulateDx);
        for (int i = 0; i < w.Length; i++) AssertNear(ew[i], w[i], $"dW[{i}]");
        for (int i = 0; i < b.Length; i++) AssertNear(eb[i], b[i], $"db[{i}]");
        for (int i = 0; i < dx.Length; i++) AssertNear(edx[i], dx[i], $"dx[{i}]");
        // only some outputs wanted
        var dxOnly = (float[])startDx.Clone();
        LinearBackward.Backward(x, dy, rows, inFeatures, outFeatures, weight, default, default, dxOnly, accumulateDx);
        Assert.Equal(dx, dxOnly);
        var wOnly = (float[])startW.Clone();
        LinearBackward.Backward(x, dy, rows, inFeatures, outFeatures, weight, wOnly, default, default, accumulateDx);
        Assert.Equal(w, wOnly);
    }

    [Fact]
    public void DropoutDrawsTheScalarLoopsMasksAndLeavesTheSameRngState()
    {
        foreach (double p in new[] { 0.1, 0.5, 0.97 })
            foreach (int n in new[] { 1, 15, 16, 33, 1000 })
                KernelPathScope.ForEachPath(path =>
                {
                    var x = KernelPathScope.Random(new Random(n), n);
                    var (expectedX, expectedMask, mask) = ((float[])x.Clone(), new float[n], new float[n]);
                    var (reference, random) = (new SeededRandom(12345), new SeededRandom(12345));
                    DistilBert.Modeling.Layers.DropoutReference.Forward(expectedX, p, reference, expectedMask);
                    DistilBert.Modeling.Layers.Dropout.Forward(x, p, random, mask);
                    Assert.Equal(expectedMask, mask);
                    Assert.Equal(expectedX, x);
                    Assert.Equal(reference.State, random.State);
                    if (n == 1000) Assert.InRange(mask.Count(m => m == 0) / 1000.0, p - 0.06, p + 0.06);
                });
    }

    [Fact]
    public void ContextFromProbabilitiesMatchesReference()
    {
        var rng = new Random(11);
        int[] starts = [0, 17, 25, 26, 50];
        int heads = 2, headDim = 16, stride = 35;
        var probs = KernelPathScope.Random(rng, (int)Attention.ProbabilitiesLength(starts, heads));
        var v = KernelPathScope.Random(rng, 50 * stride);
        var expected = new float[50 * stride];
        AttentionContextReference.FromProbabilities(probs, v, stride, starts, heads, headDim, expected);
        KernelPathScope.ForEachPath(path =>
        {
            var context = new float[50 * stride];
            AttentionContext.FromProbabilities(probs, v, stride, starts, heads, headDim, context);
            for (int i = 0; i < context.Length; i++) AssertNear(expected[i], context[i], $"{path} context[{i}]");
        });
    }

    static void AssertNear(float expected, float actual, string what)
    {
        Assert.False(float.IsNaN(actual), $"{what} was not written");
        Assert.True(Math.Abs(expected - actual) <= 2e-5 + 2e-5 * Math.Abs(expected), $"{what}: expected {expected}, got {actual}");
    }
}
