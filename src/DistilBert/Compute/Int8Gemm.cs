using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace DistilBert.Compute;

/// <summary>The instruction set the int8 GEMM runs on (docs/int8.md). <see cref="Int8Paths.Active"/> picks the best the
/// machine has; tests force the others it can run.</summary>
internal enum Int8Path
{
    /// <summary>128-bit kernel, s8·s8 four-term dot products emulated with widening multiplies (the ARM kernel's body).</summary>
    Portable,
    /// <summary>256-bit kernel, vpmaddubsw + vpmaddwd (the AVX-VNNI kernel's body).</summary>
    Avx2,
    /// <summary>512-bit kernel, vpmaddubsw + vpmaddwd.</summary>
    Avx512BW,
    /// <summary>256-bit kernel, vpdpbusd (VEX AVX-VNNI: Alder Lake and later, Zen 5).</summary>
    AvxVnni,
    /// <summary>128-bit kernel, SDOT (ARMv8.2 dot product).</summary>
    ArmDp,
}

internal static class Int8Paths
{
    public static Int8Path Best =>
        AvxVnni.IsSupported ? Int8Path.AvxVnni
        : Avx512BW.IsSupported && Vector512.IsHardwareAccelerated ? Int8Path.Avx512BW
        : Avx2.IsSupported ? Int8Path.Avx2
        : Dp.IsSupported ? Int8Path.ArmDp
        : Int8Path.Portable;

    /// <summary>The path in use; only tests and benchmarks change it, and only to one the machine supports.</summary>
    public static Int8Path Active = Best;

    public static bool IsSupported(Int8Path path) => path switch
    {
        Int8Path.Portable => true,
        Int8Path.Avx2 => Avx2.IsSupported,
        Int8Path.Avx512BW => Avx512BW.IsSupported && Vector512.IsHardwareAccelerated,
        Int8Path.AvxVnni => AvxVnni.IsSupported,
        Int8Path.ArmDp => Dp.IsSupported,
        _ => false,
    };

    public static IEnumerable<Int8Path> Supported() => Enum.GetValues<Int8Path>().Where(IsSupported);
}

/// <summary>
/// y[m, n] = epilogue(x[m, k] · Wᵀ + bias) with W an <see cref="Int8Matrix"/>: each row of x is quantised at run time to
/// u8 with its own scale and zero point (asymmetric, over the row's min and max), products are summed exactly in int32,
/// and each output is dequantised as (acc − zero·Σq) · rowScale · columnScale before the bias and activation.
/// <para>Thread-safety: may be called from many threads at once (per-thread buffers; the weight is only read).</para>
/// </summary>
public static class Int8Linear
{
    /// <summary>The instructions the int8 GEMM runs on here: Avx512BW, AvxVnni, Avx2, ArmDp or Portable (docs/int8.md).</summary>
    public static string KernelPath => Int8Paths.Active.ToString();

    /// <param name="x">[m, k], rows contiguous (k = weight.Rows)</param>
    /// <param name="bias">[n] or empty</param>
    /// <param name="y">[m, n]; must not overlap x</param>
    public static void Forward(ReadOnlySpan<float> x, int m, Int8Matrix weight, ReadOnlySpan<float> bias, Span<float> y,
        Epilogue epilogue = Epilogue.None)
    {
        ArgumentNullException.ThrowIfNull(weight);
        int k = weight.Rows, n = weight.Columns;
        GemmChecks.Operand("x", x, m, k, k);
        GemmChecks.Operand("y", y, m, n, n);
        if (!bias.IsEmpty && bias.Length != n)
            throw new InvalidInputException($"linear bias has {bias.Length} elements, expected {n} (output features)");
        if (m == 0 || n == 0) return;
        unsafe
        {
            fixed (float* px = x, pb = bias, py = y)
                Int8Gemm.Run(Int8Paths.Active, px, m, weight, bias.IsEmpty ? null : pb, py, null, epilogue);
        }
    }
}

/// <summary>The driver and micro-kernels behind <see cref="Int8Linear"/>.</summary>
internal static unsafe class Int8Gemm
{
    const int MR = 4, NR = Int8Matrix.PanelWidth, RowBlock = 128;

    /// <summary>Rows of x quantised to u8 [m, paddedK] with a scale and zero point each: x ≈ (q − zero) · scale.</summary>
    internal static void QuantizeRows(float* x, int m, int k, int paddedK, byte* q, float* scales, int* zeros)
    {
        for (int i = 0; i < m; i++) QuantizeRow(x + (long)i * k, k, q + (long)i * paddedK, paddedK, out scales[i], out zeros[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void QuantizeRow(float* x, int k, byte* q, int paddedK, out float scale, out int zero)
    {
        // the range always holds 0, so that zero (padding, ReLU output) is represented exactly
        var (min, max) = Range(x, k);
        if (!float.IsFinite(min) || !float.IsFinite(max))
            throw new InvalidInputException("int8 linear: an input row holds NaN or an infinity; it cannot be quantised");
        scale = (max - min) / 255f;
        if (scale == 0) { zero = 0; new Span<byte>(q, paddedK).Clear(); scale = 0; return; }
        float inverse = 1f / scale;
        zero = Math.Clamp((int)MathF.Round(-min * inverse), 0, 255);
        int p = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vInv = Vector256.Create(inverse);
            var vZero = Vector256.Create((float)zero);
            var lo = Vector256<float>.Zero;
            var hi = Vector256.Create(255f);
            for (; p + 16 <= k; p += 16)
            {
                var a = Vector256.Min(Vector256.Max(Vector256.Round(Vector256.Load(x + p) * vInv) + vZero, lo), hi);
                var b = Vector256.Min(Vector256.Max(Vector256.Round(Vector256.Load(x + p + 8) * vInv) + vZero, lo), hi);
                var shorts = Vector256.Narrow(Vector256.ConvertToInt32(a), Vector256.ConvertToInt32(b)); // 16 × i16, in lane order
                var bytes = Vector256.Narrow(shorts, shorts).AsByte();
                bytes.GetLower().Store(q + p);
            }
        }
        for (; p < k; p++) q[p] = (byte)Math.Clamp((int)MathF.Round(x[p] * inverse) + zero, 0, 255);
        for (; p < paddedK; p++) q[p] = 0;
    }

    /// <summary>min(0, x) and max(0, x) over a row; NaN comes out as NaN (Min/Max propagate it).</summary>
    static (float Min, float Max) Range(float* x, int k)
    {
        int p = 0;
        float min = 0, max = 0;
        if (Vector256.IsHardwareAccelerated && k >= 8)
        {
            var vMin = Vector256<float>.Zero;
            var vMax = Vector256<float>.Zero;
            var nan = Vector256<float>.Zero;
            for (; p + 8 <= k; p += 8)
            {
                var v = Vector256.Load(x + p);
                nan |= ~Vector256.Equals(v, v); // x != x marks a NaN, kept apart: Min/Max may drop it
                vMin = Vector256.Min(vMin, v);
                vMax = Vector256.Max(vMax, v);
            }
            for (int i = 0; i < 8; i++) { min = Math.Min(min, vMin[i]); max = Math.Max(max, vMax[i]); }
            if (nan != Vector256<float>.Zero) min = float.NaN;
        }
        for (; p < k; p++) { min = Math.Min(min, x[p]); max = Math.Max(max, x[p]); }
        return (min, max);
    }

    [ThreadStatic] static byte[]? _activations;
    [ThreadStatic] static float[]? _rowScales;
    [ThreadStatic] static int[]? _rowZeros;
    [ThreadStatic] static Work? _work;

    /// <summary>Either y (dequantised, bias, epilogue) or, for tests, the raw int32 accumulations Σ q_x·q_w into acc.</summary>
    internal static void Run(Int8Path path, float* x, int m, Int8Matrix w, float* bias, float* y, int* acc, Epilogue epilogue)
    {
        int k = w.Rows, kp = w.PaddedRows;
        long bytes = (long)m * kp;
        if (bytes > Array.MaxLength - 64) throw new InvalidInputException($"int8 linear: {m} rows of {k} are too many for one call");
        if (_activations is null || _activations.Length < bytes + 64) _activations = GC.AllocateUninitializedArray<byte>((int)Math.Max(bytes + 64, 4096), pinned: true);
        if (_rowScales is null || _rowScales.Length < m) { _rowScales = new float[Math.Max(m, 64)]; _rowZeros = new int[_rowScales.Length]; }
        fixed (byte* q = _activations)
        fixed (float* scales = _rowScales)
        fixed (int* zeros = _rowZeros)
        {
            QuantizeRows(x, m, k, kp, q, scales, zeros);
            var work = _work ??= new Work();
            work.Set(path, q, m, scales, zeros, w, bias, y, acc, epilogue);
            try
            {
                int tasks = work.RowBlocks * w.Panels;
                if ((long)m * k * w.Columns >= 1 << 16) ComputeThreads.For(tasks, work);
                else for (int t = 0; t < tasks; t++) work.Execute(t);
            }
            finally { work.Set(path, null, 0, null, null, null, null, null, null, Epilogue.None); }
        }
    }

    sealed class Work : ParallelWork
    {
        Int8Path _path;
        byte* _q;
        int _m;
        float* _scales, _bias, _y;
        int* _zeros, _acc;
        Int8Matrix? _w;
        Epilogue _epilogue;
        public int RowBlocks;

        public void Set(Int8Path path, byte* q, int m, float* scales, int* zeros, Int8Matrix? w, float* bias, float* y, int* acc, Epilogue epilogue)
        {
            _path = path; _q = q; _m = m; _scales = scales; _zeros = zeros; _w = w; _bias = bias; _y = y; _acc = acc; _epilogue = epilogue;
            RowBlocks = (m + RowBlock - 1) / RowBlock;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Execute(int index)
        {
            var w = _w!;
            int panels = w.Panels, kp = w.PaddedRows, n = w.Columns;
            int block = index / panels, panel = index % panels;
            int r0 = block * RowBlock, r1 = Math.Min(_m, r0 + RowBlock);
            int c0 = panel * NR, cols = Math.Min(NR, n - c0);
            sbyte* wp = w.Pointer + (long)panel * kp * NR;
            int* tile = stackalloc int[MR * NR];
            fixed (int* columnSums = w.ColumnSums)
            fixed (float* columnScales = w.Scales)
            {
                for (int r = r0; r < r1; r += MR)
                {
                    int rows = Math.Min(MR, r1 - r);
                    // rows past the end repeat the last one: every kernel always computes MR rows, the extra are dropped
                    byte* a0 = _q + (long)r * kp;
                    byte* a1 = _q + (long)(r + Math.Min(1, rows - 1)) * kp;
                    byte* a2 = _q + (long)(r + Math.Min(2, rows - 1)) * kp;
                    byte* a3 = _q + (long)(r + Math.Min(3, rows - 1)) * kp;
                    Tile(_path, a0, a1, a2, a3, kp / Int8Matrix.GroupK, wp, columnSums + c0, tile);
                    for (int i = 0; i < rows; i++)
                    {
                        int* t = tile + i * NR;
                        if (_acc is not null)
                        {
                            new ReadOnlySpan<int>(t, cols).CopyTo(new Span<int>(_acc + (long)(r + i) * n + c0, cols));
                            continue;
                        }
                        Dequantize(t, _zeros[r + i], _scales[r + i], columnSums + c0, columnScales + c0, _bias is null ? null : _bias + c0,
                            _y + (long)(r + i) * n + c0, cols);
                        if (_epilogue != Epilogue.None) Epilogues.Apply(_y + (long)(r + i) * n + c0, null, cols, _epilogue);
                    }
                }
            }
        }
    }

    /// <summary>y[c] = (acc[c] − zero·Σq[c]) · rowScale · columnScale[c] + bias[c] for c &lt; cols.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Dequantize(int* acc, int zero, float rowScale, int* columnSums, float* columnScales, float* bias, float* y, int cols)
    {
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vZero = Vector256.Create(zero);
            var vScale = Vector256.Create(rowScale);
            for (; c + 8 <= cols; c += 8)
            {
                var v = Vector256.ConvertToSingle(Vector256.Load(acc + c) - vZero * Vector256.Load(columnSums + c)) * (vScale * Vector256.Load(columnScales + c));
                if (bias is not null) v += Vector256.Load(bias + c);
                v.Store(y + c);
            }
        }
        for (; c < cols; c++) y[c] = (acc[c] - zero * columnSums[c]) * (rowScale * columnScales[c]) + (bias is null ? 0 : bias[c]);
    }

    /// <summary>tile[MR, 64] = Σ_k a_r[k] · w[k, c] exactly (a as u8), whichever instructions the path uses.</summary>
    internal static void Tile(Int8Path path, byte* a0, byte* a1, byte* a2, byte* a3, int groups, sbyte* w, int* columnSums, int* tile)
    {
        switch (path)
        {
            case Int8Path.Avx512BW: Tile512(a0, a1, a2, a3, groups, w, tile); break;
            case Int8Path.AvxVnni: Tile256<VnniDot>(a0, a1, a2, a3, groups, w, tile); break;
            case Int8Path.Avx2: Tile256<Avx2Dot>(a0, a1, a2, a3, groups, w, tile); break;
            case Int8Path.ArmDp: Tile128<ArmDot>(a0, a1, a2, a3, groups, w, columnSums, tile); break;
            default: Tile128<PortableDot>(a0, a1, a2, a3, groups, w, columnSums, tile); break;
        }
    }

    /// <summary>4 rows × 64 columns in 16 zmm accumulators. vpmaddubsw multiplies u8 activations by s8 weights and adds
    /// adjacent pairs into i16 (|255·63·2| = 32130 &lt; 32767: weights of 7 bits never saturate); vpmaddwd by ones adds
    /// the pairs into the 32-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile512(byte* a0, byte* a1, byte* a2, byte* a3, int groups, sbyte* w, int* tile)
    {
        var ones = Vector512.Create((short)1);
        Vector512<int> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<int> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<int> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<int> c30 = default, c31 = default, c32 = default, c33 = default;
        for (int g = 0; g < groups; g++, w += 4 * 64)
        {
            var w0 = Vector512.Load(w);
            var w1 = Vector512.Load(w + 64);
            var w2 = Vector512.Load(w + 128);
            var w3 = Vector512.Load(w + 192);
            int o = g * 4;
            var b = Vector512.Create(*(int*)(a0 + o)).AsByte();
            c00 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w0), ones);
            c01 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w1), ones);
            c02 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w2), ones);
            c03 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w3), ones);
            b = Vector512.Create(*(int*)(a1 + o)).AsByte();
            c10 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w0), ones);
            c11 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w1), ones);
            c12 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w2), ones);
            c13 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w3), ones);
            b = Vector512.Create(*(int*)(a2 + o)).AsByte();
            c20 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w0), ones);
            c21 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w1), ones);
            c22 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w2), ones);
            c23 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w3), ones);
            b = Vector512.Create(*(int*)(a3 + o)).AsByte();
            c30 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w0), ones);
            c31 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w1), ones);
            c32 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w2), ones);
            c33 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(b, w3), ones);
        }
        c00.Store(tile); c01.Store(tile + 16); c02.Store(tile + 32); c03.Store(tile + 48);
        c10.Store(tile + 64); c11.Store(tile + 80); c12.Store(tile + 96); c13.Store(tile + 112);
        c20.Store(tile + 128); c21.Store(tile + 144); c22.Store(tile + 160); c23.Store(tile + 176);
        c30.Store(tile + 192); c31.Store(tile + 208); c32.Store(tile + 224); c33.Store(tile + 240);
    }

    /// <summary>u8 × s8, four products summed into each 32-bit lane (vpdpbusd's meaning).</summary>
    internal interface IDot256
    {
        static abstract Vector256<int> Add(Vector256<int> acc, Vector256<byte> a, Vector256<sbyte> w);
    }

    internal readonly struct VnniDot : IDot256
    {
        public static Vector256<int> Add(Vector256<int> acc, Vector256<byte> a, Vector256<sbyte> w) => AvxVnni.MultiplyWideningAndAdd(acc, a, w);
    }

    internal readonly struct Avx2Dot : IDot256
    {
        public static Vector256<int> Add(Vector256<int> acc, Vector256<byte> a, Vector256<sbyte> w) =>
            acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, w), Vector256.Create((short)1));
    }

    /// <summary>4 rows × 64 columns as four 16-column passes of 4 × 2 ymm accumulators (16 ymm registers on AVX2-only
    /// CPUs, where AVX-VNNI lives).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile256<TDot>(byte* a0, byte* a1, byte* a2, byte* a3, int groups, sbyte* w, int* tile) where TDot : IDot256
    {
        for (int quarter = 0; quarter < 4; quarter++)
        {
            Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default;
            Vector256<int> c20 = default, c21 = default, c30 = default, c31 = default;
            sbyte* wq = w + quarter * 64;
            for (int g = 0; g < groups; g++, wq += 4 * 64)
            {
                var w0 = Vector256.Load(wq);
                var w1 = Vector256.Load(wq + 32);
                int o = g * 4;
                var b = Vector256.Create(*(int*)(a0 + o)).AsByte();
                c00 = TDot.Add(c00, b, w0); c01 = TDot.Add(c01, b, w1);
                b = Vector256.Create(*(int*)(a1 + o)).AsByte();
                c10 = TDot.Add(c10, b, w0); c11 = TDot.Add(c11, b, w1);
                b = Vector256.Create(*(int*)(a2 + o)).AsByte();
                c20 = TDot.Add(c20, b, w0); c21 = TDot.Add(c21, b, w1);
                b = Vector256.Create(*(int*)(a3 + o)).AsByte();
                c30 = TDot.Add(c30, b, w0); c31 = TDot.Add(c31, b, w1);
            }
            int* t = tile + quarter * 16;
            c00.Store(t); c01.Store(t + 8);
            c10.Store(t + 64); c11.Store(t + 72);
            c20.Store(t + 128); c21.Store(t + 136);
            c30.Store(t + 192); c31.Store(t + 200);
        }
    }

    /// <summary>s8 × s8, four products summed into each 32-bit lane (SDOT's meaning).</summary>
    internal interface IDot128
    {
        static abstract Vector128<int> Add(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> w);
    }

    internal readonly struct ArmDot : IDot128
    {
        public static Vector128<int> Add(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> w) => Dp.DotProduct(acc, a, w);
    }

    /// <summary>SDOT with widening multiplies (|−128·63| fits i16), for machines with neither ARM's dot product nor x86 SIMD.</summary>
    internal readonly struct PortableDot : IDot128
    {
        public static Vector128<int> Add(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> w)
        {
            var (aLow, aHigh) = Vector128.Widen(a);
            var (wLow, wHigh) = Vector128.Widen(w);
            var (p0, p1) = Vector128.Widen(aLow * wLow);
            var (p2, p3) = Vector128.Widen(aHigh * wHigh);
            return acc + Vector128.Create(Vector128.Sum(p0), Vector128.Sum(p1), Vector128.Sum(p2), Vector128.Sum(p3));
        }
    }

    /// <summary>
    /// 4 rows × 64 columns as four 16-column passes of 4 × 4 accumulators. ARM's SDOT multiplies signed by signed, so the
    /// u8 activations are shifted to s8 (a − 128, an xor of the top bit) and the accumulators start at 128 · Σq per
    /// column: Σ a·w = Σ (a − 128)·w + 128·Σ w, exactly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile128<TDot>(byte* a0, byte* a1, byte* a2, byte* a3, int groups, sbyte* w, int* columnSums, int* tile) where TDot : IDot128
    {
        var flip = Vector128.Create(unchecked((int)0x80808080));
        for (int quarter = 0; quarter < 4; quarter++)
        {
            int* sums = columnSums + quarter * 16;
            var s0 = Vector128.Load(sums) << 7;
            var s1 = Vector128.Load(sums + 4) << 7;
            var s2 = Vector128.Load(sums + 8) << 7;
            var s3 = Vector128.Load(sums + 12) << 7;
            Vector128<int> c00 = s0, c01 = s1, c02 = s2, c03 = s3, c10 = s0, c11 = s1, c12 = s2, c13 = s3;
            Vector128<int> c20 = s0, c21 = s1, c22 = s2, c23 = s3, c30 = s0, c31 = s1, c32 = s2, c33 = s3;
            sbyte* wq = w + quarter * 64;
            for (int g = 0; g < groups; g++, wq += 4 * 64)
            {
                var w0 = Vector128.Load(wq);
                var w1 = Vector128.Load(wq + 16);
                var w2 = Vector128.Load(wq + 32);
                var w3 = Vector128.Load(wq + 48);
                int o = g * 4;
                var b = (Vector128.Create(*(int*)(a0 + o)) ^ flip).AsSByte();
                c00 = TDot.Add(c00, b, w0); c01 = TDot.Add(c01, b, w1); c02 = TDot.Add(c02, b, w2); c03 = TDot.Add(c03, b, w3);
                b = (Vector128.Create(*(int*)(a1 + o)) ^ flip).AsSByte();
                c10 = TDot.Add(c10, b, w0); c11 = TDot.Add(c11, b, w1); c12 = TDot.Add(c12, b, w2); c13 = TDot.Add(c13, b, w3);
                b = (Vector128.Create(*(int*)(a2 + o)) ^ flip).AsSByte();
                c20 = TDot.Add(c20, b, w0); c21 = TDot.Add(c21, b, w1); c22 = TDot.Add(c22, b, w2); c23 = TDot.Add(c23, b, w3);
                b = (Vector128.Create(*(int*)(a3 + o)) ^ flip).AsSByte();
                c30 = TDot.Add(c30, b, w0); c31 = TDot.Add(c31, b, w1); c32 = TDot.Add(c32, b, w2); c33 = TDot.Add(c33, b, w3);
            }
            int* t = tile + quarter * 16;
            c00.Store(t); c01.Store(t + 4); c02.Store(t + 8); c03.Store(t + 12);
            c10.Store(t + 64); c11.Store(t + 68); c12.Store(t + 72); c13.Store(t + 76);
            c20.Store(t + 128); c21.Store(t + 132); c22.Store(t + 136); c23.Store(t + 140);
            c30.Store(t + 192); c31.Store(t + 196); c32.Store(t + 200); c33.Store(t + 204);
        }
    }
}

/// <summary>The plain loops the int8 kernels are checked against (design note 4).</summary>
internal static class Int8GemmReference
{
    /// <summary>acc[m, n] = Σ_k q[i, k] · w[j, k] in int32, q as u8 [m, k], w as s8 [n, k].</summary>
    public static void Accumulate(ReadOnlySpan<byte> q, int m, int k, ReadOnlySpan<sbyte> w, int n, Span<int> acc)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                int sum = 0;
                for (int p = 0; p < k; p++) sum += q[i * k + p] * w[j * k + p];
                acc[i * n + j] = sum;
            }
    }
}
