using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistilBert.Compute;

/// <summary>
/// Element-wise activations; y may alias x. GELU is the exact erf form, 0.5·x·(1 + erf(x/√2)), as torch's default:
/// the vector paths compute it as relu(x) − ½|x|·erfc(|x|/√2) with the Abramowitz–Stegun 7.1.26 erfc (absolute
/// error ≤ 1.5e-7), which keeps GELU within 1e-6 of exact and never cancels for negative x.
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

    public static float GeluScalar(float x) => (float)(0.5 * x * (1.0 + Erf(x * 0.70710678118654752)));

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

    readonly struct GeluOp : IVectorOp
    {
        const float InvSqrt2 = 0.70710678118654752f, P = 0.3275911f;
        const float A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;

        /// <summary>e^(−z²) skips the overflow and NaN selects a general exp needs, and |x| and max are the raw
        /// instructions (the portable Vector512.Max adds NaN handling): same results as the general exp, faster. A NaN
        /// input still gives NaN (carried by |x|). The division stays: rcp14 + a Newton step was faster still, but its
        /// last-bit differences moved distillation gradients past the golden tolerance.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Apply(Vector512<float> x)
        {
            var ax = Avx512F.And(x.AsUInt32(), Vector512.Create(0x7FFFFFFFu)).AsSingle();
            var z = ax * InvSqrt2;
            var t = Vector512<float>.One / (Vector512<float>.One + z * P);
            var poly = Vector512.FusedMultiplyAdd(t, Vector512.Create(A5), Vector512.Create(A4));
            poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create(A3));
            poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create(A2));
            poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create(A1)) * t;
            var erfc = poly * FastExp.ExpNonPositive(-(z * z));
            return Avx512F.Max(x, Vector512<float>.Zero) - 0.5f * ax * erfc; // raw vmaxps: the NaN is carried by ax
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Apply(Vector256<float> x)
        {
            var ax = Vector256.Abs(x);
            var z = ax * InvSqrt2;
            var t = Vector256<float>.One / (Vector256<float>.One + z * P);
            var poly = Vector256.FusedMultiplyAdd(t, Vector256.Create(A5), Vector256.Create(A4));
            poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(A3));
            poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(A2));
            poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(A1)) * t;
            var erfc = poly * FastExp.Exp(-(z * z));
            return Vector256.Max(x, Vector256<float>.Zero) - 0.5f * ax * erfc;
        }
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
