using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistilBert.Compute;

/// <summary>
/// Single-precision matrix multiply, BLAS conventions, row-major:
/// C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C[m,n], op(X) = X or Xᵀ.
/// Strides (lda, ldb, ldc) are row strides of the matrices as stored. With beta = 0, C is only written (NaN in it is
/// ignored, as BLAS does). Parallel through <see cref="ComputeThreads"/>; B is packed per call into a reused
/// workspace — for a fixed weight, pack it once with <see cref="PackedMatrix"/> and call <see cref="Sgemm(int, float,
/// ReadOnlySpan{float}, int, bool, PackedMatrix, float, Span{float}, int)"/> instead.
/// </summary>
public static class Gemm
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        GemmChecks.Operand("A", a, transA ? k : m, transA ? m : k, lda);
        GemmChecks.Operand("B", b, transB ? n : k, transB ? k : n, ldb);
        GemmChecks.Operand("C", c, m, n, ldc);
        if (m == 0 || n == 0) return;
        unsafe
        {
            fixed (float* pa = a, pb = b, pc = c)
            {
                float* packed = GemmWorkspace.PackedB(PackedMatrix.PackedLength(k, n));
                PackedMatrix.Pack(pb, ldb, transB, k, n, packed, parallel: true);
                GemmDriver.Run(m, n, k, alpha, pa, lda, transA, packed, beta, pc, ldc, null, Epilogue.None, parallel: true);
            }
        }
    }

    /// <summary>C[m, n] = alpha · op(A)[m, k] · B[k, n] + beta · C with B pre-packed (k = b.Rows, n = b.Columns).</summary>
    public static void Sgemm(int m, float alpha, ReadOnlySpan<float> a, int lda, bool transA, PackedMatrix b,
        float beta, Span<float> c, int ldc)
    {
        int k = b.Rows, n = b.Columns;
        GemmChecks.Operand("A", a, transA ? k : m, transA ? m : k, lda);
        GemmChecks.Operand("C", c, m, n, ldc);
        if (m == 0 || n == 0) return;
        unsafe
        {
            fixed (float* pa = a, pc = c)
                GemmDriver.Run(m, n, k, alpha, pa, lda, transA, b.Pointer, beta, pc, ldc, null, Epilogue.None, parallel: true);
        }
    }
}

/// <summary>The plain triple loop every fast GEMM path is checked against (design note 4).</summary>
public static class GemmReference
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                }
                ref float cij = ref c[i * ldc + j];
                cij = beta == 0 ? alpha * sum : alpha * sum + beta * cij;
            }
        }
    }
}

static class GemmChecks
{
    /// <summary>A row-major [rows, cols] operand with row stride ld must fit its span: a bad size is the caller's bug
    /// and must name the operand, not surface as an access violation inside the unsafe kernel.</summary>
    public static void Operand(string name, ReadOnlySpan<float> x, int rows, int cols, int ld)
    {
        if (rows < 0 || cols < 0) throw new InvalidInputException($"GEMM operand {name}: negative size [{rows}, {cols}]");
        if (rows == 0 || cols == 0) return;
        if (ld < cols) throw new InvalidInputException($"GEMM operand {name}: row stride {ld} < {cols} columns");
        long needed = (long)(rows - 1) * ld + cols;
        if (x.Length < needed)
            throw new InvalidInputException($"GEMM operand {name}: [{rows}, {cols}] with stride {ld} needs {needed} elements, span has {x.Length}");
    }
}

/// <summary>Per-thread packing buffers, allocated once (pinned, 64-byte aligned) and grown only when a larger problem
/// arrives: steady-state calls allocate nothing.</summary>
internal static unsafe class GemmWorkspace
{
    [ThreadStatic] static float[]? _aBuffer, _bBuffer, _scratch;

    public static float* PackedA(int length) => Aligned(ref _aBuffer, length);
    public static float* PackedB(long length) => Aligned(ref _bBuffer, checked((int)length));
    /// <summary>Scratch for callers other than the GEMM itself (attention scores).</summary>
    public static float* Scratch(int length) => Aligned(ref _scratch, length);

    static float* Aligned(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length + 16)
            buffer = GC.AllocateUninitializedArray<float>(Math.Max(length + 16, 1024), pinned: true);
        float* p = (float*)Unsafe.AsPointer(ref buffer[0]);
        return (float*)(((nint)p + 63) & ~(nint)63);
    }
}

/// <summary>
/// The blocked SGEMM: C is cut into tasks of MC rows × a run of NR-column panels; each task walks K in KC steps,
/// packs its A block [MC, KC] into MR-row micro-panels (alpha folded in; on AVX-512 a plain row-major A is read in
/// place instead), and runs the micro-kernel over every (panel, micro-panel) pair: the B micro-panel [KC, NR] is reused
/// from L2 by every A micro-panel of the block.
/// The epilogue (bias, activation) runs on each tile right after its last K step, while it is still in cache.
/// </summary>
internal static unsafe partial class GemmDriver
{
    public const int NR = 48;
    // 768: every K of DistilBERT's forward but the FFN down projection in one block (no C reloads), and A [128, 768]
    // (384 KB) + a B micro-panel [768, 48] (144 KB) still fit one core's 1 MB L2. Measured against 256 in one process,
    // alternating: 1.5 % faster at 1 × 128, 4 % at 32 × 128; 384 and 1024 were in between, 192 slower.
    public const int KC = 768;
    const int MCMax = 128;

    public static int MR(KernelPath path) => path == KernelPath.Avx512 ? 8 : 4;

    [ThreadStatic] static GemmWork? _work;

    /// <param name="a">op(A): [m, k] (or stored [k, m] when transA), row stride lda</param>
    /// <param name="packedB">[k, n] in panel layout (<see cref="PackedMatrix.Pack"/>)</param>
    /// <param name="c">[m, n], row stride ldc</param>
    /// <param name="bias">[n] or null, added in the epilogue</param>
    /// <param name="strassenBlocks">start rows of 128-row blocks that may be computed by Strassen (ascending, disjoint;
    /// see <see cref="StrassenBlocks"/>); used where <see cref="StrassenApplies"/>, ignored elsewhere</param>
    public static void Run(int m, int n, int k, float alpha, float* a, nint lda, bool transA, float* packedB,
        float beta, float* c, nint ldc, float* bias, Epilogue epilogue, bool parallel, ReadOnlySpan<int> strassenBlocks = default)
    {
        if (m == 0 || n == 0) return;
        var path = KernelPaths.Active;
        int threads = parallel ? ComputeThreads.Count : 1;
        int panels = (n + NR - 1) / NR;
        var work = _work ??= new GemmWork();

        // M is cut into blocks of MC rows (and the named Strassen blocks), two tasks per thread. When that gives too few
        // tasks (small M: latency), N is split instead of shrinking the blocks: every B micro-panel is then reused over
        // all MC rows (32-row blocks, the old rule, were 6 % slower at M = 128). With Strassen blocks the split counts
        // panel pairs (a Strassen task covers panel j of both column halves).
        CheckStrassenBlocks(m, strassenBlocks);
        bool strassen = !strassenBlocks.IsEmpty && StrassenApplies(path, n, k, alpha, transA, beta);
        int blocks = work.SetRowBlocks(m, strassen ? strassenBlocks : default);
        int panelsPerUnit = strassen ? 2 : 1;
        int[] chunkStarts = work.ChunkStarts(2 * threads + 1);
        // A Strassen block is split evenly, one chunk per thread: a panel pair is a coarse unit (1/8 of the attention
        // output projection), and the big-then-small split measured 1.5 % slower over a layer's four GEMMs.
        int nChunks = SplitPanels(panels / panelsPerUnit, blocks, threads, k <= KC && !strassen, chunkStarts);
        work.Set(n, k, alpha, a, lda, transA, packedB, beta, c, ldc, bias, epilogue, path, panelsPerUnit, nChunks,
            Interlocked.Increment(ref _calls));
        try
        {
            if (threads == 1 || blocks * nChunks == 1)
                for (int t = 0; t < blocks * nChunks; t++) work.Execute(t);
            else
                ComputeThreads.For(blocks * nChunks, work);
        }
        finally { work.Clear(); }
    }

    static long _calls;

    /// <summary>Whether row-major A is read in place instead of packed (tests and benchmarks compare both).</summary>
    internal static bool UseDirectA = true;

    /// <summary>Cuts the panels of every row block into chunks (one task each): starts[0..chunks] are panel offsets.</summary>
    /// <param name="aPackedOnce">K fits one block, so a thread packs its rows of A once and reuses them for all its chunks</param>
    internal static int SplitPanels(int panels, int mBlocks, int threads, bool aPackedOnce, int[] starts)
    {
        int chunks;
        if (threads == 1 || mBlocks >= 2 * threads) chunks = 1;
        else if (mBlocks == 1 && aPackedOnce && panels >= 2 * threads)
        {
            // One row block (batch-1 latency): a big chunk per thread first, then small ones that even out whichever
            // thread started late or ran slow. The A rows are packed once per thread, so extra chunks cost nothing.
            int big = Math.Max(1, 3 * panels / (4 * threads));
            int rest = panels - threads * big;
            starts[0] = 0;
            for (int i = 1; i <= threads; i++) starts[i] = starts[i - 1] + big;
            for (int i = 1; i <= threads; i++) starts[threads + i] = threads * big + (int)((long)rest * i / threads);
            return 2 * threads;
        }
        else if (mBlocks == 1) chunks = Math.Min(threads, panels); // every chunk re-packs A for every K block
        else chunks = Math.Min((2 * threads + mBlocks - 1) / mBlocks, panels);
        for (int i = 0; i <= chunks; i++) starts[i] = (int)((long)panels * i / chunks);
        return chunks;
    }

    static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    sealed partial class GemmWork : ParallelWork
    {
        int _n, _k, _panelsPerUnit, _nChunks;
        int[] _chunkStarts = [];
        // row block i: rows [_blockStart[i], + _blockRows[i]); _blockRows[i] < 0 marks a Strassen block of 128 rows
        int[] _blockStart = new int[64], _blockRows = new int[64];
        long _call;

        public int[] ChunkStarts(int length)
        {
            if (_chunkStarts.Length < length) _chunkStarts = new int[length];
            return _chunkStarts;
        }

        /// <summary>Cuts rows [0, m) into the named Strassen blocks and plain blocks of up to MC rows between them;
        /// returns the number of blocks.</summary>
        public int SetRowBlocks(int m, ReadOnlySpan<int> strassenBlocks)
        {
            int count = 0, cursor = 0;
            foreach (int start in strassenBlocks)
            {
                AddPlainBlocks(ref count, cursor, start);
                AddBlock(ref count, start, -StrassenRows);
                cursor = start + StrassenRows;
            }
            AddPlainBlocks(ref count, cursor, m);
            return count;
        }

        void AddPlainBlocks(ref int count, int from, int to)
        {
            for (int row = from; row < to; row += MCMax) AddBlock(ref count, row, Math.Min(MCMax, to - row));
        }

        void AddBlock(ref int count, int start, int rows)
        {
            if (count == _blockStart.Length)
            {
                Array.Resize(ref _blockStart, 2 * count);
                Array.Resize(ref _blockRows, 2 * count);
            }
            _blockStart[count] = start;
            _blockRows[count++] = rows;
        }

        float _alpha, _beta;
        float* _a, _b, _c, _bias;
        nint _lda, _ldc;
        bool _transA;
        Epilogue _epilogue;
        KernelPath _path;

        public void Set(int n, int k, float alpha, float* a, nint lda, bool transA, float* b, float beta,
            float* c, nint ldc, float* bias, Epilogue epilogue, KernelPath path, int panelsPerUnit, int nChunks, long call)
        {
            _n = n; _k = k; _alpha = alpha; _a = a; _lda = lda; _transA = transA; _b = b; _beta = beta;
            _c = c; _ldc = ldc; _bias = bias; _epilogue = epilogue; _path = path; _panelsPerUnit = panelsPerUnit;
            _nChunks = nChunks; _call = call;
        }

        public void Clear() { _a = _b = _c = _bias = null; }

        public override void Execute(int index)
        {
            int block = index / _nChunks, chunk = index % _nChunks;
            int row0 = _blockStart[block], rows = _blockRows[block];
            int unit0 = _chunkStarts[chunk], unitEnd = _chunkStarts[chunk + 1];
            if (rows < 0) StrassenBlock(row0, unit0, unitEnd);
            else Block(row0, rows, unit0 * _panelsPerUnit, unitEnd * _panelsPerUnit);
        }

        // What this thread's A workspace holds: rows from row0, K from p0, of GEMM call number _packedCall.
        [ThreadStatic] static long _packedCall;
        [ThreadStatic] static int _packedRow0, _packedP0;
        [ThreadStatic] static float* _packedBuffer;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Block(int row0, int rows, int panel0, int panelEnd)
        {
            int mr = MR(_path);
            int col0 = panel0 * NR, cols = Math.Min(panelEnd * NR, _n) - col0;
            float* cBlock = _c + row0 * _ldc + col0;
            if (_beta != 0 && _beta != 1) ScaleBlock(cBlock, _ldc, rows, cols, _beta);
            if (_k == 0)
            {
                if (_beta == 0) ZeroBlock(cBlock, _ldc, rows, cols);
                for (int r = 0; r < rows; r++) Epilogues.Apply(cBlock + r * _ldc, _bias == null ? null : _bias + col0, cols, _epilogue);
                return;
            }
            // Row-major A with alpha 1 and whole panels (every linear layer's shape): the AVX-512 kernel broadcasts
            // straight from A's rows, so A is never packed. Each of the 8 rows' cache lines then serves 16 K steps, from
            // L2 like a packed block would; measured in one process against packing, alternating: 1.2 % faster at 1 × 128
            // and 8 × 128 (both threads had packed the same A), the same at 32 × 128.
            bool directA = UseDirectA && _path == KernelPath.Avx512 && !_transA && _alpha == 1f && _n % NR == 0;
            float* aPack = directA ? null : GemmWorkspace.PackedA(RoundUp(rows, mr) * Math.Min(KC, _k));
            float* tile = stackalloc float[8 * NR + 16];
            tile = (float*)(((nint)tile + 63) & ~(nint)63);
            for (int p0 = 0; p0 < _k; p0 += KC)
            {
                int kc = Math.Min(KC, _k - p0);
                // A thread that runs several chunks of the same rows of one call packs them only once (K in one block).
                if (!directA && (_packedCall != _call || _packedRow0 != row0 || _packedP0 != p0 || _packedBuffer != aPack))
                {
                    PackA(row0, rows, p0, kc, mr, aPack);
                    _packedCall = _call; _packedRow0 = row0; _packedP0 = p0; _packedBuffer = aPack;
                }
                bool accumulate = p0 > 0 || _beta != 0;
                bool last = p0 + kc >= _k;
                bool epilogue = last && (_bias != null || _epilogue != Epilogue.None);
                int microPanels = (rows + mr - 1) / mr;
                for (int jp = panel0; jp < panelEnd; jp++)
                {
                    float* bp = _b + (nint)jp * _k * NR + (nint)p0 * NR;
                    int c0 = jp * NR, cn = Math.Min(NR, _n - c0);
                    // The next B micro-panel [kc, NR] (this K step's next panel, else the next K step's first) is fetched
                    // a slice per micro-kernel call, so it does not arrive from DRAM at the kernel's pace (at batch 1 every
                    // layer's weights come from DRAM). The AVX-512 kernel spreads its slice over its K loop, one line every
                    // 4 steps: 4–5 % faster at M = 128 than the same lines prefetched in a burst before the call, which
                    // measured no better than no prefetch at all.
                    float* nextB = jp + 1 < panelEnd ? bp + (nint)_k * NR
                        : p0 + KC < _k ? _b + (nint)panel0 * _k * NR + (nint)(p0 + KC) * NR : null;
                    int nextLines = nextB == null ? 0 : Math.Min(KC, _k - (jp + 1 < panelEnd ? p0 : p0 + KC)) * NR / 16;
                    int linesPerCall = (nextLines + microPanels - 1) / microPanels;
                    for (int ir = 0; ir < rows; ir += mr)
                    {
                        float* prefetch = null, prefetchEnd = null;
                        if (nextB != null)
                        {
                            int first = ir / mr * linesPerCall;
                            prefetch = nextB + first * 16;
                            prefetchEnd = nextB + Math.Min(first + linesPerCall, nextLines) * 16;
                        }
                        int rn = Math.Min(mr, rows - ir);
                        float* cp = _c + (row0 + ir) * _ldc + c0;
                        if (_path == KernelPath.Avx512 && cn == NR)
                        {
                            // A read in place (rows lda apart, K consecutive) or a packed micro-panel (8 values per k)
                            float* aTile = directA ? _a + (row0 + ir) * _lda + p0 : aPack + (nint)ir * kc;
                            nint rowStride = directA ? _lda : 1, kStride = directA ? 1 : 8;
                            if (rn == 8)
                            {
                                Kernel8x48Avx512(kc, aTile, rowStride, kStride, 8, bp, cp, _ldc, accumulate, prefetch, prefetchEnd);
                                if (epilogue) TileEpilogueAvx512(cp, _ldc, _bias == null ? null : _bias + c0, _epilogue);
                                continue;
                            }
                            // the last rows: the same arithmetic as a full tile, on a copy of C's rows, so a row's
                            // result does not depend on where the batch put it
                            if (accumulate)
                            {
                                MergeTile(_path, cp, tile, NR, rn, cn, accumulate: false, sourceStride: _ldc);
                                new Span<float>(tile + rn * NR, (8 - rn) * NR).Clear(); // the unused rows: no stale NaN or denormal
                            }
                            Kernel8x48Avx512(kc, aTile, rowStride, kStride, rn, bp, tile, NR, accumulate, prefetch, prefetchEnd);
                            MergeTile(_path, tile, cp, _ldc, rn, cn, accumulate: false);
                        }
                        else if (rn == mr && cn == NR)
                            MicroKernel(_path, kc, aPack + (nint)ir * kc, bp, cp, _ldc, accumulate, prefetch, prefetchEnd);
                        else if (cn <= 32 && _path == KernelPath.Avx512)
                        {
                            // a narrow last panel (attention's head dim 64 = 48 + 16, T = 128 = 2·48 + 32): only the
                            // columns that exist, instead of a whole 48-wide tile
                            float* ap = aPack + (nint)ir * kc;
                            bool direct = rn == 8 && (cn == 16 || cn == 32);
                            if (cn <= 16) Kernel8x16Avx512(kc, ap, bp, direct ? cp : tile, direct ? _ldc : NR, direct && accumulate);
                            else Kernel8x32Avx512(kc, ap, bp, direct ? cp : tile, direct ? _ldc : NR, direct && accumulate);
                            if (!direct) MergeTile(_path, tile, cp, _ldc, rn, cn, accumulate);
                        }
                        else
                        {
                            MicroKernel(_path, kc, aPack + (nint)ir * kc, bp, tile, NR, false, prefetch, prefetchEnd);
                            MergeTile(_path, tile, cp, _ldc, rn, cn, accumulate);
                        }
                        if (epilogue)
                            for (int r = 0; r < rn; r++) Epilogues.Apply(cp + r * _ldc, _bias == null ? null : _bias + c0, cn, _epilogue);
                    }
                }
            }
        }

        /// <summary>dst: micro-panels of mr rows, k-major: dst[(ir + p·mr) + r] = alpha · A[row0 + ir + r, p0 + p];
        /// rows past the block are zero so the kernel can always run full height.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void PackA(int row0, int rows, int p0, int kc, int mr, float* dst)
        {
            float alpha = _alpha;
            for (int ir = 0; ir < rows; ir += mr)
            {
                int rn = Math.Min(mr, rows - ir);
                float* panel = dst + (nint)ir * kc;
                if (_transA && rn == 8 && mr == 8 && Avx.IsSupported)
                {
                    PackA8FromTransposed(_a + p0 * _lda + row0 + ir, _lda, kc, alpha, panel);
                }
                else if (_transA)
                {
                    // stored [k, m]: the mr values of one k are contiguous
                    for (int p = 0; p < kc; p++)
                    {
                        float* src = _a + (p0 + p) * _lda + row0 + ir;
                        float* d = panel + p * mr;
                        int r = 0;
                        for (; r < rn; r++) d[r] = alpha * src[r];
                        for (; r < mr; r++) d[r] = 0;
                    }
                }
                else if (rn == 8 && Avx.IsSupported)
                {
                    PackA8Transposed(_a + (row0 + ir) * _lda + p0, _lda, kc, alpha, panel);
                }
                else
                {
                    for (int r = 0; r < mr; r++)
                    {
                        float* d = panel + r;
                        if (r >= rn) { for (int p = 0; p < kc; p++) d[p * mr] = 0; continue; }
                        float* src = _a + (row0 + ir + r) * _lda + p0;
                        for (int p = 0; p < kc; p++) d[p * mr] = alpha * src[p];
                    }
                }
            }
        }
    }

    /// <summary>8 rows × kc columns of a row-major A into the 8-row micro-panel layout, 8×8 blocks transposed in
    /// registers (the scalar scatter costs several percent of a small-M GEMM).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackA8Transposed(float* src, nint lda, int kc, float alpha, float* dst)
    {
        var scale = Vector256.Create(alpha);
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            var r0 = Vector256.Load(src + p) * scale;
            var r1 = Vector256.Load(src + lda + p) * scale;
            var r2 = Vector256.Load(src + 2 * lda + p) * scale;
            var r3 = Vector256.Load(src + 3 * lda + p) * scale;
            var r4 = Vector256.Load(src + 4 * lda + p) * scale;
            var r5 = Vector256.Load(src + 5 * lda + p) * scale;
            var r6 = Vector256.Load(src + 6 * lda + p) * scale;
            var r7 = Vector256.Load(src + 7 * lda + p) * scale;
            Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            float* d = dst + p * 8;
            r0.Store(d); r1.Store(d + 8); r2.Store(d + 16); r3.Store(d + 24);
            r4.Store(d + 32); r5.Store(d + 40); r6.Store(d + 48); r7.Store(d + 56);
        }
        for (; p < kc; p++)
            for (int r = 0; r < 8; r++) dst[p * 8 + r] = alpha * src[r * lda + p];
    }

    /// <summary>8 rows of a transposed A (stored [k, m]: the 8 values of one k are contiguous) into the 8-row
    /// micro-panel layout, one vector per k (training's dW = dyᵀ·x packs all of dy this way).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackA8FromTransposed(float* src, nint lda, int kc, float alpha, float* dst)
    {
        var scale = Vector256.Create(alpha);
        for (int p = 0; p < kc; p++) (Vector256.Load(src + p * lda) * scale).Store(dst + p * 8);
    }

    /// <summary>dst[j·ldd + i] = src[i·lds + j] for an 8×8 block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Transpose8x8Block(float* src, nint lds, float* dst, nint ldd)
    {
        var r0 = Vector256.Load(src); var r1 = Vector256.Load(src + lds);
        var r2 = Vector256.Load(src + 2 * lds); var r3 = Vector256.Load(src + 3 * lds);
        var r4 = Vector256.Load(src + 4 * lds); var r5 = Vector256.Load(src + 5 * lds);
        var r6 = Vector256.Load(src + 6 * lds); var r7 = Vector256.Load(src + 7 * lds);
        Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
        r0.Store(dst); r1.Store(dst + ldd); r2.Store(dst + 2 * ldd); r3.Store(dst + 3 * ldd);
        r4.Store(dst + 4 * ldd); r5.Store(dst + 5 * ldd); r6.Store(dst + 6 * ldd); r7.Store(dst + 7 * ldd);
    }

    /// <summary>In-register 8×8 transpose: row i of the result holds element i of every input row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        // interleave pairs, then quads, then swap 128-bit halves
        var t0 = Unpack(r0, r1, low: true); var t1 = Unpack(r0, r1, low: false);
        var t2 = Unpack(r2, r3, low: true); var t3 = Unpack(r2, r3, low: false);
        var t4 = Unpack(r4, r5, low: true); var t5 = Unpack(r4, r5, low: false);
        var t6 = Unpack(r6, r7, low: true); var t7 = Unpack(r6, r7, low: false);
        var u0 = Unpack64(t0, t2, low: true); var u1 = Unpack64(t0, t2, low: false);
        var u2 = Unpack64(t1, t3, low: true); var u3 = Unpack64(t1, t3, low: false);
        var u4 = Unpack64(t4, t6, low: true); var u5 = Unpack64(t4, t6, low: false);
        var u6 = Unpack64(t5, t7, low: true); var u7 = Unpack64(t5, t7, low: false);
        r0 = Halves(u0, u4, low: true); r4 = Halves(u0, u4, low: false);
        r1 = Halves(u1, u5, low: true); r5 = Halves(u1, u5, low: false);
        r2 = Halves(u2, u6, low: true); r6 = Halves(u2, u6, low: false);
        r3 = Halves(u3, u7, low: true); r7 = Halves(u3, u7, low: false);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Unpack(Vector256<float> x, Vector256<float> y, bool low)
        => low ? Avx.UnpackLow(x, y) : Avx.UnpackHigh(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Unpack64(Vector256<float> x, Vector256<float> y, bool low)
        => (low ? Avx.UnpackLow(x.AsDouble(), y.AsDouble()) : Avx.UnpackHigh(x.AsDouble(), y.AsDouble())).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Halves(Vector256<float> x, Vector256<float> y, bool low)
        => low ? Avx.Permute2x128(x, y, 0x20) : Avx.Permute2x128(x, y, 0x31);

    static void ScaleBlock(float* c, nint ldc, int rows, int cols, float beta)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = new Span<float>(c + r * ldc, cols);
            for (int j = 0; j < cols; j++) row[j] *= beta;
        }
    }

    static void ZeroBlock(float* c, nint ldc, int rows, int cols)
    {
        for (int r = 0; r < rows; r++) new Span<float>(c + r * ldc, cols).Clear();
    }

    /// <summary>C[rows, cols] (+)= the edge tile (row stride sourceStride). Vector loads of the tile, masked stores at the
    /// ragged end: the kernel has just written it with vector stores, and scalar reloads of those fail store forwarding
    /// (a 128 × 42 GEMM ran 2.4× slower). The source is read in whole vectors, up to cols rounded up to the vector width:
    /// a tile always has them; C as the source (copied into a tile) only with whole panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MergeTile(KernelPath path, float* tile, float* c, nint ldc, int rows, int cols, bool accumulate, nint sourceStride = NR)
    {
        if (path == KernelPath.Avx512)
        {
            for (int r = 0; r < rows; r++)
            {
                float* t = tile + r * sourceStride, d = c + r * ldc;
                for (int j = 0; j < cols; j += 16)
                {
                    var v = Vector512.Load(t + j);
                    if (j + 16 <= cols)
                    {
                        if (accumulate) v += Vector512.Load(d + j);
                        v.Store(d + j);
                    }
                    else
                    {
                        var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols - j)).AsSingle();
                        if (accumulate) v += Avx512F.MaskLoad(d + j, mask, Vector512<float>.Zero);
                        Avx512F.MaskStore(d + j, mask, v);
                    }
                }
            }
            return;
        }
        if (path == KernelPath.Avx2)
        {
            for (int r = 0; r < rows; r++)
            {
                float* t = tile + r * sourceStride, d = c + r * ldc;
                for (int j = 0; j < cols; j += 8)
                {
                    var v = Vector256.Load(t + j);
                    if (j + 8 <= cols)
                    {
                        if (accumulate) v += Vector256.Load(d + j);
                        v.Store(d + j);
                    }
                    else
                    {
                        var mask = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(cols - j)).AsSingle();
                        if (accumulate) v += Avx.MaskLoad(d + j, mask);
                        Avx.MaskStore(d + j, mask, v);
                    }
                }
            }
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            float* t = tile + r * sourceStride, d = c + r * ldc;
            if (accumulate) for (int j = 0; j < cols; j++) d[j] += t[j];
            else for (int j = 0; j < cols; j++) d[j] = t[j];
        }
    }

    /// <summary>C[mr, 48] (+)= A micro-panel · B micro-panel on the given instruction set; the cache lines in
    /// [prefetch, prefetchEnd) (the next B micro-panel's slice, or none) are requested on the way.</summary>
    public static void MicroKernel(KernelPath path, int kc, float* a, float* b, float* c, nint ldc, bool accumulate,
        float* prefetch = null, float* prefetchEnd = null)
    {
        if (path != KernelPath.Avx512 && Sse.IsSupported)
            for (float* line = prefetch; line < prefetchEnd; line += 16) Sse.Prefetch1(line);
        switch (path)
        {
            case KernelPath.Avx512:
                Kernel8x48Avx512(kc, a, 1, 8, 8, b, c, ldc, accumulate, prefetch, prefetchEnd);
                break;
            case KernelPath.Avx2:
                Kernel4x24Avx2(kc, a, b, c, ldc, accumulate);
                Kernel4x24Avx2(kc, a, b + 24, c + 24, ldc, accumulate);
                break;
            default:
                Kernel4x48Portable(kc, a, b, c, ldc, accumulate);
                break;
        }
    }

    /// <summary>C[4, 48] (+)= A micro-panel [kc, 4] · B micro-panel [kc, 48] with Vector&lt;float&gt;, for machines
    /// without AVX2/FMA.</summary>
    static void Kernel4x48Portable(int kc, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        int w = Vector<float>.Count;
        for (int r = 0; r < 4; r++)
        {
            for (int j = 0; j < NR; j += w)
            {
                var acc = accumulate ? Unsafe.ReadUnaligned<Vector<float>>(c + r * ldc + j) : Vector<float>.Zero;
                for (int p = 0; p < kc; p++)
                    acc += new Vector<float>(a[p * 4 + r]) * Unsafe.ReadUnaligned<Vector<float>>(b + p * NR + j);
                Unsafe.WriteUnaligned(c + r * ldc + j, acc);
            }
        }
    }

    /// <summary>The epilogue of one full 8 × 48 tile just written by the AVX-512 micro-kernel (still in L1): the same
    /// arithmetic as <see cref="Epilogues.Apply"/> (bias add, then the activation) as 24 straight vector operations —
    /// the per-row span calls cost more than the GELU itself on a 48-wide row.</summary>
    static void TileEpilogueAvx512(float* c, nint ldc, float* bias, Epilogue epilogue)
    {
        switch (epilogue)
        {
            case Epilogue.Gelu: TileEpilogueAvx512<BiasGelu>(c, ldc, bias); break;
            case Epilogue.Relu: TileEpilogueAvx512<BiasRelu>(c, ldc, bias); break;
            default: TileEpilogueAvx512<BiasOnly>(c, ldc, bias); break;
        }
    }

    static void TileEpilogueAvx512<TEpilogue>(float* c, nint ldc, float* bias) where TEpilogue : struct, ITileEpilogue
    {
        Vector512<float> b0 = default, b1 = default, b2 = default;
        if (bias != null) { b0 = Vector512.Load(bias); b1 = Vector512.Load(bias + 16); b2 = Vector512.Load(bias + 32); }
        for (int r = 0; r < 8; r++, c += ldc)
        {
            TEpilogue.Apply(Vector512.Load(c), b0, bias != null).Store(c);
            TEpilogue.Apply(Vector512.Load(c + 16), b1, bias != null).Store(c + 16);
            TEpilogue.Apply(Vector512.Load(c + 32), b2, bias != null).Store(c + 32);
        }
    }

    interface ITileEpilogue
    {
        static abstract Vector512<float> Apply(Vector512<float> x, Vector512<float> bias, bool hasBias);
    }

    readonly struct BiasOnly : ITileEpilogue
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Apply(Vector512<float> x, Vector512<float> bias, bool hasBias) => hasBias ? x + bias : x;
    }

    readonly struct BiasGelu : ITileEpilogue
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Apply(Vector512<float> x, Vector512<float> bias, bool hasBias) => Activations.GeluVector(hasBias ? x + bias : x);
    }

    readonly struct BiasRelu : ITileEpilogue
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Apply(Vector512<float> x, Vector512<float> bias, bool hasBias) => Activations.ReluVector(hasBias ? x + bias : x);
    }

    /// <summary>C[8, 48] (+)= A[8, kc] · B micro-panel [kc, 48]; 24 zmm accumulators stay in registers. Element (r, p) of
    /// A is at a[r·rowStride + p·kStride]: a packed micro-panel is (1, 8), a row-major A read in place is (lda, 1). Rows
    /// past <paramref name="rows"/> repeat the last real row (nothing is read past A; the caller keeps only real rows).
    /// The cache lines in [prefetch, prefetchEnd) (the next B micro-panel's slice) are requested on the way.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Kernel8x48Avx512(int kc, float* a, nint rowStride, nint kStride, int rows, float* b, float* c, nint ldc,
        bool accumulate, float* prefetch, float* prefetchEnd)
        => Kernel8x48Avx512<OneOperand, OneOperand>(kc, a, 0, rowStride, kStride, rows, b, 0, c, ldc, accumulate, prefetch, prefetchEnd);

    /// <summary>The kernel above with each operand optionally the sum or difference of two (Strassen's products,
    /// <see cref="GemmWork.StrassenBlock"/>): A element (r, p) is TA.Combine(a[i], a[i + aOther]) at i = r·rowStride +
    /// p·kStride, and each B vector TB.Combine(b[i], b[i + bOther]). The extra adds run on the FP add pipes, beside the
    /// FMAs: the B sum costs nothing measurable, the A sum ~3.5 % (two broadcasts per row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel8x48Avx512<TA, TB>(int kc, float* a, nint aOther, nint rowStride, nint kStride, int rows, float* b,
        nint bOther, float* c, nint ldc, bool accumulate, float* prefetch, float* prefetchEnd)
        where TA : struct, IOperandCombination where TB : struct, IOperandCombination
    {
        float* a0 = a;
        float* a1 = rows > 1 ? a0 + rowStride : a0;
        float* a2 = rows > 2 ? a1 + rowStride : a1;
        float* a3 = rows > 3 ? a2 + rowStride : a2;
        float* a4 = rows > 4 ? a3 + rowStride : a3;
        float* a5 = rows > 5 ? a4 + rowStride : a4;
        float* a6 = rows > 6 ? a5 + rowStride : a5;
        float* a7 = rows > 7 ? a6 + rowStride : a6;
        Vector512<float> c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32, c40, c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72;
        if (accumulate)
        {
            c00 = Vector512.Load(c + 0 * ldc + 0); c01 = Vector512.Load(c + 0 * ldc + 16); c02 = Vector512.Load(c + 0 * ldc + 32);
            c10 = Vector512.Load(c + 1 * ldc + 0); c11 = Vector512.Load(c + 1 * ldc + 16); c12 = Vector512.Load(c + 1 * ldc + 32);
            c20 = Vector512.Load(c + 2 * ldc + 0); c21 = Vector512.Load(c + 2 * ldc + 16); c22 = Vector512.Load(c + 2 * ldc + 32);
            c30 = Vector512.Load(c + 3 * ldc + 0); c31 = Vector512.Load(c + 3 * ldc + 16); c32 = Vector512.Load(c + 3 * ldc + 32);
            c40 = Vector512.Load(c + 4 * ldc + 0); c41 = Vector512.Load(c + 4 * ldc + 16); c42 = Vector512.Load(c + 4 * ldc + 32);
            c50 = Vector512.Load(c + 5 * ldc + 0); c51 = Vector512.Load(c + 5 * ldc + 16); c52 = Vector512.Load(c + 5 * ldc + 32);
            c60 = Vector512.Load(c + 6 * ldc + 0); c61 = Vector512.Load(c + 6 * ldc + 16); c62 = Vector512.Load(c + 6 * ldc + 32);
            c70 = Vector512.Load(c + 7 * ldc + 0); c71 = Vector512.Load(c + 7 * ldc + 16); c72 = Vector512.Load(c + 7 * ldc + 32);
        }
        else
        {
            c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = Vector512<float>.Zero;
            c40 = c41 = c42 = c50 = c51 = c52 = c60 = c61 = c62 = c70 = c71 = c72 = Vector512<float>.Zero;
        }
        // one line every 4 K steps, or every step when the slice is longer than that (few rows: few calls per panel)
        int prefetchMask = (prefetchEnd - prefetch) / 16 * 4 <= kc ? 3 : 0;
        nint q = 0;
        for (int p = 0; p < kc; p++, q += kStride)
        {
            if ((p & prefetchMask) == 0 && prefetch < prefetchEnd) { Sse.Prefetch0(prefetch); prefetch += 16; }
            var b0 = TB.Vector(b, bOther); var b1 = TB.Vector(b + 16, bOther); var b2 = TB.Vector(b + 32, bOther);
            var x = TA.Broadcast(a0 + q, aOther);
            c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); c01 = Avx512F.FusedMultiplyAdd(x, b1, c01); c02 = Avx512F.FusedMultiplyAdd(x, b2, c02);
            x = TA.Broadcast(a1 + q, aOther);
            c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); c11 = Avx512F.FusedMultiplyAdd(x, b1, c11); c12 = Avx512F.FusedMultiplyAdd(x, b2, c12);
            x = TA.Broadcast(a2 + q, aOther);
            c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); c21 = Avx512F.FusedMultiplyAdd(x, b1, c21); c22 = Avx512F.FusedMultiplyAdd(x, b2, c22);
            x = TA.Broadcast(a3 + q, aOther);
            c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); c31 = Avx512F.FusedMultiplyAdd(x, b1, c31); c32 = Avx512F.FusedMultiplyAdd(x, b2, c32);
            x = TA.Broadcast(a4 + q, aOther);
            c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); c41 = Avx512F.FusedMultiplyAdd(x, b1, c41); c42 = Avx512F.FusedMultiplyAdd(x, b2, c42);
            x = TA.Broadcast(a5 + q, aOther);
            c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); c51 = Avx512F.FusedMultiplyAdd(x, b1, c51); c52 = Avx512F.FusedMultiplyAdd(x, b2, c52);
            x = TA.Broadcast(a6 + q, aOther);
            c60 = Avx512F.FusedMultiplyAdd(x, b0, c60); c61 = Avx512F.FusedMultiplyAdd(x, b1, c61); c62 = Avx512F.FusedMultiplyAdd(x, b2, c62);
            x = TA.Broadcast(a7 + q, aOther);
            c70 = Avx512F.FusedMultiplyAdd(x, b0, c70); c71 = Avx512F.FusedMultiplyAdd(x, b1, c71); c72 = Avx512F.FusedMultiplyAdd(x, b2, c72);
            b += 48;
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 16); c02.Store(c + 0 * ldc + 32);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 16); c12.Store(c + 1 * ldc + 32);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 16); c22.Store(c + 2 * ldc + 32);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 16); c32.Store(c + 3 * ldc + 32);
        c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 16); c42.Store(c + 4 * ldc + 32);
        c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 16); c52.Store(c + 5 * ldc + 32);
        c60.Store(c + 6 * ldc + 0); c61.Store(c + 6 * ldc + 16); c62.Store(c + 6 * ldc + 32);
        c70.Store(c + 7 * ldc + 0); c71.Store(c + 7 * ldc + 16); c72.Store(c + 7 * ldc + 32);
    }

    /// <summary>C[8, 32] (+)= A micro-panel [kc, 8] · the first 32 columns of a B micro-panel [kc, 48].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel8x32Avx512(int kc, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (accumulate)
        {
            c00 = Vector512.Load(c + 0 * ldc); c01 = Vector512.Load(c + 0 * ldc + 16);
            c10 = Vector512.Load(c + 1 * ldc); c11 = Vector512.Load(c + 1 * ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc); c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc); c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector512<float>.Zero;
            c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00); c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(a[1]); c10 = Avx512F.FusedMultiplyAdd(a1, b0, c10); c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(a[2]); c20 = Avx512F.FusedMultiplyAdd(a2, b0, c20); c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(a[3]); c30 = Avx512F.FusedMultiplyAdd(a3, b0, c30); c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(a[4]); c40 = Avx512F.FusedMultiplyAdd(a4, b0, c40); c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(a[5]); c50 = Avx512F.FusedMultiplyAdd(a5, b0, c50); c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(a[6]); c60 = Avx512F.FusedMultiplyAdd(a6, b0, c60); c61 = Avx512F.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(a[7]); c70 = Avx512F.FusedMultiplyAdd(a7, b0, c70); c71 = Avx512F.FusedMultiplyAdd(a7, b1, c71);
            a += 8; b += NR;
        }
        c00.Store(c + 0 * ldc); c01.Store(c + 0 * ldc + 16);
        c10.Store(c + 1 * ldc); c11.Store(c + 1 * ldc + 16);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc); c71.Store(c + 7 * ldc + 16);
    }

    /// <summary>C[8, 16] (+)= A micro-panel [kc, 8] · the first 16 columns of a B micro-panel [kc, 48].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel8x16Avx512(int kc, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        Vector512<float> c0, c1, c2, c3, c4, c5, c6, c7;
        if (accumulate)
        {
            c0 = Vector512.Load(c); c1 = Vector512.Load(c + ldc); c2 = Vector512.Load(c + 2 * ldc); c3 = Vector512.Load(c + 3 * ldc);
            c4 = Vector512.Load(c + 4 * ldc); c5 = Vector512.Load(c + 5 * ldc); c6 = Vector512.Load(c + 6 * ldc); c7 = Vector512.Load(c + 7 * ldc);
        }
        else c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c7);
            a += 8; b += NR;
        }
        c0.Store(c); c1.Store(c + ldc); c2.Store(c + 2 * ldc); c3.Store(c + 3 * ldc);
        c4.Store(c + 4 * ldc); c5.Store(c + 5 * ldc); c6.Store(c + 6 * ldc); c7.Store(c + 7 * ldc);
    }

    /// <summary>C[4, 24] (+)= A micro-panel [kc, 4] · 24 columns of a B micro-panel [kc, 48] (called twice per panel);
    /// 12 ymm accumulators + 3 B + 1 broadcast fit AVX2's 16 registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel4x24Avx2(int kc, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        Vector256<float> c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
        if (accumulate)
        {
            c00 = Vector256.Load(c + 0 * ldc + 0); c01 = Vector256.Load(c + 0 * ldc + 8); c02 = Vector256.Load(c + 0 * ldc + 16);
            c10 = Vector256.Load(c + 1 * ldc + 0); c11 = Vector256.Load(c + 1 * ldc + 8); c12 = Vector256.Load(c + 1 * ldc + 16);
            c20 = Vector256.Load(c + 2 * ldc + 0); c21 = Vector256.Load(c + 2 * ldc + 8); c22 = Vector256.Load(c + 2 * ldc + 16);
            c30 = Vector256.Load(c + 3 * ldc + 0); c31 = Vector256.Load(c + 3 * ldc + 8); c32 = Vector256.Load(c + 3 * ldc + 16);
        }
        else
        {
            c00 = Vector256<float>.Zero; c01 = Vector256<float>.Zero; c02 = Vector256<float>.Zero;
            c10 = Vector256<float>.Zero; c11 = Vector256<float>.Zero; c12 = Vector256<float>.Zero;
            c20 = Vector256<float>.Zero; c21 = Vector256<float>.Zero; c22 = Vector256<float>.Zero;
            c30 = Vector256<float>.Zero; c31 = Vector256<float>.Zero; c32 = Vector256<float>.Zero;
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 8); var b2 = Vector256.Load(b + 16);
            var a0 = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(a0, b0, c00); c01 = Fma.MultiplyAdd(a0, b1, c01); c02 = Fma.MultiplyAdd(a0, b2, c02);
            var a1 = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(a1, b0, c10); c11 = Fma.MultiplyAdd(a1, b1, c11); c12 = Fma.MultiplyAdd(a1, b2, c12);
            var a2 = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(a2, b0, c20); c21 = Fma.MultiplyAdd(a2, b1, c21); c22 = Fma.MultiplyAdd(a2, b2, c22);
            var a3 = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(a3, b0, c30); c31 = Fma.MultiplyAdd(a3, b1, c31); c32 = Fma.MultiplyAdd(a3, b2, c32);
            a += 4; b += 48;
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 8); c02.Store(c + 0 * ldc + 16);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 8); c12.Store(c + 1 * ldc + 16);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 8); c22.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 8); c32.Store(c + 3 * ldc + 16);
    }
}
