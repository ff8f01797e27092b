namespace DistilBert.Compute;

/// <summary>What the GEMM does to each output tile after adding the bias, while the tile is still in cache.</summary>
public enum Epilogue
{
    None,
    /// <summary>Exact (erf) GELU, as <see cref="Activations.Gelu"/>.</summary>
    Gelu,
    Relu,
}

/// <summary>A linear layer as PyTorch stores it: y[m, n] = x[m, k] · W[n, k]ᵀ + bias[n].</summary>
public static class Linear
{
    /// <summary>Up to this many rows of x, <see cref="Forward(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int,
    /// ReadOnlySpan{float}, Span{float})"/> streams the plain weight (<see cref="ForwardStreamingWeight"/>) instead of
    /// packing all of it per call: a few rows make the product memory-bound, and packing reads and writes W once more.</summary>
    public const int StreamingMaxRows = 16;

    /// <param name="x">[m, k]</param>
    /// <param name="weight">[n, k] (torch.nn.Linear layout); for m ≤ <see cref="StreamingMaxRows"/> read as stored, else
    /// packed per call into a reused workspace — for a weight used more than once, pack it with
    /// <see cref="PackedMatrix.FromLinearWeight"/> and use the other overload</param>
    /// <param name="bias">[n] or empty</param>
    /// <param name="y">[m, n]</param>
    public static void Forward(ReadOnlySpan<float> x, int m, int k, ReadOnlySpan<float> weight, int n, ReadOnlySpan<float> bias, Span<float> y)
    {
        if (m <= StreamingMaxRows)
        {
            ForwardStreamingWeight(x, m, k, weight, n, bias, y);
            return;
        }
        GemmChecks.Operand("weight", weight, n, k, k);
        Check(x, m, k, bias, n, y);
        if (n == 0) return;
        unsafe
        {
            fixed (float* px = x, pw = weight, pb = bias, py = y)
            {
                float* packed = GemmWorkspace.PackedB(PackedMatrix.PackedLength(k, n));
                PackedMatrix.Pack(pw, k, transposed: true, k, n, packed, parallel: true);
                GemmDriver.Run(m, n, k, 1f, px, k, false, packed, 0f, py, n, bias.IsEmpty ? null : pb, Epilogue.None, parallel: true);
            }
        }
    }

    /// <summary>
    /// y[m, n] = x[m, k] · W[n, k]ᵀ + bias[n] with W read as stored, row after row, once per call: no packing and no
    /// workspace. Made for a few rows of x (up to ~<see cref="StreamingMaxRows"/>), where the product is bound by
    /// streaming W from memory — the MLM projector at the [MASK] rows reads 94 MB of W for a handful of rows. Any m is
    /// correct (W is still read from memory once; every further group of x rows re-reads it from cache), but past a few
    /// dozen rows a packed GEMM does the arithmetic faster.
    /// </summary>
    /// <param name="x">[m, k]</param>
    /// <param name="weight">[n, k] (torch.nn.Linear layout)</param>
    /// <param name="bias">[n] or empty</param>
    /// <param name="y">[m, n]; must not overlap x or the weight</param>
    public static void ForwardStreamingWeight(ReadOnlySpan<float> x, int m, int k, ReadOnlySpan<float> weight, int n, ReadOnlySpan<float> bias, Span<float> y)
    {
        GemmChecks.Operand("weight", weight, n, k, k);
        Check(x, m, k, bias, n, y);
        if (m == 0 || n == 0) return;
        unsafe
        {
            fixed (float* px = x, pw = weight, pb = bias, py = y)
                StreamingLinear.Run(px, m, k, pw, n, bias.IsEmpty ? null : pb, py);
        }
    }

    /// <summary>y[m, n] = epilogue(x[m, k] · W + bias) with W pre-packed (k = weight.Rows, n = weight.Columns).</summary>
    /// <param name="x">[m, k], rows contiguous</param>
    /// <param name="bias">[n] or empty</param>
    /// <param name="y">[m, n]; must not overlap x</param>
    /// <param name="epilogue">activation applied after the bias (fused: no extra pass over y)</param>
    /// <param name="strassenBlocks">start rows of 128-row blocks of x that may be multiplied by one level of Strassen
    /// (12.5 % fewer multiply-adds; rows i and i + 64 of a block then share rounding, so name only blocks that belong
    /// to one sequence: <see cref="StrassenBlocks.Find"/>). Empty: the plain GEMM, every row independent.</param>
    public static void Forward(ReadOnlySpan<float> x, int m, PackedMatrix weight, ReadOnlySpan<float> bias, Span<float> y,
        Epilogue epilogue = Epilogue.None, ReadOnlySpan<int> strassenBlocks = default)
    {
        int k = weight.Rows, n = weight.Columns;
        Check(x, m, k, bias, n, y);
        if (m == 0 || n == 0) return;
        unsafe
        {
            fixed (float* px = x, pb = bias, py = y)
                GemmDriver.Run(m, n, k, 1f, px, k, false, weight.Pointer, 0f, py, n, bias.IsEmpty ? null : pb, epilogue,
                    parallel: true, strassenBlocks);
        }
    }

    static void Check(ReadOnlySpan<float> x, int m, int k, ReadOnlySpan<float> bias, int n, Span<float> y)
    {
        GemmChecks.Operand("x", x, m, k, k);
        GemmChecks.Operand("y", y, m, n, n);
        if (!bias.IsEmpty && bias.Length != n)
            throw new InvalidInputException($"linear bias has {bias.Length} elements, expected {n} (output features)");
    }
}

/// <summary>The per-tile GEMM epilogue: bias add and activation over one row segment.</summary>
internal static unsafe class Epilogues
{
    public static void Apply(float* row, float* bias, int length, Epilogue epilogue)
    {
        var y = new Span<float>(row, length);
        if (bias != null) VectorMath.Add(y, new ReadOnlySpan<float>(bias, length), y);
        switch (epilogue)
        {
            case Epilogue.Gelu: Activations.Gelu(y, y); break;
            case Epilogue.Relu: Activations.Relu(y, y); break;
        }
    }
}

/// <summary>The plain loops <see cref="Linear.ForwardStreamingWeight"/> is checked against (design note 4).</summary>
public static class LinearReference
{
    /// <summary>y[m, n] = x[m, k] · W[n, k]ᵀ + bias[n], one dot product at a time, in k order.</summary>
    public static void Forward(ReadOnlySpan<float> x, int m, int k, ReadOnlySpan<float> weight, int n, ReadOnlySpan<float> bias, Span<float> y)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++) sum += x[i * k + p] * weight[j * k + p];
                y[i * n + j] = sum + (bias.IsEmpty ? 0 : bias[j]);
            }
    }
}
