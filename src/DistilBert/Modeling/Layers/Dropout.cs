using DistilBert.Training;

namespace DistilBert.Modeling.Layers;

/// <summary>Inverted dropout as torch's: keep with probability 1−p and scale kept values by 1/(1−p).</summary>
public static class Dropout
{
    /// <summary>x ← x·mask in place; mask[i] is 0 or 1/(1−p), saved for Backward.</summary>
    public static void Forward(Span<float> x, double p, SeededRandom random, Span<float> mask)
    {
        float scale = (float)(1.0 / (1.0 - p));
        for (int i = 0; i < x.Length; i++)
        {
            float m = random.NextDouble() < p ? 0f : scale;
            mask[i] = m;
            x[i] *= m;
        }
    }

    /// <summary>dx = dy·mask (in place).</summary>
    public static void Backward(Span<float> dy, ReadOnlySpan<float> mask)
    {
        Compute.Elementwise.Multiply(dy, mask[..dy.Length], dy);
    }
}
