using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistilBert.Compute;

/// <summary>
/// Element-wise activations; y may alias x. GELU is the exact erf form, 0.5·x·(1 + erf(x/√2)), as torch's default:
/// the vector paths compute it as relu(x) − ½|x|·erfc(|x|/√2) with a 16-piece polynomial for the second term (see
/// GeluOp), within output rounding of exact (≤ 2.4e-7 absolute, so well inside 1e-6); the scalar reference is erf in double.
/// </summary>
public static class Activations
{
    public static void Gelu(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x, y);
        switch (KernelPaths.Active)
        {
            case KernelPath.Avx512: VectorMath.Map<GeluOp>(x, y, wide: true); break;
            case KernelPath.Avx2: VectorMath.Map<GeluOp>(x, y, wide: false); break;
            default: ActivationsReference.Gelu(x, y); break;
        }
    }

    public static void Relu(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x, y);
        switch (KernelPaths.Active)
        {
            case KernelPath.Avx512: VectorMath.Map<ReluOp>(x, y, wide: true); break;
            case KernelPath.Avx2: VectorMath.Map<ReluOp>(x, y, wide: false); break;
            default: ActivationsReference.Relu(x, y); break;
        }
    }

    /// <summary>Only the BERT pooler uses it ([batch, dim]): the scalar loop is fast enough.</summary>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x, y);
        ActivationsReference.Tanh(x, y);
    }

    /// <summary>The exact erf form in double. −∞ gives 0, the limit, as the vector paths do (the formula itself would
    /// give −∞·0 = NaN).</summary>
    public static float GeluScalar(float x) =>
        float.IsNegativeInfinity(x) ? 0f : (float)(0.5 * x * (1.0 + Erf(x * 0.70710678118654752)));

    /// <summary>d gelu / dx = Φ(x) + x·φ(x).</summary>
    public static float GeluDerivative(float x)
    {
        double cdf = 0.5 * (1.0 + Erf(x * 0.70710678118654752));
        double pdf = Math.Exp(-0.5 * x * x) * 0.3989422804014327;
        return (float)(cdf + x * pdf);
    }

    /// <summary>erf to double precision (W. J. Cody's rational approximations), enough for an exact float GELU.</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        double r;
        if (ax < 0.5)
        {
            double t = x * x;
            double top = (((0.185777706184603153 * t + 3.16112374387056560) * t + 113.864154151050156) * t + 377.485237685302021) * t + 3209.37758913846947;
            double bot = (((t + 23.6012909523441209) * t + 244.024637934444173) * t + 1282.61652607737228) * t + 2844.23683343917062;
            return x * top / bot;
        }
        if (ax < 4.0)
        {
            double top = (((((((2.15311535474403846e-8 * ax + 0.564188496988670089) * ax + 8.88314979438837594) * ax + 66.1191906371416295) * ax + 298.635138197400131) * ax + 881.952221241769090) * ax + 1712.04761263407058) * ax + 2051.07837782607147) * ax + 1230.33935479799725;
            double bot = (((((((ax + 15.7449261107098347) * ax + 117.693950891312499) * ax + 537.181101862009858) * ax + 1621.38957456669019) * ax + 3290.79923573345963) * ax + 4362.61909014324716) * ax + 3439.36767414372164) * ax + 1230.33935480374942;
            r = 1.0 - Math.Exp(-ax * ax) * top / bot;
        }
        else if (ax < 6.0)
        {
            double z = 1.0 / (ax * ax);
            double top = ((((0.0163153871373020978 * z + 0.305326634961232344) * z + 0.360344899949804439) * z + 0.125781726111229246) * z + 0.0160837851487422766) * z + 6.58749161529837803e-4;
            double bot = ((((z + 2.56852019228982242) * z + 1.87295284992346725) * z + 0.527905102951428412) * z + 0.0605183413124413191) * z + 2.33520497626869185e-3;
            r = 1.0 - Math.Exp(-ax * ax) / ax * (0.564189583547756287 - z * top / bot);
        }
        else r = 1.0;
        return x < 0 ? -r : r;
    }

    /// <summary>GELU of one vector, the arithmetic of <see cref="Gelu"/> (the GEMM's fused epilogue calls it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> GeluVector(Vector512<float> x) => GeluOp.Apply(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> ReluVector(Vector512<float> x) => ReluOp.Apply(x);

    internal static void CheckLengths(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length)
            throw new InvalidInputException($"activation output has {y.Length} elements, input has {x.Length}");
    }

    /// <summary>
    /// gelu(x) = relu(x) − Q(|x|) with Q(a) = ½·a·erfc(a/√2) = a·Φ(−a), by a piecewise polynomial: s = min(a·2.5, 15),
    /// k = round(s) picks one of 16 intervals (vpermps fetches its coefficients, so no division, exp or branch),
    /// t = s − k ∈ [−½, ½], Q ≈ c0[k] + c1[k]·t + … + c5[k]·t⁵. The coefficients are minimax (Remez) fits of Q on each
    /// interval, interval 0 through the origin so gelu(±0) = ±0 and tiny x keep their relative accuracy; interval 15 (a ≥ 5.8, Q &lt; 2e-8) is
    /// all zeros. Q's error is ≤ 2e-8, so GELU stays within output rounding (2.4e-7 for |x| in [4, 8)) of the exact
    /// erf form; Q never cancels, so negative x keep their relative accuracy. min/max are the raw instructions: a NaN
    /// input is carried by max(0, x) (x86 returns the second operand), +∞ gives +∞ and −∞ gives 0 (the limit).
    /// Both widths run the same operations in the same order, so they give the same bits.
    /// </summary>
    internal readonly struct GeluOp : IVectorOp
    {
        internal const float IntervalsPerUnit = 2.5f, LastInterval = 15f;
        const float RoundingMagic = 12582912f; // 1.5·2^23: s + it rounds s to an integer, held in the low mantissa bits

        // Q's coefficients [power][interval]: row j is c_j for intervals 0..15 (ComputeGeluTests refits them)
        internal static ReadOnlySpan<float> Coefficients =>
        [
            0f, 0.13783129f, 0.16948433f, 0.13808362f, 0.08767887f, 0.045500264f, 0.019674081f, 0.0071543623f,
            0.0021988407f, 0.00057279115f, 0.00012668526f, 2.3815348E-05f, 3.8080295E-06f, 5.181644E-07f, 6.002143E-08f, 0f,

            0.19999997f, 0.07890809f, -0.007959126f, -0.04718144f, -0.049069624f, -0.034092724f, -0.018219735f, -0.007843251f,
            -0.0027767764f, -0.00081749505f, -0.00020145996f, -4.173385E-05f, -7.288419E-06f, -1.0752556E-06f, -1.3420792E-07f, 0f,

            -0.063829936f, -0.054208614f, -0.031518918f, -0.008700509f, 0.0049687116f, 0.008638615f, 0.006736559f, 0.0036982882f,
            0.0015716391f, 0.0005364999f, 0.00014986859f, 3.462896E-05f, 6.6637504E-06f, 1.0728979E-06f, 1.4500725E-07f, 0f,

            -8.098574E-06f, 0.0060333787f, 0.00830573f, 0.006363104f, 0.0027261898f, 1.3192803E-07f, -0.0010090027f, -0.0009078543f,
            -0.00050782395f, -0.00021054136f, -6.851876E-05f, -1.7977982E-05f, -3.8602457E-06f, -6.8466136E-07f, -1.009352E-07f, 0f,

            0.0017352939f, 0.0011333717f, -1.6648519E-05f, -0.0008194522f, -0.000865777f, -0.0004613819f, -7.81015E-05f, 8.735607E-05f,
            9.4031704E-05f, 5.3195283E-05f, 2.135442E-05f, 6.591615E-06f, 1.6200504E-06f, 3.230546E-07f, 5.2874974E-08f, 0f,

            -6.0432158E-05f, -0.00020203441f, -0.00022278313f, -8.4290295E-05f, 5.3270567E-05f, 9.124239E-05f, 5.5838867E-05f, 1.3129555E-05f,
            -6.4343876E-06f, -8.105027E-06f, -4.4924004E-06f, -1.7041729E-06f, -4.8885386E-07f, -1.1050454E-07f, -2.0118012E-08f, 0f,
        ];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Apply(Vector512<float> x)
        {
            // x: 16 lanes; k: interval index per lane (vpermps reads its low 4 bits)
            ref float c = ref MemoryMarshal.GetReference(Coefficients);
            var ax = Avx512F.And(x.AsUInt32(), Vector512.Create(0x7FFFFFFFu)).AsSingle();
            var s = Avx512F.Min(ax * IntervalsPerUnit, Vector512.Create(LastInterval)); // vminps: NaN → 15 (NaN rides on x)
            var rounded = s + Vector512.Create(RoundingMagic);
            var t = s - (rounded - Vector512.Create(RoundingMagic));
            var k = rounded.AsInt32();
            var q = Vector512.FusedMultiplyAdd(Coefficient(ref c, 5, k), t, Coefficient(ref c, 4, k));
            q = Vector512.FusedMultiplyAdd(q, t, Coefficient(ref c, 3, k));
            q = Vector512.FusedMultiplyAdd(q, t, Coefficient(ref c, 2, k));
            q = Vector512.FusedMultiplyAdd(q, t, Coefficient(ref c, 1, k));
            q = Vector512.FusedMultiplyAdd(q, t, Coefficient(ref c, 0, k));
            return Avx512F.Max(Vector512<float>.Zero, x) - q;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Apply(Vector256<float> x)
        {
            // x: 8 lanes; vpermps on 8 lanes reads 3 index bits, so each coefficient is two lookups and a blend on bit 3
            ref float c = ref MemoryMarshal.GetReference(Coefficients);
            var ax = Avx2.And(x.AsUInt32(), Vector256.Create(0x7FFFFFFFu)).AsSingle();
            var s = Avx.Min(ax * IntervalsPerUnit, Vector256.Create(LastInterval));
            var rounded = s + Vector256.Create(RoundingMagic);
            var t = s - (rounded - Vector256.Create(RoundingMagic));
            var k = rounded.AsInt32();
            var upperHalf = Avx2.ShiftLeftLogical(k, 28).AsSingle(); // bit 3 of k into the sign bit blendvps reads
            var q = Vector256.FusedMultiplyAdd(Coefficient(ref c, 5, k, upperHalf), t, Coefficient(ref c, 4, k, upperHalf));
            q = Vector256.FusedMultiplyAdd(q, t, Coefficient(ref c, 3, k, upperHalf));
            q = Vector256.FusedMultiplyAdd(q, t, Coefficient(ref c, 2, k, upperHalf));
            q = Vector256.FusedMultiplyAdd(q, t, Coefficient(ref c, 1, k, upperHalf));
            q = Vector256.FusedMultiplyAdd(q, t, Coefficient(ref c, 0, k, upperHalf));
            return Avx.Max(Vector256<float>.Zero, x) - q;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<float> Coefficient(ref float c, int power, Vector512<int> k) =>
            Avx512F.PermuteVar16x32(Vector512.LoadUnsafe(ref c, (nuint)(16 * power)), k);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<float> Coefficient(ref float c, int power, Vector256<int> k, Vector256<float> upperHalf) =>
            Avx.BlendVariable(Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref c, (nuint)(16 * power)), k),
                Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref c, (nuint)(16 * power + 8)), k), upperHalf);
    }

    readonly struct ReluOp : IVectorOp
    {
        // Max(x, 0) would turn NaN into 0 on x86 (maxps returns the second operand); keep NaN as torch does
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Apply(Vector512<float> x) =>
            Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), Vector512<float>.Zero, x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Apply(Vector256<float> x) =>
            Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), Vector256<float>.Zero, x);
    }
}

/// <summary>The scalar loops the vector activations are checked against.</summary>
public static class ActivationsReference
{
    public static void Gelu(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = Activations.GeluScalar(x[i]);
    }

    public static void Relu(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] < 0 ? 0f : x[i];
    }

    public static void Tanh(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = MathF.Tanh(x[i]);
    }
}
