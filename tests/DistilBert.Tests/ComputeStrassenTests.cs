using DistilBert;
using DistilBert.Compute;
using Xunit;

namespace DistilBert.Tests;

/// <summary>One level of Strassen on named 128-row blocks (GemmStrassen.cs): within float noise of the exact product,
/// rows outside the blocks bit-identical to the plain GEMM, a block's rows independent of where the batch puts it.</summary>
[Collection(nameof(ComputeCollection))]
public class ComputeStrassenTests
{
    static (float[] X, PackedMatrix W, float[] Weight, float[] Bias) Problem(int m, int n, int k, int seed)
    {
        var rng = new Random(seed);
        var x = KernelPathScope.Random(rng, m * k);
        var weight = KernelPathScope.Random(rng, n * k, 0.1f);
        return (x, PackedMatrix.FromLinearWeight(weight, n, k), weight, KernelPathScope.Random(rng, n));
    }

    /// <summary>The product in double precision, then bias and activation: the exact answer both GEMMs approximate.</summary>
    static double[] Exact(float[] x, int m, int k, float[] weight, int n, float[] bias, Epilogue epilogue)
    {
        var y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = bias[j];
                for (int p = 0; p < k; p++) sum += (double)x[i * k + p] * weight[j * k + p];
                y[i * n + j] = epilogue switch
                {
                    Epilogue.Gelu => Activations.GeluScalar((float)sum),
                    Epilogue.Relu => Math.Max(0, sum),
                    _ => sum,
                };
            }
        return y;
    }

    [SkippableTheory]
    // one block, K in one pass; two column pairs with GELU; two blocks with plain rows around them and K/2 = 1600 in
    // two K blocks (> 1536)
    [InlineData(128, 96, 64, Epilogue.None, new[] { 0 })]
    [InlineData(128, 192, 768, Epilogue.Gelu, new[] { 0 })]
    [InlineData(300, 96, 3200, Epilogue.Relu, new[] { 10, 150 })]
    public void StrassenBlocksStayWithinFloatNoiseAndLeaveOtherRowsAlone(int m, int n, int k, Epilogue epilogue, int[] blocks)
    {
        KernelPathScope.RequireAvx512("Strassen");
        var (x, packed, weight, bias) = Problem(m, n, k, m + k);
        var plain = new float[m * n];
        var strassen = new float[m * n];
        Linear.Forward(x, m, packed, bias, plain, epilogue);
        Linear.Forward(x, m, packed, bias, strassen, epilogue, blocks);
        var exact = Exact(x, m, k, weight, n, bias, epilogue);

        double worstStrassen = 0, worstPlain = 0;
        bool anyDifference = false;
        for (int i = 0; i < m; i++)
        {
            bool inBlock = blocks.Any(b => i >= b && i < b + GemmDriver.StrassenRows);
            for (int j = 0; j < n; j++)
            {
                int at = i * n + j;
                double scale = 1 + Math.Abs(exact[at]);
                worstPlain = Math.Max(worstPlain, Math.Abs(plain[at] - exact[at]) / scale);
                worstStrassen = Math.Max(worstStrassen, Math.Abs(strassen[at] - exact[at]) / scale);
                if (!inBlock) Assert.Equal(plain[at], strassen[at]); // the plain GEMM's own bits
                else anyDifference |= plain[at] != strassen[at];
            }
        }
        // both within float noise of the exact product; Strassen's bound is a few times the plain one's
        Assert.True(worstPlain < 1e-5, $"plain GEMM off by {worstPlain:E2}");
        Assert.True(worstStrassen < 3e-5, $"Strassen off by {worstStrassen:E2} (plain {worstPlain:E2})");
        Assert.True(anyDifference, "the Strassen rows equal the plain GEMM's bit for bit: Strassen did not run");
    }

    [SkippableFact]
    public void ABlockGetsTheSameBitsWhereverTheBatchPutsIt()
    {
        KernelPathScope.RequireAvx512("Strassen");
        // 290 rows, the block at row 150; the same 128 rows alone as a block at row 0
        const int m = 290, n = 192, k = 256, start = 150;
        var (x, packed, _, bias) = Problem(m, n, k, 3);
        var batch = new float[m * n];
        Linear.Forward(x, m, packed, bias, batch, Epilogue.Gelu, [start]);
        var alone = new float[GemmDriver.StrassenRows * n];
        Linear.Forward(x.AsSpan(start * k, GemmDriver.StrassenRows * k), GemmDriver.StrassenRows, packed, bias, alone, Epilogue.Gelu, [0]);
        Assert.Equal(alone, batch.AsSpan(start * n, GemmDriver.StrassenRows * n).ToArray());
    }

    [SkippableTheory]
    [InlineData(144, 64)] // n / 2 is not a whole number of 48-column panels
    [InlineData(96, 63)]  // odd K
    public void ShapesStrassenCannotTakeGetThePlainBits(int n, int k)
    {
        KernelPathScope.RequireAvx512("Strassen"); // elsewhere every shape gets the plain bits anyway
        const int m = 130;
        var (x, packed, _, bias) = Problem(m, n, k, 11);
        var plain = new float[m * n];
        var named = new float[m * n];
        Linear.Forward(x, m, packed, bias, plain);
        Linear.Forward(x, m, packed, bias, named, Epilogue.None, [1]);
        Assert.Equal(plain, named);
    }

    [Theory]
    [InlineData(new[] { 0, 100 }, 300)] // overlapping
    [InlineData(new[] { 150, 0 }, 300)] // out of order
    [InlineData(new[] { 200 }, 300)]    // past the last row
    [InlineData(new[] { -1 }, 300)]
    public void BadBlocksAreRejected(int[] blocks, int m)
    {
        var (x, packed, _, bias) = Problem(m, 96, 64, 5);
        var ex = Assert.Throws<InvalidInputException>(() => Linear.Forward(x, m, packed, bias, new float[m * 96], Epilogue.None, blocks));
        Assert.Contains("Strassen block", ex.Message);
    }

    [Fact]
    public void FindNamesWhole128TokenBlocksCountedFromEachSequenceStart()
    {
        // sequences of 300, 127, 256 and 128 tokens
        int[] starts = [0, 300, 427, 683, 811];
        var found = new int[1];
        int count = StrassenBlocks.Find(starts, 0, 811, ref found);
        Assert.Equal([0, 128, 427, 555, 683], found[..count]);
        // a window of whole sequences [300, 811): starts relative to it
        count = StrassenBlocks.Find(starts.AsSpan(1), 300, 811, ref found);
        Assert.Equal([127, 255, 383], found[..count]);
        Assert.Equal(0, StrassenBlocks.Find([0, 127], 0, 127, ref found));
    }
}
