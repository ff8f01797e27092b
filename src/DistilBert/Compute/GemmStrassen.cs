using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistilBert.Compute;

/// <summary>How the micro-kernel forms one operand value from two stored ones (Strassen's sums and differences).</summary>
internal unsafe interface IOperandCombination
{
    /// <summary>The A value at p (and p + other) broadcast to every lane.</summary>
    static abstract Vector512<float> Broadcast(float* p, nint other);
    /// <summary>The 16 B values at p (and p + other).</summary>
    static abstract Vector512<float> Vector(float* p, nint other);
}

internal unsafe struct OneOperand : IOperandCombination
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float* p, nint other) => Vector512.Create(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Vector(float* p, nint other) => Vector512.Load(p);
}

internal unsafe struct SumOfOperands : IOperandCombination
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float* p, nint other) => Vector512.Create(*p) + Vector512.Create(p[other]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Vector(float* p, nint other) => Vector512.Load(p) + Vector512.Load(p + other);
}

internal unsafe struct DifferenceOfOperands : IOperandCombination
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float* p, nint other) => Vector512.Create(*p) - Vector512.Create(p[other]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Vector(float* p, nint other) => Vector512.Load(p) - Vector512.Load(p + other);
}

/// <summary>
/// One level of Strassen's algorithm for a block of 128 rows: 7 products of [64, k/2] · [k/2, n/2] instead of 8, so
/// 12.5 % fewer multiply-adds. Only where every value of C has the same cost profile as the plain GEMM (the sums of A
/// and B blocks are formed inside the micro-kernel, on the FP add pipes) and only for row blocks the caller names:
/// Strassen mixes rows i and i + 64 of a block in its rounding, so the caller picks blocks that belong to one sequence
/// (<see cref="StrassenBlocks"/>) and a sequence's result then depends only on its own tokens, wherever the batch puts
/// it. The result differs from the plain GEMM by float rounding only (a few 1e-6 relative; the tests bound it).
/// </summary>
internal static unsafe partial class GemmDriver
{
    /// <summary>Rows in one Strassen block: two halves of 64, i.e. 8 micro-tiles of 8 rows each.</summary>
    public const int StrassenRows = 128;

    /// <summary>K/2 is walked in blocks of up to this many (see StrassenBlock).</summary>
    const int StrassenKBlock = 2 * KC;

    /// <summary>Strassen needs whole panel pairs (n/2 a multiple of 48), the AVX-512 kernel reading A in place, C
    /// overwritten (beta 0) and a K worth splitting.</summary>
    static bool StrassenApplies(KernelPath path, int n, int k, float alpha, bool transA, float beta) =>
        path == KernelPath.Avx512 && n % (2 * NR) == 0 && k % 2 == 0 && k >= 64 && alpha == 1f && !transA
        && beta == 0f;

    /// <summary>Named blocks must be ascending, disjoint and inside the m rows (a caller's bug otherwise, named here
    /// rather than surfacing as a wrong result or an access violation).</summary>
    static void CheckStrassenBlocks(int m, ReadOnlySpan<int> blocks)
    {
        int cursor = 0;
        foreach (int start in blocks)
        {
            if (start < cursor || start > m - StrassenRows)
                throw new InvalidInputException($"Strassen block at row {start} overlaps the previous one, is out of order or does not fit the {m} rows");
            cursor = start + StrassenRows;
        }
    }

    [ThreadStatic] static float[]? _strassenSums;

    static float* StrassenSums(int length)
    {
        if (_strassenSums is null || _strassenSums.Length < length + 16)
            _strassenSums = GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
        float* p = (float*)Unsafe.AsPointer(ref _strassenSums[0]);
        return (float*)(((nint)p + 63) & ~(nint)63);
    }

    sealed partial class GemmWork
    {

        /// <summary>
        /// C[row0 .. row0 + 128, the panel pairs [pair0, pairEnd)] by Strassen. With A = [A11 A12; A21 A22] (row halves
        /// of 64, K halves), B = [B11 B12; B21 B22] (K halves, column halves) and C likewise:
        ///   M1 = (A11 + A22)(B11 + B22)   M2 = (A21 + A22) B11        M3 = A11 (B12 − B22)   M4 = A22 (B21 − B11)
        ///   M5 = (A11 + A12) B22          M6 = (A21 − A11)(B11 + B12) M7 = (A12 − A22)(B21 + B22)
        ///   C11 = M1 + M4 − M5 + M7       C12 = M3 + M5               C21 = M2 + M4          C22 = M1 − M2 + M3 + M6
        /// Panel pair j is column panel j of the left half and j of the right half; all seven products of one pair and K
        /// block run back to back, so its four B blocks (4 · 384 · 48 floats) stay in L2 while they are reused.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void StrassenBlock(int row0, int pair0, int pairEnd)
        {
            const int h = StrassenRows / 2;
            int kh = _k / 2, nh = _n / 2, pairs = nh / NR;
            nint lda = _lda, ldc = _ldc;
            float* a11 = _a + row0 * lda, a12 = a11 + kh, a21 = a11 + h * lda, a22 = a21 + kh;
            float* c11 = _c + row0 * ldc, c12 = c11 + nh, c21 = c11 + h * ldc, c22 = c21 + nh;
            bool epilogue = _bias != null || _epilogue != Epilogue.None;
            float* tile = stackalloc float[8 * NR + 16];
            tile = (float*)(((nint)tile + 63) & ~(nint)63);
            // K/2 in one block up to 1536 (the FFN down projection's): every K block adds a round of C merges, and
            // measured at 128 × 768 × 3072 blocks of 384 / 768 / 1536 ran at 0.94 / 0.92 / 0.915 of the plain GEMM
            int kbSize = Math.Min(kh, StrassenKBlock);
            for (int kb = 0; kb < kh; kb += kbSize)
            {
                int kc = Math.Min(kbSize, kh - kb);
                bool first = kb == 0, last = kb + kc >= kh;
                // A21 − A11 and A12 − A22 pair rows that are a multiple of lda apart: when lda is a multiple of 1024 (the
                // FFN's 3072) their 16 cache lines per K step fall in one 8-way L1 set and thrash (measured 1.2× slower
                // than the plain GEMM), so these two sums are formed once per K block in this thread's own buffer.
                float* s6 = StrassenSums(2 * h * kc), s7 = s6 + h * kc;
                SubtractRows(a21 + kb, a11 + kb, lda, s6, kc, h);
                SubtractRows(a12 + kb, a22 + kb, lda, s7, kc, h);
                for (int j = pair0; j < pairEnd; j++)
                {
                    float* b11 = _b + (nint)j * _k * NR + (nint)kb * NR, b21 = b11 + (nint)kh * NR;
                    float* b12 = _b + (nint)(pairs + j) * _k * NR + (nint)kb * NR, b22 = b12 + (nint)kh * NR;
                    // the next (pair, K block)'s four B blocks are fetched a slice per kernel call, as in the plain GEMM
                    float* next11 = null, next12 = null;
                    nint blockLines = (nint)kc * NR / 16; // of the next B blocks: the next K block may be shorter
                    if (j + 1 < pairEnd) { next11 = b11 + (nint)_k * NR; next12 = b12 + (nint)_k * NR; }
                    else if (kb + kbSize < kh)
                    {
                        next11 = _b + (nint)pair0 * _k * NR + (nint)(kb + kbSize) * NR;
                        next12 = _b + (nint)(pairs + pair0) * _k * NR + (nint)(kb + kbSize) * NR;
                        blockLines = (nint)Math.Min(kbSize, kh - kb - kbSize) * NR / 16;
                    }
                    int call = 0;
                    const int calls = 7 * h / 8;
                    int col = j * NR;
                    float* biasLeft = _bias == null ? null : _bias + col, biasRight = _bias == null ? null : _bias + nh + col;
                    for (int r = 0; r < h; r += 8)
                    {
                        nint ar = r * lda + kb, sr = (nint)r * kc, cr = r * ldc + col;
                        float* pf, pfEnd;
                        // M1 → C11 =, C22 =
                        NextSlice(next11, next12, kh, blockLines, call++, calls, out pf, out pfEnd);
                        Kernel8x48Avx512<SumOfOperands, SumOfOperands>(kc, a11 + ar, (nint)(a22 - a11), lda, 1, 8, b11, (nint)(b22 - b11), tile, NR, false, pf, pfEnd);
                        Merge(tile, c11 + cr, ldc, first ? MergeMode.Set : MergeMode.Add);
                        Merge(tile, c22 + cr, ldc, first ? MergeMode.Set : MergeMode.Add);
                        // M2 → C21 =, C22 −
                        NextSlice(next11, next12, kh, blockLines, call++, calls, out pf, out pfEnd);
                        Kernel8x48Avx512<SumOfOperands, OneOperand>(kc, a21 + ar, (nint)(a22 - a21), lda, 1, 8, b11, 0, tile, NR, false, pf, pfEnd);
                        Merge(tile, c21 + cr, ldc, first ? MergeMode.Set : MergeMode.Add);
                        Merge(tile, c22 + cr, ldc, MergeMode.Subtract);
                        // M3 → C12 =, C22 +
                        NextSlice(next11, next12, kh, blockLines, call++, calls, out pf, out pfEnd);
                        Kernel8x48Avx512<OneOperand, DifferenceOfOperands>(kc, a11 + ar, 0, lda, 1, 8, b12, (nint)(b22 - b12), tile, NR, false, pf, pfEnd);
                        Merge(tile, c12 + cr, ldc, first ? MergeMode.Set : MergeMode.Add);
                        Merge(tile, c22 + cr, ldc, MergeMode.Add);
                        // M6 → C22 + (its last term)
                        NextSlice(next11, next12, kh, blockLines, call++, calls, out pf, out pfEnd);
                        Kernel8x48Avx512<OneOperand, SumOfOperands>(kc, s6 + sr, 0, kc, 1, 8, b11, (nint)(b12 - b11), c22 + cr, ldc, true, pf, pfEnd);
                        if (last && epilogue) TileEpilogueAvx512(c22 + cr, ldc, biasRight, _epilogue);
                        // M4 → C11 +, C21 + (its last term)
                        NextSlice(next11, next12, kh, blockLines, call++, calls, out pf, out pfEnd);
                        Kernel8x48Avx512<OneOperand, DifferenceOfOperands>(kc, a22 + ar, 0, lda, 1, 8, b21, (nint)(b11 - b21), tile, NR, false, pf, pfEnd);
                        Merge(tile, c11 + cr, ldc, MergeMode.Add);
                        Merge(tile, c21 + cr, ldc, MergeMode.Add);
                        if (last && epilogue) TileEpilogueAvx512(c21 + cr, ldc, biasLeft, _epilogue);
                        // M5 → C11 −, C12 + (its last term)
                        NextSlice(next11, next12, kh, blockLines, call++, calls, out pf, out pfEnd);
                        Kernel8x48Avx512<SumOfOperands, OneOperand>(kc, a11 + ar, (nint)(a12 - a11), lda, 1, 8, b22, 0, tile, NR, false, pf, pfEnd);
                        Merge(tile, c11 + cr, ldc, MergeMode.Subtract);
                        Merge(tile, c12 + cr, ldc, MergeMode.Add);
                        if (last && epilogue) TileEpilogueAvx512(c12 + cr, ldc, biasRight, _epilogue);
                        // M7 → C11 + (its last term)
                        NextSlice(next11, next12, kh, blockLines, call++, calls, out pf, out pfEnd);
                        Kernel8x48Avx512<OneOperand, SumOfOperands>(kc, s7 + sr, 0, kc, 1, 8, b21, (nint)(b22 - b21), c11 + cr, ldc, true, pf, pfEnd);
                        if (last && epilogue) TileEpilogueAvx512(c11 + cr, ldc, biasLeft, _epilogue);
                    }
                }
            }
        }
    }

    /// <summary>dst[rows, kc] (row stride kc) = x − y, both [rows, kc] with row stride ld.</summary>
    static void SubtractRows(float* x, float* y, nint ld, float* dst, int kc, int rows)
    {
        for (int i = 0; i < rows; i++)
        {
            float* xr = x + i * ld, yr = y + i * ld, d = dst + (nint)i * kc;
            int p = 0;
            for (; p + 16 <= kc; p += 16) (Vector512.Load(xr + p) - Vector512.Load(yr + p)).Store(d + p);
            for (; p < kc; p++) d[p] = xr[p] - yr[p];
        }
    }

    /// <summary>Call number <paramref name="call"/> of <paramref name="calls"/> prefetches its share of the next pair's
    /// four B blocks of kc rows: [B11 B21] start at next11 (K halves kh rows apart), [B12 B22] at next12.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void NextSlice(float* next11, float* next12, int kh, nint blockLines, int call, int calls, out float* start, out float* end)
    {
        if (next11 == null) { start = end = null; return; }
        nint total = 4 * blockLines, first = total * call / calls, last = total * (call + 1) / calls;
        int block = (int)(first / blockLines);
        float* origin = block switch { 0 => next11, 1 => next11 + (nint)kh * NR, 2 => next12, _ => next12 + (nint)kh * NR };
        start = origin + (first - block * blockLines) * 16;
        end = origin + Math.Min(last - block * blockLines, blockLines) * 16;
    }

    enum MergeMode { Set, Add, Subtract }

    /// <summary>C tile [8, 48] (row stride ldc) =, +=, −= the kernel's tile [8, 48] (row stride 48, in L1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Merge(float* tile, float* c, nint ldc, MergeMode mode)
    {
        for (int r = 0; r < 8; r++, tile += NR, c += ldc)
        {
            var v0 = Vector512.Load(tile); var v1 = Vector512.Load(tile + 16); var v2 = Vector512.Load(tile + 32);
            if (mode == MergeMode.Add) { v0 = Vector512.Load(c) + v0; v1 = Vector512.Load(c + 16) + v1; v2 = Vector512.Load(c + 32) + v2; }
            else if (mode == MergeMode.Subtract) { v0 = Vector512.Load(c) - v0; v1 = Vector512.Load(c + 16) - v1; v2 = Vector512.Load(c + 32) - v2; }
            v0.Store(c); v1.Store(c + 16); v2.Store(c + 32);
        }
    }
}

/// <summary>The 128-row blocks of a ragged batch that Strassen may take: every whole 128 tokens of a sequence, counted
/// from the sequence's first token, so which rows are paired depends only on the sequence itself.</summary>
public static class StrassenBlocks
{
    /// <summary>Start rows, relative to <paramref name="rowStart"/>, of the blocks inside rows [rowStart, rowEnd) of the
    /// batch whose sequence s is rows [sequenceStarts[s], sequenceStarts[s + 1]). Written to <paramref name="starts"/>
    /// (grown when short); returns the count.</summary>
    public static int Find(ReadOnlySpan<int> sequenceStarts, int rowStart, int rowEnd, ref int[] starts)
    {
        int count = 0;
        for (int s = 0; s + 1 < sequenceStarts.Length; s++)
        {
            int first = sequenceStarts[s], end = sequenceStarts[s + 1];
            if (end <= rowStart || first >= rowEnd) continue;
            for (int b = first; b + GemmDriver.StrassenRows <= end; b += GemmDriver.StrassenRows)
            {
                if (b < rowStart || b + GemmDriver.StrassenRows > rowEnd) continue;
                if (count == starts.Length) Array.Resize(ref starts, Math.Max(8, 2 * starts.Length));
                starts[count++] = b - rowStart;
            }
        }
        return count;
    }
}
