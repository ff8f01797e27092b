using System.Runtime.CompilerServices;

namespace DistilBert.Compute;

/// <summary>
/// A linear layer's weight W[n, k] quantised for <see cref="Int8Linear"/>: symmetric, one scale per output channel (row
/// of W), values in [−<see cref="MaxMagnitude"/>, <see cref="MaxMagnitude"/>] (7 bits: see docs/int8.md — with u8
/// activations the AVX-512BW pair sums then cannot saturate), packed once into the micro-kernels' layout: panels of
/// <see cref="PanelWidth"/> columns, each [k/4, 64 columns, 4 consecutive k] so that one 32-bit lane holds the four
/// products a VNNI/SDOT-style instruction sums. Read-only after construction.
/// <para>Thread-safety: immutable; any number of threads may multiply by it at once.</para>
/// </summary>
public sealed unsafe class Int8Matrix
{
    /// <summary>The largest |value| a quantised weight takes.</summary>
    public const int MaxMagnitude = 63;
    /// <summary>Output columns per packed panel.</summary>
    public const int PanelWidth = 64;
    internal const int GroupK = 4;

    readonly sbyte[] _storage;
    readonly int _offset;

    /// <summary>k: input features (the reduction dimension).</summary>
    public int Rows { get; }
    /// <summary>n: output features.</summary>
    public int Columns { get; }
    /// <summary>k rounded up to a whole group of 4 (the padding holds zero weights).</summary>
    internal int PaddedRows { get; }
    internal int Panels => (Columns + PanelWidth - 1) / PanelWidth;
    /// <summary>Per output column: the scale (w ≈ q · scale), padded with zeros to whole panels.</summary>
    internal float[] Scales { get; }
    /// <summary>Per output column: Σ_k q[j, k], padded with zeros to whole panels (the activations' zero-point correction).</summary>
    internal int[] ColumnSums { get; }

    /// <summary>Bytes held: the packed values plus scales and column sums.</summary>
    public long ByteCount => _storage.LongLength + Scales.LongLength * sizeof(float) + ColumnSums.LongLength * sizeof(int);

    Int8Matrix(int n, int k)
    {
        if (n < 0 || k < 0) throw new InvalidInputException($"int8 weight: negative size [{n}, {k}]");
        Rows = k;
        Columns = n;
        PaddedRows = (k + GroupK - 1) / GroupK * GroupK;
        long length = (long)Panels * PaddedRows * PanelWidth;
        if (length > Array.MaxLength - 64) throw new InvalidInputException($"int8 weight [{n}, {k}] is too large to pack");
        _storage = GC.AllocateArray<sbyte>((int)length + 64, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref _storage[0]);
        _offset = (int)(((address + 63) & ~(nint)63) - address);
        Scales = new float[Panels * PanelWidth];
        ColumnSums = new int[Panels * PanelWidth];
    }

    internal sbyte* Pointer => (sbyte*)Unsafe.AsPointer(ref _storage[_offset]);

    /// <summary>Quantises a torch.nn.Linear weight W[n, k] (per output row: scale = max|w| / 63, q = round(w / scale)).</summary>
    public static Int8Matrix FromLinearWeight(ReadOnlySpan<float> weight, int n, int k)
    {
        CheckLength("weight", weight.Length, n, k);
        var q = new sbyte[(long)n * k];
        var scales = new float[n];
        Quantize(weight, n, k, q, scales);
        return FromQuantized(q, scales, n, k);
    }

    /// <summary>
    /// Quantises W[n, k] row by row into <paramref name="values"/> [n, k] and <paramref name="scales"/> [n]: the format
    /// of a quantised model folder (docs/int8.md). A row of zeros gets scale 0.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> weight, int n, int k, Span<sbyte> values, Span<float> scales)
    {
        CheckLength("weight", weight.Length, n, k);
        CheckLength("values", values.Length, n, k);
        if (scales.Length != n) throw new InvalidInputException($"int8 weight: {scales.Length} scales for {n} output features");
        for (int j = 0; j < n; j++)
        {
            var row = weight.Slice(j * k, k);
            float max = 0;
            foreach (float w in row)
            {
                if (!float.IsFinite(w)) throw new InvalidInputException($"int8 weight: row {j} holds {w}; only finite weights can be quantised");
                max = Math.Max(max, Math.Abs(w));
            }
            float scale = max / MaxMagnitude;
            scales[j] = scale;
            var q = values.Slice(j * k, k);
            if (scale == 0) { q.Clear(); continue; }
            float inverse = 1f / scale;
            for (int p = 0; p < k; p++) q[p] = (sbyte)Math.Clamp((int)MathF.Round(row[p] * inverse), -MaxMagnitude, MaxMagnitude);
        }
    }

    /// <summary>Packs already quantised values [n, k] with their scales [n], refusing values outside ±63 (they could
    /// saturate the 16-bit pair sums of the AVX-512BW kernel) and scales that are negative or not finite.</summary>
    public static Int8Matrix FromQuantized(ReadOnlySpan<sbyte> values, ReadOnlySpan<float> scales, int n, int k)
    {
        CheckLength("values", values.Length, n, k);
        if (scales.Length != n) throw new InvalidInputException($"int8 weight: {scales.Length} scales for {n} output features");
        var m = new Int8Matrix(n, k);
        for (int j = 0; j < n; j++)
        {
            float s = scales[j];
            if (!float.IsFinite(s) || s < 0) throw new InvalidInputException($"int8 weight: scale [{j}] is {s}; scales must be finite and ≥ 0");
            m.Scales[j] = s;
        }
        sbyte* dst = m.Pointer;
        int kp = m.PaddedRows;
        for (int j = 0; j < n; j++)
        {
            var row = values.Slice(j * k, k);
            sbyte* panel = dst + (long)(j / PanelWidth) * kp * PanelWidth;
            int c = j % PanelWidth, sum = 0;
            for (int p = 0; p < k; p++)
            {
                sbyte v = row[p];
                if (v < -MaxMagnitude || v > MaxMagnitude)
                    throw new InvalidInputException($"int8 weight: value [{j}, {p}] = {v} is outside [−{MaxMagnitude}, {MaxMagnitude}]");
                panel[(p / GroupK) * (PanelWidth * GroupK) + c * GroupK + p % GroupK] = v;
                sum += v;
            }
            m.ColumnSums[j] = sum;
        }
        return m;
    }

    /// <summary>The quantised values back in W's layout [n, k].</summary>
    public void CopyValuesTo(Span<sbyte> values)
    {
        CheckLength("values", values.Length, Columns, Rows);
        sbyte* src = Pointer;
        int k = Rows, kp = PaddedRows;
        for (int j = 0; j < Columns; j++)
        {
            sbyte* panel = src + (long)(j / PanelWidth) * kp * PanelWidth;
            int c = j % PanelWidth;
            for (int p = 0; p < k; p++) values[j * k + p] = panel[(p / GroupK) * (PanelWidth * GroupK) + c * GroupK + p % GroupK];
        }
    }

    /// <summary>The scales [n].</summary>
    public ReadOnlySpan<float> ColumnScales => Scales.AsSpan(0, Columns);

    /// <summary>W ≈ q · scale in W's layout [n, k] (what reading a released fp32 weight returns).</summary>
    public void Dequantize(Span<float> weight) => Dequantize(0, Columns, weight);

    /// <summary>Rows [first, first + count) of W ≈ q · scale, [count, k] (one of several weights stacked in this matrix).</summary>
    public void Dequantize(int first, int count, Span<float> weight)
    {
        if (first < 0 || count < 0 || first + count > Columns) throw new InvalidInputException($"int8 weight: rows [{first}, {first + count}) outside [0, {Columns})");
        CheckLength("weight", weight.Length, count, Rows);
        sbyte* src = Pointer;
        int k = Rows, kp = PaddedRows;
        for (int r = 0; r < count; r++)
        {
            int j = first + r;
            sbyte* panel = src + (long)(j / PanelWidth) * kp * PanelWidth;
            int c = j % PanelWidth;
            float scale = Scales[j];
            for (int p = 0; p < k; p++) weight[r * k + p] = panel[(p / GroupK) * (PanelWidth * GroupK) + c * GroupK + p % GroupK] * scale;
        }
    }

    static void CheckLength(string what, int length, int n, int k)
    {
        if (n < 0 || k < 0) throw new InvalidInputException($"int8 weight: negative size [{n}, {k}]");
        if (length != (long)n * k) throw new InvalidInputException($"int8 weight: {what} has {length} elements, expected [{n}, {k}] = {(long)n * k}");
    }
}
