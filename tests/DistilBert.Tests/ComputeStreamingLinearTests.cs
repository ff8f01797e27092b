using DistilBert.Compute;

namespace DistilBert.Tests;

/// <summary>Linear.ForwardStreamingWeight (the small-M kernel reading W as stored) against the plain loops, on every kernel path.</summary>
[Collection(nameof(ComputeCollection))]
public class ComputeStreamingLinearTests
{
    /// <summary>Float noise bound of one dot product: a few ulps of the sum of |x·w| terms.</summary>
    static void AssertClose(float[] expected, float[] actual, float[] x, float[] w, int m, int k, int n, string what)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double magnitude = 0;
                for (int p = 0; p < k; p++) magnitude += Math.Abs(x[i * k + p] * w[j * k + p]);
                double tolerance = 1e-6 * magnitude + 1e-6;
                float e = expected[i * n + j], a = actual[i * n + j];
                Assert.True(Math.Abs(e - a) <= tolerance, $"{what}: y[{i}, {j}] = {a}, reference {e} (m {m}, n {n}, k {k})");
            }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 5)]
    [InlineData(7, 37)]
    [InlineData(33, 6)]
    [InlineData(768, 131)]
    public void EveryRowCountMatchesThePlainLoops(int k, int n)
    {
        var rng = new Random(k * 31 + n);
        var w = KernelPathScope.Random(rng, n * k, 0.2f);
        var bias = KernelPathScope.Random(rng, n);
        for (int m = 1; m <= 16; m++)
        {
            var x = KernelPathScope.Random(rng, m * k);
            var expected = new float[m * n];
            LinearReference.Forward(x, m, k, w, n, bias, expected);
            var viaGemm = new float[m * n];
            GemmReference.Sgemm(false, true, m, n, k, 1f, x, k, w, k, 0f, viaGemm, n);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) viaGemm[i * n + j] += bias[j];
            AssertClose(viaGemm, expected, x, w, m, k, n, "reference vs GemmReference");
            KernelPathScope.ForEachPath(path =>
            {
                var y = new float[m * n];
                Linear.ForwardStreamingWeight(x, m, k, w, n, bias, y);
                AssertClose(expected, y, x, w, m, k, n, $"{path}");
                var noBias = new float[m * n];
                Linear.ForwardStreamingWeight(x, m, k, w, n, [], noBias);
                for (int i = 0; i < y.Length; i++) Assert.Equal(y[i] - bias[i % n], noBias[i], 1e-5f);
            });
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(37)] // beyond the few rows it is made for: still exact
    public void ParallelTasksOverAProjectorSizedWeightMatchThePlainLoops(int m)
    {
        const int k = 768, n = 1001; // 16 tasks of 64 W rows, the last one ragged (41 rows, 1 beyond a multiple of 4)
        var rng = new Random(m);
        var w = KernelPathScope.Random(rng, n * k, 0.05f);
        var bias = KernelPathScope.Random(rng, n);
        var x = KernelPathScope.Random(rng, m * k);
        var expected = new float[m * n];
        LinearReference.Forward(x, m, k, w, n, bias, expected);
        KernelPathScope.ForEachPath(path =>
        {
            var y = new float[m * n];
            Linear.ForwardStreamingWeight(x, m, k, w, n, bias, y);
            AssertClose(expected, y, x, w, m, k, n, $"{path}");
        });
    }

    [Fact]
    public void UnpackedLinearStreamsUpToSixteenRowsAndPacksBeyond()
    {
        const int k = 96, n = 203;
        var rng = new Random(3);
        var w = KernelPathScope.Random(rng, n * k, 0.2f);
        var bias = KernelPathScope.Random(rng, n);
        foreach (int m in new[] { 1, Linear.StreamingMaxRows, Linear.StreamingMaxRows + 1 })
        {
            var x = KernelPathScope.Random(rng, m * k);
            var streamed = new float[m * n];
            Linear.ForwardStreamingWeight(x, m, k, w, n, bias, streamed);
            var y = new float[m * n];
            Linear.Forward(x, m, k, w, n, bias, y);
            if (m <= Linear.StreamingMaxRows) Assert.Equal(streamed, y); // the same kernel, so the same bits
            else AssertClose(streamed, y, x, w, m, k, n, "packed GEMM vs streamed");
        }
    }

    [Fact]
    public void FewRowsAllocateNoWorkspaceProportionalToTheWeight()
    {
        const int m = 4, k = 512, n = 4096; // W is 8 MB; packing it per call would grow an 8 MB workspace
        var rng = new Random(9);
        var w = KernelPathScope.Random(rng, n * k, 0.1f);
        var x = KernelPathScope.Random(rng, m * k);
        var y = new float[m * n];
        long allocated = -1;
        // a fresh thread: its per-thread GEMM workspaces start empty, so any packing would show in its allocations
        var thread = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Linear.Forward(x, m, k, w, n, [], y);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        });
        thread.Start();
        thread.Join();
        Assert.InRange(allocated, 0, 64 * 1024);
        var expected = new float[m * n];
        LinearReference.Forward(x, m, k, w, n, [], expected);
        AssertClose(expected, y, x, w, m, k, n, "fresh thread");
    }

    [Fact]
    public void ShortOperandsAreClearErrors()
    {
        var e = Assert.Throws<InvalidInputException>(() => Linear.ForwardStreamingWeight(new float[6], 2, 3, new float[11], 4, [], new float[8]));
        Assert.Contains("weight", e.Message);
        e = Assert.Throws<InvalidInputException>(() => Linear.ForwardStreamingWeight(new float[6], 2, 3, new float[12], 4, new float[3], new float[8]));
        Assert.Contains("bias", e.Message);
        e = Assert.Throws<InvalidInputException>(() => Linear.ForwardStreamingWeight(new float[6], 2, 3, new float[12], 4, [], new float[7]));
        Assert.Contains("y", e.Message);
    }
}
