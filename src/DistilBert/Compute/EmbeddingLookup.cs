using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistilBert.Compute;

/// <summary>Embedding table lookups: rows of table [rows, dim] selected by ids.</summary>
/// <remarks>Thread-safety: stateless; safe from many threads.</remarks>
public static class EmbeddingLookup
{
    /// <summary>y[t, :] = table[ids[t], :] (accumulate: y[t, :] += table[ids[t], :]).</summary>
    /// <param name="table">[rows, dim]</param>
    /// <param name="y">[ids.Length, dim]</param>
    /// <param name="tableName">named in the error when an id is outside the table</param>
    public static void Gather(ReadOnlySpan<float> table, int rows, int dim, ReadOnlySpan<int> ids, Span<float> y,
        bool accumulate, string tableName = "embedding table")
    {
        if (table.Length < (long)rows * dim || y.Length < (long)ids.Length * dim)
            throw new InvalidInputException($"{tableName}: [{rows}, {dim}] needs {(long)rows * dim} elements (has {table.Length}); output needs {(long)ids.Length * dim} (has {y.Length})");
        for (int t = 0; t < ids.Length; t++)
        {
            int id = ids[t];
            if ((uint)id >= (uint)rows)
                throw new InvalidInputException($"{tableName}: id {id} at position {t} is outside [0, {rows})");
            var src = table.Slice(id * dim, dim);
            var dst = y.Slice(t * dim, dim);
            if (accumulate) VectorMath.Add(dst, src, dst);
            else src.CopyTo(dst);
        }
    }
}
