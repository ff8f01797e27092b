namespace DistilBert.Compute;

/// <summary>Element-wise activations. GELU is the exact erf form, 0.5·x·(1 + erf(x/√2)), as torch's default.</summary>
public static class Activations
{
    public static void Gelu(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = GeluScalar(x[i]);
    }

    public static void Relu(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0 ? x[i] : 0f;
    }

    public static void Tanh(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = MathF.Tanh(x[i]);
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
}
