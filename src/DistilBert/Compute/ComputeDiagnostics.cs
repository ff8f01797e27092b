using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistilBert.Compute;

/// <summary>Machine limits the benchmarks report achieved rates against.</summary>
/// <remarks>Thread-safety: stateless; a measurement is only meaningful with nothing else running.</remarks>
public static class ComputeDiagnostics
{
    /// <summary>The instruction set the kernels run on in this process: <c>avx512</c>, <c>avx2</c> or <c>portable</c>
    /// (Vector128: SSE on x64, AdvSimd on ARM). A NativeAOT build fixes what it may use when compiled
    /// (docs/native.md), so this is where to check which path a binary really takes.</summary>
    public static string KernelPathName => KernelPaths.Best switch
    {
        KernelPath.Avx512 => "avx512",
        KernelPath.Avx2 => "avx2",
        _ => "portable",
    };

    /// <summary>Measures the FMA peak in GFLOP/s with <paramref name="threads"/> threads each running 16 independent
    /// vector FMA chains (the widest path the machine has) for about <paramref name="seconds"/>.</summary>
    public static double MeasureFmaPeak(int threads, double seconds = 0.3)
    {
        bool wide = KernelPaths.Best == KernelPath.Avx512;
        long iterations = 1 << 20;
        // calibrate on one thread, then run all threads together
        var sw = System.Diagnostics.Stopwatch.StartNew();
        FmaChains(iterations, wide);
        double perIteration = sw.Elapsed.TotalSeconds / iterations;
        iterations = Math.Max(1 << 16, (long)(seconds / perIteration));
        var start = new Barrier(threads + 1);
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            workers[t] = new Thread(() => { start.SignalAndWait(); FmaChains(iterations, wide); });
            workers[t].Start();
        }
        start.SignalAndWait();
        sw.Restart();
        foreach (var w in workers) w.Join();
        double elapsed = sw.Elapsed.TotalSeconds;
        double flopsPerIteration = 16 * (wide ? 16 : 8) * 2;
        return threads * iterations * flopsPerIteration / elapsed / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static float FmaChains(long iterations, bool wide) => wide ? Chains512(iterations) : Chains256(iterations);

    static float Chains512(long iterations)
    {
        var m = Vector512.Create(0.999999f);
        var a = Vector512.Create(1e-7f);
        Vector512<float> c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m,
            c8 = m, c9 = m, c10 = m, c11 = m, c12 = m, c13 = m, c14 = m, c15 = m;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Avx512F.FusedMultiplyAdd(c0, m, a); c1 = Avx512F.FusedMultiplyAdd(c1, m, a);
            c2 = Avx512F.FusedMultiplyAdd(c2, m, a); c3 = Avx512F.FusedMultiplyAdd(c3, m, a);
            c4 = Avx512F.FusedMultiplyAdd(c4, m, a); c5 = Avx512F.FusedMultiplyAdd(c5, m, a);
            c6 = Avx512F.FusedMultiplyAdd(c6, m, a); c7 = Avx512F.FusedMultiplyAdd(c7, m, a);
            c8 = Avx512F.FusedMultiplyAdd(c8, m, a); c9 = Avx512F.FusedMultiplyAdd(c9, m, a);
            c10 = Avx512F.FusedMultiplyAdd(c10, m, a); c11 = Avx512F.FusedMultiplyAdd(c11, m, a);
            c12 = Avx512F.FusedMultiplyAdd(c12, m, a); c13 = Avx512F.FusedMultiplyAdd(c13, m, a);
            c14 = Avx512F.FusedMultiplyAdd(c14, m, a); c15 = Avx512F.FusedMultiplyAdd(c15, m, a);
        }
        var s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15;
        return Vector512.Sum(s);
    }

    static float Chains256(long iterations)
    {
        var m = Vector256.Create(0.999999f);
        var a = Vector256.Create(1e-7f);
        Vector256<float> c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m,
            c8 = m, c9 = m, c10 = m, c11 = m, c12 = m, c13 = m, c14 = m, c15 = m;
        for (long i = 0; i < iterations; i++)
        {
            c0 = MulAdd(c0, m, a); c1 = MulAdd(c1, m, a); c2 = MulAdd(c2, m, a); c3 = MulAdd(c3, m, a);
            c4 = MulAdd(c4, m, a); c5 = MulAdd(c5, m, a); c6 = MulAdd(c6, m, a); c7 = MulAdd(c7, m, a);
            c8 = MulAdd(c8, m, a); c9 = MulAdd(c9, m, a); c10 = MulAdd(c10, m, a); c11 = MulAdd(c11, m, a);
            c12 = MulAdd(c12, m, a); c13 = MulAdd(c13, m, a); c14 = MulAdd(c14, m, a); c15 = MulAdd(c15, m, a);
        }
        var s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15;
        return Vector256.Sum(s);
    }

    static Vector256<float> MulAdd(Vector256<float> x,
        Vector256<float> y, Vector256<float> z) =>
        Fma.IsSupported ? Fma.MultiplyAdd(x, y, z) : x * y + z;
}
