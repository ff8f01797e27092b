namespace DistilBert.Compute;

/// <summary>LayerNorm over the last dimension: y = (x − mean) · rstd · gamma + beta, biased variance, eps inside the root.</summary>
public static class LayerNorm
{
    /// <param name="x">[rows, dim]</param>
    /// <param name="y">[rows, dim]; may alias x</param>
    /// <param name="mean">[rows] or empty: saved for Backward</param>
    /// <param name="rstd">[rows] or empty: 1/sqrt(var + eps), saved for Backward</param>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y,
        int rows, int dim, float eps, Span<float> mean, Span<float> rstd)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * dim, dim);
            double s = 0;
            for (int i = 0; i < dim; i++) s += xr[i];
            float mu = (float)(s / dim);
            double v = 0;
            for (int i = 0; i < dim; i++) { float d = xr[i] - mu; v += d * d; }
            float rs = 1f / MathF.Sqrt((float)(v / dim) + eps);
            var yr = y.Slice(r * dim, dim);
            for (int i = 0; i < dim; i++) yr[i] = (xr[i] - mu) * rs * gamma[i] + beta[i];
            if (!mean.IsEmpty) mean[r] = mu;
            if (!rstd.IsEmpty) rstd[r] = rs;
        }
    }
}
