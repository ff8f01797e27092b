using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DistilBert.Compute;

namespace DistilBert.Modeling.Layers;

/// <summary>Inverted dropout as torch's: keep with probability 1−p and scale kept values by 1/(1−p).</summary>
public static class Dropout
{
    const ulong Golden = 0x9E3779B97F4A7C15UL, Mix1 = 0xBF58476D1CE4E5B9UL, Mix2 = 0x94D049BB133111EBUL;

    /// <summary>x ← x·mask in place; mask[i] is 0 or 1/(1−p), saved for Backward. Element i drops when the i-th
    /// <see cref="SeededRandom.NextDouble"/> is below p: the vector path evaluates SplitMix64 at 16 consecutive states at
    /// once (element i's state is the start + (i+1)·γ) and compares the 53 drawn bits as an integer, so masks and the
    /// final RNG state are exactly <see cref="DropoutReference.Forward"/>'s.</summary>
    public static void Forward(Span<float> x, double p, SeededRandom random, Span<float> mask)
    {
        if (mask.Length < x.Length) throw new InvalidInputException($"dropout mask has {mask.Length} elements, x has {x.Length}");
        int n = x.Length, i = 0;
        float scale = (float)(1.0 / (1.0 - p));
        if (KernelPaths.Active == KernelPath.Avx512 && n >= 16)
        {
            // NextDouble() = (z >> 11)·2⁻⁵³ < p  ⇔  (z >> 11) < ceil(p·2⁵³) for the integer z >> 11 (p·2⁵³ is exact)
            var threshold = Vector512.Create((ulong)Math.Ceiling(p * 9007199254740992.0));
            ulong start = random.State;
            var states0 = Vector512.Create(1UL, 2, 3, 4, 5, 6, 7, 8) * Golden + Vector512.Create(start);
            var states1 = states0 + Vector512.Create(unchecked(8 * Golden));
            var step = Vector512.Create(unchecked(16 * Golden));
            var vScale = Vector512.Create(scale);
            ref float xs = ref MemoryMarshal.GetReference(x);
            ref float ms = ref MemoryMarshal.GetReference(mask);
            for (; i + 16 <= n; i += 16)
            {
                var keep0 = Vector512.GreaterThanOrEqual(Mix(states0) >>> 11, threshold);
                var keep1 = Vector512.GreaterThanOrEqual(Mix(states1) >>> 11, threshold);
                // all-ones / zero 64-bit lanes narrowed to 32-bit lanes: a float select mask in element order
                var keep = Vector512.Narrow(keep0, keep1).AsSingle();
                var m = Vector512.ConditionalSelect(keep, vScale, Vector512<float>.Zero);
                m.StoreUnsafe(ref ms, (nuint)i);
                (Vector512.LoadUnsafe(ref xs, (nuint)i) * m).StoreUnsafe(ref xs, (nuint)i);
                states0 += step;
                states1 += step;
            }
            random.State = start + (ulong)i * Golden;
        }
        DropoutReference.Forward(x[i..], p, random, mask[i..]);
    }

    static Vector512<ulong> Mix(Vector512<ulong> z)
    {
        z = (z ^ (z >>> 30)) * Mix1;
        z = (z ^ (z >>> 27)) * Mix2;
        return z ^ (z >>> 31);
    }

    /// <summary>dx = dy·mask (in place).</summary>
    public static void Backward(Span<float> dy, ReadOnlySpan<float> mask)
    {
        Elementwise.Multiply(dy, mask[..dy.Length], dy);
    }
}

/// <summary>The scalar loop <see cref="Dropout"/> is checked against (one <see cref="SeededRandom.NextDouble"/> per element).</summary>
public static class DropoutReference
{
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
}
