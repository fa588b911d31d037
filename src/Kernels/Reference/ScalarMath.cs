namespace PixelCost.Kernels.Reference;

/// <summary>Scalar math .NET does not provide.</summary>
public static class ScalarMath
{
    /// <summary>
    /// erf(x) to about 1e-15 relative: the Maclaurin series for |x| &lt; 2.5 (it converges fast there), and the
    /// continued fraction of erfc for larger |x| (Lentz's method), where the series would lose digits to cancellation.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        double ax = Math.Abs(x);
        if (ax > 6.0) return Math.Sign(x);
        if (ax < 2.5)
        {
            // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
            double x2 = x * x, term = x, sum = x;
            for (int n = 1; n < 80; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return 2.0 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))  — continued fraction, modified Lentz.
        const double tiny = 1e-300;
        double f = ax, c = ax, d = 0;
        for (int n = 1; n < 200; n++)
        {
            double an = n * 0.5;
            d = ax + an * d; if (Math.Abs(d) < tiny) d = tiny; d = 1 / d;
            c = ax + an / c; if (Math.Abs(c) < tiny) c = tiny;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }
}
