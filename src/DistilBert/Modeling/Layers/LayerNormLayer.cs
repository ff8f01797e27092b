namespace DistilBert.Modeling.Layers;

/// <summary>torch.nn.LayerNorm over the last dimension with weight and bias.</summary>
public sealed class LayerNormLayer
{
    public Parameter Weight { get; }
    public Parameter Bias { get; }
    public int Dim { get; }
    public float Eps { get; }

    /// <summary>Registers <c>{name}.weight</c> and <c>{name}.bias</c>.</summary>
    public LayerNormLayer(ParameterRegistry registry, string name, int dim, float eps)
    {
        Weight = registry.Add(name + ".weight", [dim]);
        Bias = registry.Add(name + ".bias", [dim]);
        Dim = dim;
        Eps = eps;
    }

    // x: [rows, dim] → y: [rows, dim]; mean, rstd: [rows] or empty (kept for Backward)
    public void Forward(ReadOnlySpan<float> x, int rows, Span<float> y, Span<float> mean, Span<float> rstd) =>
        Compute.LayerNorm.Forward(x, Weight.Value, Bias.Value, y, rows, Dim, Eps, mean, rstd);

    /// <summary>Inference: y = LN(x + residual) in one pass per row; the sum is not kept.</summary>
    public void ForwardResidual(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, int rows, Span<float> y) =>
        Compute.LayerNorm.ForwardResidual(x[..(rows * Dim)], residual[..(rows * Dim)], Weight.Value, Bias.Value, y[..(rows * Dim)], rows, Dim, Eps);

    /// <summary>
    /// x̂ = (x−μ)·rstd, g = dy·γ: dγ += Σ dy·x̂, dβ += Σ dy, dx = rstd·(g − mean(g) − x̂·mean(g·x̂)).
    /// Plain reference-speed loops (no LayerNorm backward kernel exists in Compute). dx is overwritten.
    /// </summary>
    public void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, ReadOnlySpan<float> dy, int rows, Span<float> dx)
    {
        var dGamma = Weight.RequiresGrad ? Weight.EnsureGrad() : null;
        var dBeta = Bias.RequiresGrad ? Bias.EnsureGrad() : null;
        var gamma = Weight.Value;
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * Dim, Dim);
            var dyr = dy.Slice(r * Dim, Dim);
            var dxr = dx.Slice(r * Dim, Dim);
            float mu = mean[r], rs = rstd[r];
            double sumG = 0, sumGx = 0;
            for (int i = 0; i < Dim; i++)
            {
                float xhat = (xr[i] - mu) * rs;
                float g = dyr[i] * gamma[i];
                sumG += g;
                sumGx += g * xhat;
                if (dGamma is not null) dGamma[i] += dyr[i] * xhat;
                if (dBeta is not null) dBeta[i] += dyr[i];
            }
            float meanG = (float)(sumG / Dim), meanGx = (float)(sumGx / Dim);
            for (int i = 0; i < Dim; i++)
            {
                float xhat = (xr[i] - mu) * rs;
                dxr[i] = rs * (dyr[i] * gamma[i] - meanG - xhat * meanGx);
            }
        }
    }
}
