using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistilBert.Compute;

/// <summary>
/// The kernel of <see cref="Linear.ForwardStreamingWeight"/>. W is cut into tasks of <see cref="RowsPerTask"/> rows
/// (parallel over n). A task takes its rows four at a time and dots them with the x rows, four x rows at a time
/// (AVX-512: 16 accumulators in registers, 8 loads feed 16 FMAs), then one at a time for the last m mod 4: the four
/// W rows (12 KB at k = 768) stay in L1 while every x row passes over them, so each W row comes from memory once.
/// The ragged end of K goes through zero-padded copies of the row tails, so the vector loop never reads past a row.
/// </summary>
internal static unsafe class StreamingLinear
{
    /// <summary>W rows per parallel task: 192 KB at k = 768, about 480 tasks for a 30522-token projector, so a thread that
    /// loses its core to another process simply takes fewer of them.</summary>
    const int RowsPerTask = 64;
    /// <summary>Below this many multiply-adds the calling thread does everything: waking the pool costs more.</summary>
    const long SerialBelow = 1 << 16;
    /// <summary>Floats per padded tail row: one AVX-512 vector.</summary>
    const int TailWidth = 16;

    [ThreadStatic] static Work? _work;

    /// <param name="x">[m, k]</param>
    /// <param name="w">[n, k]</param>
    /// <param name="bias">[n] or null</param>
    /// <param name="y">[m, n]</param>
    public static void Run(float* x, int m, int k, float* w, int n, float* bias, float* y)
    {
        int tasks = (n + RowsPerTask - 1) / RowsPerTask;
        var work = _work ??= new Work();
        work.Set(x, m, k, w, n, bias, y, KernelPaths.Active);
        try
        {
            if (tasks == 1 || (long)m * n * k < SerialBelow)
                for (int t = 0; t < tasks; t++) work.Execute(t);
            else
                ComputeThreads.For(tasks, work);
        }
        finally { work.Clear(); }
    }

    sealed class Work : ParallelWork
    {
        float* _x, _w, _bias, _y;
        int _m, _k, _n;
        KernelPath _path;

        public void Set(float* x, int m, int k, float* w, int n, float* bias, float* y, KernelPath path)
        {
            _x = x; _m = m; _k = k; _w = w; _n = n; _bias = bias; _y = y; _path = path;
        }

        public void Clear() { _x = _w = _bias = _y = null; }

        public override void Execute(int index)
        {
            int j0 = index * RowsPerTask;
            Rows(_path, _x, _m, _k, _w, j0, Math.Min(j0 + RowsPerTask, _n), _n, _bias, _y);
        }
    }

    /// <summary>y[:, j0..j1) from W rows j0..j1.</summary>
    static void Rows(KernelPath path, float* x, int m, int k, float* w, int j0, int j1, int n, float* bias, float* y)
    {
        float* tails = stackalloc float[8 * TailWidth]; // 4 W rows then 4 x rows
        // the vector loops take K up to a multiple of their width; the rest runs once more over zero-padded copies (no
        // call inside the loops: the register allocator would spill the accumulators around it)
        int full = k - k % (path == KernelPath.Avx512 ? 16 : 8);
        int j = j0;
        for (; j + 4 <= j1; j += 4)
        {
            float* wj = w + (nint)j * k;
            float* bj = bias == null ? null : bias + j;
            int r = 0;
            for (; r + 4 <= m; r += 4)
            {
                float* xr = x + (nint)r * k, yr = y + (nint)r * n + j;
                Dot4x4(path, wj, k, xr, k, full, yr, n, bj, accumulate: false);
                if (full == k) continue;
                CopyTails(wj, xr, k, full, 4, tails);
                Dot4x4(path, tails, TailWidth, tails + 4 * TailWidth, TailWidth, TailWidth, yr, n, null, accumulate: true);
            }
            for (; r < m; r++)
            {
                float* xr = x + (nint)r * k, yr = y + (nint)r * n + j;
                Dot4x1(path, wj, k, xr, full, yr, bj, accumulate: false);
                if (full == k) continue;
                CopyTails(wj, xr, k, full, 1, tails);
                Dot4x1(path, tails, TailWidth, tails + 4 * TailWidth, TailWidth, yr, null, accumulate: true);
            }
        }
        for (; j < j1; j++) // the last n mod 4 rows of W
            for (int r = 0; r < m; r++)
                y[(nint)r * n + j] = DotPortable(w + (nint)j * k, x + (nint)r * k, k) + (bias == null ? 0 : bias[j]);
    }

    /// <summary>y[i, c] (+)= Σp&lt;length W[c, p] · x[i, p] (+ bias[c]) for 4 W rows (row stride ldw) and 4 x rows (row
    /// stride ldx); length is a multiple of the path's vector width; y row stride ldy.</summary>
    static void Dot4x4(KernelPath path, float* w, nint ldw, float* x, nint ldx, int length, float* y, nint ldy, float* bias, bool accumulate)
    {
        switch (path)
        {
            case KernelPath.Avx512: Dot4x4Avx512(w, ldw, x, ldx, length, y, ldy, bias, accumulate); break;
            case KernelPath.Avx2:
                // 16 ymm registers hold 8 accumulators + 4 W vectors + 1 x vector, not 16 accumulators
                Dot4x2Avx2(w, ldw, x, ldx, length, y, ldy, bias, accumulate);
                Dot4x2Avx2(w, ldw, x + 2 * ldx, ldx, length, y + 2 * ldy, ldy, bias, accumulate);
                break;
            default:
                for (int i = 0; i < 4; i++) Dot4x1Portable(w, ldw, x + i * ldx, length, y + i * ldy, bias, accumulate);
                break;
        }
    }

    static void Dot4x1(KernelPath path, float* w, nint ldw, float* x, int length, float* y, float* bias, bool accumulate)
    {
        switch (path)
        {
            case KernelPath.Avx512: Dot4x1Avx512(w, ldw, x, length, y, bias, accumulate); break;
            case KernelPath.Avx2: Dot4x1Avx2(w, ldw, x, length, y, bias, accumulate); break;
            default: Dot4x1Portable(w, ldw, x, length, y, bias, accumulate); break;
        }
    }

    /// <summary>Copies columns [p, k) of 4 W rows and <paramref name="xRows"/> x rows into zero-padded rows of
    /// <see cref="TailWidth"/>: W rows at tails[0..4), x rows at tails[4..8).</summary>
    static void CopyTails(float* w, float* x, int k, int p, int xRows, float* tails)
    {
        new Span<float>(tails, 8 * TailWidth).Clear();
        int count = k - p;
        for (int c = 0; c < 4; c++) new ReadOnlySpan<float>(w + (nint)c * k + p, count).CopyTo(new Span<float>(tails + c * TailWidth, count));
        for (int i = 0; i < xRows; i++) new ReadOnlySpan<float>(x + (nint)i * k + p, count).CopyTo(new Span<float>(tails + (4 + i) * TailWidth, count));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4x4Avx512(float* w, nint ldw, float* x, nint ldx, int length, float* y, nint ldy, float* bias, bool accumulate)
    {
        // s{c}{i}: W row c · x row i
        Vector512<float> s00 = default, s10 = default, s20 = default, s30 = default, s01 = default, s11 = default, s21 = default, s31 = default;
        Vector512<float> s02 = default, s12 = default, s22 = default, s32 = default, s03 = default, s13 = default, s23 = default, s33 = default;
        float* w1p = w + ldw, w2p = w + 2 * ldw, w3p = w + 3 * ldw, x1p = x + ldx, x2p = x + 2 * ldx, x3p = x + 3 * ldx;
        for (int p = 0; p < length; p += 16)
        {
            var w0 = Vector512.Load(w + p); var w1 = Vector512.Load(w1p + p); var w2 = Vector512.Load(w2p + p); var w3 = Vector512.Load(w3p + p);
            var xv = Vector512.Load(x + p);
            s00 = Avx512F.FusedMultiplyAdd(w0, xv, s00); s10 = Avx512F.FusedMultiplyAdd(w1, xv, s10);
            s20 = Avx512F.FusedMultiplyAdd(w2, xv, s20); s30 = Avx512F.FusedMultiplyAdd(w3, xv, s30);
            xv = Vector512.Load(x1p + p);
            s01 = Avx512F.FusedMultiplyAdd(w0, xv, s01); s11 = Avx512F.FusedMultiplyAdd(w1, xv, s11);
            s21 = Avx512F.FusedMultiplyAdd(w2, xv, s21); s31 = Avx512F.FusedMultiplyAdd(w3, xv, s31);
            xv = Vector512.Load(x2p + p);
            s02 = Avx512F.FusedMultiplyAdd(w0, xv, s02); s12 = Avx512F.FusedMultiplyAdd(w1, xv, s12);
            s22 = Avx512F.FusedMultiplyAdd(w2, xv, s22); s32 = Avx512F.FusedMultiplyAdd(w3, xv, s32);
            xv = Vector512.Load(x3p + p);
            s03 = Avx512F.FusedMultiplyAdd(w0, xv, s03); s13 = Avx512F.FusedMultiplyAdd(w1, xv, s13);
            s23 = Avx512F.FusedMultiplyAdd(w2, xv, s23); s33 = Avx512F.FusedMultiplyAdd(w3, xv, s33);
        }
        Store4(y, bias, Sum4(s00, s10, s20, s30), accumulate);
        Store4(y + ldy, bias, Sum4(s01, s11, s21, s31), accumulate);
        Store4(y + 2 * ldy, bias, Sum4(s02, s12, s22, s32), accumulate);
        Store4(y + 3 * ldy, bias, Sum4(s03, s13, s23, s33), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4x1Avx512(float* w, nint ldw, float* x, int length, float* y, float* bias, bool accumulate)
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        float* w1p = w + ldw, w2p = w + 2 * ldw, w3p = w + 3 * ldw;
        for (int p = 0; p < length; p += 16)
        {
            var xv = Vector512.Load(x + p);
            s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(w + p), xv, s0);
            s1 = Avx512F.FusedMultiplyAdd(Vector512.Load(w1p + p), xv, s1);
            s2 = Avx512F.FusedMultiplyAdd(Vector512.Load(w2p + p), xv, s2);
            s3 = Avx512F.FusedMultiplyAdd(Vector512.Load(w3p + p), xv, s3);
        }
        Store4(y, bias, Sum4(s0, s1, s2, s3), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4x2Avx2(float* w, nint ldw, float* x, nint ldx, int length, float* y, nint ldy, float* bias, bool accumulate)
    {
        Vector256<float> s00 = default, s10 = default, s20 = default, s30 = default, s01 = default, s11 = default, s21 = default, s31 = default;
        float* w1p = w + ldw, w2p = w + 2 * ldw, w3p = w + 3 * ldw, x1p = x + ldx;
        for (int p = 0; p < length; p += 8)
        {
            var w0 = Vector256.Load(w + p); var w1 = Vector256.Load(w1p + p); var w2 = Vector256.Load(w2p + p); var w3 = Vector256.Load(w3p + p);
            var xv = Vector256.Load(x + p);
            s00 = Fma.MultiplyAdd(w0, xv, s00); s10 = Fma.MultiplyAdd(w1, xv, s10);
            s20 = Fma.MultiplyAdd(w2, xv, s20); s30 = Fma.MultiplyAdd(w3, xv, s30);
            xv = Vector256.Load(x1p + p);
            s01 = Fma.MultiplyAdd(w0, xv, s01); s11 = Fma.MultiplyAdd(w1, xv, s11);
            s21 = Fma.MultiplyAdd(w2, xv, s21); s31 = Fma.MultiplyAdd(w3, xv, s31);
        }
        Store4(y, bias, Sum4(s00, s10, s20, s30), accumulate);
        Store4(y + ldy, bias, Sum4(s01, s11, s21, s31), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4x1Avx2(float* w, nint ldw, float* x, int length, float* y, float* bias, bool accumulate)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        float* w1p = w + ldw, w2p = w + 2 * ldw, w3p = w + 3 * ldw;
        for (int p = 0; p < length; p += 8)
        {
            var xv = Vector256.Load(x + p);
            s0 = Fma.MultiplyAdd(Vector256.Load(w + p), xv, s0);
            s1 = Fma.MultiplyAdd(Vector256.Load(w1p + p), xv, s1);
            s2 = Fma.MultiplyAdd(Vector256.Load(w2p + p), xv, s2);
            s3 = Fma.MultiplyAdd(Vector256.Load(w3p + p), xv, s3);
        }
        Store4(y, bias, Sum4(s0, s1, s2, s3), accumulate);
    }

    /// <summary>Machines without AVX2/FMA: one dot product per W row.</summary>
    static void Dot4x1Portable(float* w, nint ldw, float* x, int length, float* y, float* bias, bool accumulate)
    {
        for (int c = 0; c < 4; c++)
        {
            float sum = DotPortable(w + c * ldw, x, length) + (bias == null ? 0 : bias[c]);
            y[c] = accumulate ? y[c] + sum : sum;
        }
    }

    static float DotPortable(float* a, float* b, int k)
    {
        int width = Vector<float>.Count, p = 0;
        var sum = Vector<float>.Zero;
        for (; p + width <= k; p += width) sum += Unsafe.ReadUnaligned<Vector<float>>(a + p) * Unsafe.ReadUnaligned<Vector<float>>(b + p);
        float total = Vector.Sum(sum);
        for (; p < k; p++) total += a[p] * b[p];
        return total;
    }

    /// <summary>[Σa, Σb, Σc, Σd]: the halves added, then horizontal adds that reduce four vectors together.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Sum4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d) =>
        Sum4(a.GetLower() + a.GetUpper(), b.GetLower() + b.GetUpper(), c.GetLower() + c.GetUpper(), d.GetLower() + d.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Sum4(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d)
    {
        // hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7]; twice gives the four half sums per lane
        var sums = Avx.HorizontalAdd(Avx.HorizontalAdd(a, b), Avx.HorizontalAdd(c, d));
        return sums.GetLower() + sums.GetUpper();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store4(float* y, float* bias, Vector128<float> sums, bool accumulate)
    {
        if (bias != null) sums += Vector128.Load(bias);
        if (accumulate) sums += Vector128.Load(y);
        sums.Store(y);
    }
}
