using System.Runtime.CompilerServices;

namespace DistilBert.Compute;

/// <summary>
/// The B operand of a GEMM, [rows = k, columns = n], packed once into the micro-kernel's panel layout: panels of
/// <c>48</c> columns, each stored k-major ([k, 48], zero-padded past n), in pinned 64-byte-aligned memory. Weights are
/// packed at load (<see cref="FromLinearWeight"/>) and re-packed in place after an optimizer step
/// (<see cref="Repack"/>); <see cref="Linear.Forward(ReadOnlySpan{float}, int, PackedMatrix, ReadOnlySpan{float},
/// Span{float}, Epilogue, ReadOnlySpan{int})"/> then multiplies without touching the original layout again.
/// </summary>
public sealed unsafe class PackedMatrix
{
    readonly float[] _storage;
    readonly int _offset;
    readonly int _sourceStride;
    readonly bool _sourceTransposed;

    /// <summary>k: the reduction dimension.</summary>
    public int Rows { get; }
    /// <summary>n: the output dimension.</summary>
    public int Columns { get; }

    PackedMatrix(int rows, int columns, int sourceStride, bool sourceTransposed)
    {
        Rows = rows;
        Columns = columns;
        _sourceStride = sourceStride;
        _sourceTransposed = sourceTransposed;
        long length = PackedLength(rows, columns);
        if (length > Array.MaxLength - 16)
            throw new InvalidInputException($"matrix [{rows}, {columns}] is too large to pack ({length} elements)");
        _storage = GC.AllocateUninitializedArray<float>((int)length + 16, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref _storage[0]);
        _offset = (int)((((address + 63) & ~(nint)63) - address) / sizeof(float));
    }

    /// <summary>Packs a torch.nn.Linear weight W[n, k] as the GEMM operand B = Wᵀ [k, n], so y = x · B.</summary>
    public static PackedMatrix FromLinearWeight(ReadOnlySpan<float> weight, int n, int k)
    {
        var packed = new PackedMatrix(k, n, k, sourceTransposed: true);
        packed.Repack(weight);
        return packed;
    }

    /// <summary>Packs B [k, n] stored row-major with row stride ld, or (transposed) stored as [n, k].</summary>
    public static PackedMatrix FromMatrix(ReadOnlySpan<float> b, int k, int n, int ld, bool transposed)
    {
        var packed = new PackedMatrix(k, n, ld, transposed);
        packed.Repack(b);
        return packed;
    }

    /// <summary>Packs new values of the same source matrix (same shape and layout as at creation), e.g. after an
    /// optimizer step. Allocates nothing.</summary>
    public void Repack(ReadOnlySpan<float> source)
    {
        if (_sourceTransposed) GemmChecks.Operand("packed weight", source, Columns, Rows, _sourceStride);
        else GemmChecks.Operand("packed matrix", source, Rows, Columns, _sourceStride);
        fixed (float* src = source) Pack(src, _sourceStride, _sourceTransposed, Rows, Columns, Pointer, parallel: true);
    }

    /// <summary>Unpacks element B[p, j] (tests, debugging).</summary>
    public float this[int p, int j]
    {
        get
        {
            if ((uint)p >= (uint)Rows || (uint)j >= (uint)Columns)
                throw new InvalidInputException($"index [{p}, {j}] outside packed matrix [{Rows}, {Columns}]");
            int panel = j / GemmDriver.NR;
            return Pointer[(long)panel * Rows * GemmDriver.NR + (long)p * GemmDriver.NR + j % GemmDriver.NR];
        }
    }

    internal float* Pointer => (float*)Unsafe.AsPointer(ref _storage[_offset]);

    internal static long PackedLength(int k, int n) => (long)((n + GemmDriver.NR - 1) / GemmDriver.NR) * k * GemmDriver.NR;

    [ThreadStatic] static PackWork? _work;

    /// <summary>b: [k, n] row-major with row stride ldb, or stored [n, k] when transposed. dst: PackedLength(k, n).</summary>
    internal static void Pack(float* b, nint ldb, bool transposed, int k, int n, float* dst, bool parallel)
    {
        int panels = (n + GemmDriver.NR - 1) / GemmDriver.NR;
        var work = _work ??= new PackWork();
        work.Set(b, ldb, transposed, k, n, dst);
        try
        {
            if (parallel && (long)k * n >= 1 << 16) ComputeThreads.For(panels, work);
            else for (int jp = 0; jp < panels; jp++) work.Execute(jp);
        }
        finally { work.Set(null, 0, false, 0, 0, null); }
    }

    sealed class PackWork : ParallelWork
    {
        float* _b, _dst;
        nint _ldb;
        bool _transposed;
        int _k, _n;

        public void Set(float* b, nint ldb, bool transposed, int k, int n, float* dst)
        {
            _b = b; _ldb = ldb; _transposed = transposed; _k = k; _n = n; _dst = dst;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Execute(int panel)
        {
            const int nr = GemmDriver.NR;
            int c0 = panel * nr, cn = Math.Min(nr, _n - c0);
            float* d = _dst + (nint)panel * _k * nr;
            if (_transposed)
            {
                // stored [n, k]: 8 source rows × 8 k at a time through an in-register transpose (a weight is re-packed
                // on every unpacked Linear call, so this runs per call there), the ragged rest element by element
                int c = 0;
                if (System.Runtime.Intrinsics.X86.Avx.IsSupported)
                    for (; c + 8 <= cn; c += 8)
                    {
                        float* src = _b + (c0 + c) * _ldb;
                        int p = 0;
                        for (; p + 8 <= _k; p += 8) GemmDriver.Transpose8x8Block(src + p, _ldb, d + p * nr + c, nr);
                        for (; p < _k; p++)
                            for (int i = 0; i < 8; i++) d[p * nr + c + i] = src[i * _ldb + p];
                    }
                for (; c < cn; c++)
                {
                    float* src = _b + (c0 + c) * _ldb;
                    for (int p = 0; p < _k; p++) d[p * nr + c] = src[p];
                }
                for (int p = 0; p < _k; p++) new Span<float>(d + p * nr + cn, nr - cn).Clear();
            }
            else
            {
                for (int p = 0; p < _k; p++)
                {
                    new ReadOnlySpan<float>(_b + p * _ldb + c0, cn).CopyTo(new Span<float>(d + p * nr, cn));
                    new Span<float>(d + p * nr + cn, nr - cn).Clear();
                }
            }
        }
    }
}
