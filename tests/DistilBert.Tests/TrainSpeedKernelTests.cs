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

    static void AssertNear(float expected, float actual, string what)
    {
        Assert.False(float.IsNaN(actual), $"{what} was not written");
        Assert.True(Math.Abs(expected - actual) <= 2e-5 + 2e-5 * Math.Abs(expected), $"{what}: expected {expected}, got {actual}");
    }
}
