namespace DistilBert.Compute;

/// <summary>
/// Single-precision matrix multiply, BLAS conventions, row-major:
/// C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C[m,n], op(X) = X or Xᵀ.
/// Strides (lda, ldb, ldc) are row strides of the matrices as stored.
/// </summary>
public static class Gemm
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        GemmReference.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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

/// <summary>A linear layer as PyTorch stores it: y[m, n] = x[m, k] · W[n, k]ᵀ + bias[n].</summary>
public static class Linear
{
    /// <param name="x">[m, k]</param>
    /// <param name="weight">[n, k] (torch.nn.Linear layout)</param>
    /// <param name="bias">[n] or empty</param>
    /// <param name="y">[m, n]</param>
    public static void Forward(ReadOnlySpan<float> x, int m, int k, ReadOnlySpan<float> weight, int n, ReadOnlySpan<float> bias, Span<float> y)
    {
        Gemm.Sgemm(false, true, m, n, k, 1f, x, k, weight, k, 0f, y, n);
        if (bias.IsEmpty) return;
        for (int i = 0; i < m; i++)
        {
            var row = y.Slice(i * n, n);
            for (int j = 0; j < n; j++) row[j] += bias[j];
        }
    }
}
