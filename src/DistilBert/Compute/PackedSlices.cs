namespace DistilBert.Compute;

/// <summary>
/// Linear weights W[n, k] living in a column range of a <see cref="PackedMatrix"/> B = Wᵀ [k, columns]: packing a
/// weight straight into its range (several weights side by side in one packed operand, without building the stacked
/// source first) and reading it back out (so a packed copy can be the only copy of a weight).
/// </summary>
public static unsafe class PackedSlices
{
    /// <summary>Whether a weight of <paramref name="n"/> output features can be packed at <paramref name="firstColumn"/>
    /// on its own: the range must start on a panel boundary and end on one (or at the matrix's last column), so its
    /// panels hold nothing else.</summary>
    public static bool CanPackInto(PackedMatrix target, int firstColumn, int n) =>
        firstColumn >= 0 && n >= 0 && firstColumn + n <= target.Columns && firstColumn % GemmDriver.NR == 0
        && (n % GemmDriver.NR == 0 || firstColumn + n == target.Columns);

    /// <summary>Packs W[n, k] (torch.nn.Linear layout) as columns [firstColumn, firstColumn + n) of
    /// <paramref name="target"/> (k = target.Rows). Gives the same packed values as packing the stacked source whole.</summary>
    public static void PackLinearWeightInto(PackedMatrix target, int firstColumn, ReadOnlySpan<float> weight, int n)
    {
        int k = target.Rows;
        if (!CanPackInto(target, firstColumn, n))
            throw new InvalidInputException($"columns [{firstColumn}, {firstColumn + n}) of a packed [{k}, {target.Columns}] matrix are not whole panels of {GemmDriver.NR}");
        GemmChecks.Operand("packed weight", weight, n, k, k);
        if (n == 0 || k == 0) return;
        float* dst = target.Pointer + (long)(firstColumn / GemmDriver.NR) * k * GemmDriver.NR;
        fixed (float* src = weight) PackedMatrix.Pack(src, k, transposed: true, k, n, dst, parallel: true);
    }

    /// <summary>Writes W[n, k] (torch.nn.Linear layout) from columns [firstColumn, firstColumn + n) of
    /// <paramref name="source"/> into <paramref name="weight"/> (n·k floats): the inverse of packing.</summary>
    public static void UnpackLinearWeight(PackedMatrix source, int firstColumn, int n, Span<float> weight)
    {
        const int nr = GemmDriver.NR;
        int k = source.Rows;
        if (firstColumn < 0 || n < 0 || firstColumn + n > source.Columns)
            throw new InvalidInputException($"columns [{firstColumn}, {firstColumn + n}) are outside a packed [{k}, {source.Columns}] matrix");
        if (weight.Length < (long)n * k)
            throw new InvalidInputException($"weight span has {weight.Length} floats, [{n}, {k}] needs {(long)n * k}");
        float* packed = source.Pointer;
        for (int i = 0; i < n; i++)
        {
            int column = firstColumn + i;
            // column j of B sits at offset j % nr of every k-row of panel j / nr
            float* from = packed + (long)(column / nr) * k * nr + column % nr;
            var row = weight.Slice(i * k, k);
            for (int p = 0; p < k; p++) row[p] = from[(long)p * nr];
        }
    }
}
