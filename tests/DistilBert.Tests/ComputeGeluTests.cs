using DistilBert.Compute;

namespace DistilBert.Tests;

/// <summary>The vector GELU (a 16-piece polynomial for ½|x|·erfc(|x|/√2)) against the exact erf form in double.</summary>
[Collection(nameof(ComputeCollection))]
public class ComputeGeluTests
{
    // Beyond the output's own rounding the approximation adds ≤ 2.7e-8 (measured over every float in [-10, 10]);
    // the Abramowitz–Stegun form it replaced added up to 2.2e-7 and would fail this.
    const double AllowedBeyondRounding = 5e-8;

    static double ExactGelu(float x) => 0.5 * x * (1 + Activations.Erf(x / Math.Sqrt(2)));

    static double HalfUlp(float v)
    {
        v = MathF.Abs(v);
        return float.IsFinite(v) ? 0.5 * ((double)MathF.BitIncrement(v) - v) : 0;
    }

    /// <summary>Every 61st float in [-10, 10] by bit pattern (all binades, 36 million values), plus the floats
    /// around every interval edge k/2.5 and the cut-off at 5.8.</summary>
    static float[] DenseInputs()
    {
        var xs = new List<float>(40_000_000);
        uint top = BitConverter.SingleToUInt32Bits(10f);
        for (uint bits = 0; bits <= top; bits += 61)
        {
            float v = BitConverter.UInt32BitsToSingle(bits);
            xs.Add(v);
            xs.Add(-v);
        }
        for (int k = 1; k <= 16; k++)
        {
            float edge = (k - 0.5f) / 2.5f, v = edge;
            for (int i = 0; i < 64; i++) v = MathF.BitDecrement(v);
            for (int i = 0; i < 129; i++, v = MathF.BitIncrement(v)) { xs.Add(v); xs.Add(-v); }
        }
        return xs.ToArray();
    }

    [Fact]
    public void GeluIsWithinOutputRoundingOfExactOverDenseFloatsOnEveryPath()
    {
        var x = DenseInputs();
        var y = new float[x.Length];
        KernelPathScope.ForEachPath(path =>
        {
            Activations.Gelu(x, y);
            for (int i = 0; i < x.Length; i++)
            {
                double exact = ExactGelu(x[i]), error = Math.Abs(y[i] - exact);
                if (error > 1e-6 || error > HalfUlp((float)exact) + AllowedBeyondRounding)
                    Assert.Fail($"{path}: gelu({x[i]:R}) = {y[i]:R}, exact {exact:R}, error {error:E3}");
            }
        });
    }

    /// <summary>The "exact" GELU every test here compares with rests on Activations.Erf: pinned to independent
    /// high-precision values at 237 points across all of its pieces, so the reference is exact, not merely self-consistent.</summary>
    [Fact]
    public void ErfAndTheExactGeluAgreeWithIndependentHighPrecisionValues()
    {
        foreach (var (x, erf, gelu) in HighPrecisionErfValues.Rows)
        {
            double ulp = Math.Max(Math.BitIncrement(Math.Abs(erf)) - Math.Abs(erf), double.Epsilon);
            Assert.True(Math.Abs(Activations.Erf(x) - erf) <= 2 * ulp, $"erf({x:R}) = {Activations.Erf(x):R}, exact {erf:R}");
            // in double: within a few ulp of x (1 + erf cancels for negative x), far below any float's rounding
            Assert.True(Math.Abs(ExactGelu((float)x) - gelu) <= 1e-15 * Math.Max(1, Math.Abs(x)), $"ExactGelu({x:R}) = {ExactGelu((float)x):R}, exact {gelu:R}");
            Assert.True(Math.Abs(Activations.GeluScalar((float)x) - gelu) <= HalfUlp((float)gelu) + 1e-15 * Math.Abs(x), $"GeluScalar({x:R}) = {Activations.GeluScalar((float)x):R}, exact {gelu:R}");
        }
        var xs = HighPrecisionErfValues.Rows.Select(r => (float)r.X).ToArray();
        KernelPathScope.ForEachPath(path =>
        {
            var y = new float[xs.Length];
            Activations.Gelu(xs, y);
            for (int i = 0; i < xs.Length; i++)
            {
                double exact = HighPrecisionErfValues.Rows[i].Gelu;
                Assert.True(Math.Abs(y[i] - exact) <= HalfUlp((float)exact) + AllowedBeyondRounding, $"{path}: gelu({xs[i]:R}) = {y[i]:R}, exact {exact:R}");
            }
        });
    }

    [Fact]
    public void GeluOfSpecialValues()
    {
        float[] x = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue,
            1e4f, -1e4f, 40f, -40f, 5.8f, -5.8f, float.Epsilon, -float.Epsilon, 1e-30f, -1e-30f];
        KernelPathScope.ForEachPath(path =>
        {
            // padded past one vector so both the full-vector loop and the tail see every value
            var input = x.Concat(x).ToArray();
            var y = new float[input.Length];
            Activations.Gelu(input, y);
            for (int i = 0; i < input.Length; i += x.Length)
            {
                Assert.Equal(0f, y[i]);
                Assert.True(float.IsNaN(y[i + 2]), $"{path}: gelu(NaN) = {y[i + 2]}");
                Assert.Equal(float.PositiveInfinity, y[i + 3]);
                Assert.Equal(float.MaxValue, y[i + 5]);
                Assert.Equal(1e4f, y[i + 7]);
                Assert.Equal(40f, y[i + 9]);
                for (int j = 0; j < x.Length; j++)
                {
                    if (!float.IsFinite(x[j])) continue;
                    Assert.True(Math.Abs(y[i + j] - ExactGelu(x[j])) <= 1e-6, $"{path}: gelu({x[j]:R}) = {y[i + j]:R}");
                }
                Assert.True(y[i + 4] == 0f, $"{path}: gelu(-inf) = {y[i + 4]}, the limit is 0");
                Assert.Equal(0.5e-30f, y[i + 15], 1e-36f);
                Assert.Equal(-0.5e-30f, y[i + 16], 1e-36f);
            }
        });
    }

    [SkippableFact]
    public void BothVectorWidthsGiveTheSameBits()
    {
        KernelPathScope.RequireAvx512("comparing the 512-bit GELU with the 256-bit one");
        var rng = new Random(7);
        var x = Enumerable.Range(0, 100_003).Select(_ => (float)(rng.NextDouble() * 16 - 8)).ToArray();
        var results = new List<float[]>();
        KernelPathScope.ForEachPath(path =>
        {
            if (path == KernelPath.Portable) return;
            var y = new float[x.Length];
            Activations.Gelu(x, y);
            results.Add(y);
        });
        Assert.Equal(2, results.Count);
        Assert.Equal(results[0], results[1]);
    }

    [Fact]
    public void FusedGemmEpilogueGivesTheSameBitsAsTheElementwiseGelu()
    {
        // x: [rows, k] · wᵀ: [k, n] + bias, GELU fused into the GEMM vs Linear without epilogue, then Activations.Gelu
        const int rows = 37, k = 64, n = 96;
        var rng = new Random(3);
        var x = KernelPathScope.Random(rng, rows * k, 2f);
        var w = KernelPathScope.Random(rng, n * k, 0.5f);
        var bias = KernelPathScope.Random(rng, n);
        var packed = PackedMatrix.FromLinearWeight(w, n, k);
        KernelPathScope.ForEachPath(path =>
        {
            var fused = new float[rows * n];
            var separate = new float[rows * n];
            Linear.Forward(x, rows, packed, bias, fused, Epilogue.Gelu);
            Linear.Forward(x, rows, packed, bias, separate, Epilogue.None);
            Activations.Gelu(separate, separate);
            Assert.Equal(separate, fused);
        });
    }

    [Fact]
    public void CoefficientTableIsTheMinimaxFitOfQ()
    {
        // Refits every interval the way the table was made and compares: a mistyped or shifted coefficient fails.
        var table = Activations.GeluOp.Coefficients;
        const int intervals = 16, powers = 6;
        Assert.Equal(intervals * powers, table.Length);
        float scale = Activations.GeluOp.IntervalsPerUnit;
        Assert.Equal(intervals - 1, Activations.GeluOp.LastInterval);
        static double Q(double a) => 0.5 * a * (1 - Activations.Erf(a / Math.Sqrt(2)));
        for (int k = 0; k < intervals; k++)
        {
            var fit = new double[powers];
            if (k == 0)
            {
                // through the origin: Q ≈ t·P(t) on t ∈ [0, ½], error weighted by t so it is Q's error
                var p = MinimaxFit.Fit(t => t == 0 ? 0.5 / scale : Q(t / scale) / t, 0, 0.5, powers - 2, t => Math.Max(t, 1e-300));
                for (int j = 0; j < powers - 1; j++) fit[j + 1] = p[j];
            }
            else if (k < intervals - 1)
                fit = MinimaxFit.Fit(t => Q((k + t) / scale), -0.5, 0.5, powers - 1, _ => 1);
            for (int j = 0; j < powers; j++)
            {
                // the stored float is the refit rounded to float (a near-tie may go either way)
                float stored = table[j * intervals + k];
                Assert.True(Math.Abs(stored - fit[j]) <= 0.5001 * ((double)MathF.BitIncrement(MathF.Abs(stored)) - MathF.Abs(stored)),
                    $"c{j}[{k}] = {stored:R}, refit {fit[j]:R}");
            }
        }
    }
}

/// <summary>Minimax polynomial fit by Remez exchange on a fine grid (the way the GELU table was made).</summary>
static class MinimaxFit
{
    /// <summary>Coefficients c0..c_degree minimising max |(Σ c_j t^j − f(t))·weight(t)| over [lo, hi].</summary>
    public static double[] Fit(Func<double, double> f, double lo, double hi, int degree, Func<double, double> weight)
    {
        int m = degree + 2, gridSize = 4000;
        var nodes = new double[m];
        for (int i = 0; i < m; i++) nodes[i] = 0.5 * (lo + hi) - 0.5 * (hi - lo) * Math.Cos(Math.PI * i / (m - 1));
        var coef = new double[degree + 1];
        var grid = new double[gridSize + 1];
        var error = new double[gridSize + 1];
        for (int g = 0; g <= gridSize; g++) grid[g] = lo + (hi - lo) * g / gridSize;
        for (int iteration = 0; iteration < 30; iteration++)
        {
            // Σ c_j x_i^j + (−1)^i·E/weight(x_i) = f(x_i) at the m reference points
            var a = new double[m, m + 1];
            for (int i = 0; i < m; i++)
            {
                double power = 1;
                for (int j = 0; j <= degree; j++) { a[i, j] = power; power *= nodes[i]; }
                a[i, degree + 1] = (i % 2 == 0 ? 1 : -1) / weight(nodes[i]);
                a[i, m] = f(nodes[i]);
            }
            var solution = Solve(a, m);
            Array.Copy(solution, coef, degree + 1);
            for (int g = 0; g <= gridSize; g++) error[g] = (Evaluate(coef, grid[g]) - f(grid[g])) * weight(grid[g]);
            // new reference: the largest |error| of each run of one sign
            var extrema = new List<int>();
            int start = 0;
            for (int g = 1; g <= gridSize + 1; g++)
            {
                if (g <= gridSize && (Math.Sign(error[g]) == Math.Sign(error[start]) || error[g] == 0)) continue;
                int best = start;
                for (int q = start; q < g; q++) if (Math.Abs(error[q]) > Math.Abs(error[best])) best = q;
                extrema.Add(best);
                start = g;
            }
            while (extrema.Count > m)
            {
                if (Math.Abs(error[extrema[0]]) < Math.Abs(error[extrema[^1]])) extrema.RemoveAt(0);
                else extrema.RemoveAt(extrema.Count - 1);
            }
            if (extrema.Count < m) break;
            for (int i = 0; i < m; i++) nodes[i] = grid[extrema[i]];
        }
        return coef;
    }

    static double Evaluate(double[] c, double t)
    {
        double p = 0;
        for (int j = c.Length - 1; j >= 0; j--) p = p * t + c[j];
        return p;
    }

    // Gauss–Jordan with partial pivoting on the augmented matrix a [n, n + 1]
    static double[] Solve(double[,] a, int n)
    {
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            for (int q = 0; q <= n; q++) (a[col, q], a[pivot, q]) = (a[pivot, q], a[col, q]);
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double factor = a[r, col] / a[col, col];
                for (int q = col; q <= n; q++) a[r, q] -= factor * a[col, q];
            }
        }
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = a[i, n] / a[i, i];
        return x;
    }
}
