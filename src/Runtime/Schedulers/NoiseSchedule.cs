namespace PixelCost.Runtime.Schedulers;

/// <summary>
/// The training noise schedule (ᾱ_t = alphas_cumprod) and the timestep/σ grids of diffusers' <c>set_timesteps</c>,
/// reproduced bit for bit: the golden trajectories' recorded timesteps and σ's are compared for equality.
/// </summary>
public static class NoiseSchedule
{
    /// <summary>
    /// alphas_cumprod as diffusers makes it in float32 torch tensors: betas = linspace(start, end) (scaled_linear:
    /// linspace(√start, √end)²), α = 1 − β, cumprod. Values are float32, returned widened.
    /// <para>Bit-exactness: torch's CPU linspace kernel (1.13, AVX2 build) fills 8-lane vectors two at a time from a base
    /// <c>start + step·idx</c> (first half) or <c>end − step·(steps − idx − 1)</c> (second half), contracted by the
    /// compiler into a fused multiply-add, then lanes <c>base + k·step</c>; the last (n mod 16) elements use the scalar
    /// form. cumprod accumulates in double (CPU acc_type of float) and stores float32. With this, every σ recorded in
    /// the golden trajectories (60 distinct timesteps) comes out identical; the plain scalar formula differs in the
    /// last bit for about half of them.</para>
    /// </summary>
    public static double[] AlphasCumprod(SchedulerConfig c)
    {
        int n = c.NumTrainTimesteps;
        float[] lin = c.BetaSchedule == "scaled_linear"
            ? TorchLinspace((float)Math.Sqrt(c.BetaStart), (float)Math.Sqrt(c.BetaEnd), n)
            : TorchLinspace((float)c.BetaStart, (float)c.BetaEnd, n);
        var a = new double[n];
        double acc = 1;
        for (int i = 0; i < n; i++)
        {
            float beta = c.BetaSchedule == "scaled_linear" ? lin[i] * lin[i] : lin[i];
            acc *= 1f - beta;
            a[i] = (float)acc;
        }
        return a;
    }

    private static float[] TorchLinspace(float start, float end, int steps)
    {
        const int lanes = 8;
        float step = (end - start) / (steps - 1);
        int half = steps / 2;
        var y = new float[steps];
        int i = 0;
        for (; i <= steps - 2 * lanes; i += 2 * lanes)
        {
            for (int v = i; v < i + 2 * lanes; v += lanes)
            {
                float b = Base(v, fused: true);
                for (int k = 0; k < lanes; k++) y[v + k] = b + k * step;
            }
        }
        for (; i < steps; i++) y[i] = Base(i, fused: false);
        return y;

        float Base(int idx, bool fused) => idx < half
            ? (fused ? MathF.FusedMultiplyAdd(step, idx, start) : start + step * idx)
            : (fused ? MathF.FusedMultiplyAdd(-step, steps - idx - 1, end) : end - step * (steps - idx - 1));
    }

    /// <summary>σ_t = √((1 − ᾱ_t)/ᾱ_t) in float32 arithmetic, as diffusers computes it from the float32 tensor.</summary>
    public static float Sigma(double alphaCumprod)
    {
        float a = (float)alphaCumprod;
        return MathF.Sqrt((1f - a) / a);
    }

    /// <summary>numpy's <c>arange(start, stop, step)</c> for doubles: length ⌈(stop − start)/step⌉, element i =
    /// start, start + step, then start + i·δ with δ = (start + step) − start.</summary>
    public static double[] Arange(double start, double stop, double step)
    {
        long len = (long)Math.Ceiling((stop - start) / step);
        if (len <= 0) return [];
        double delta = (start + step) - start;
        var r = new double[len];
        r[0] = start;
        if (len > 1) r[1] = start + step;
        for (long i = 2; i < len; i++) r[i] = start + i * delta;
        return r;
    }

    /// <summary>numpy's <c>linspace(start, stop, num)</c> (endpoint included): start + i·step, the last exactly stop.</summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        var r = new double[num];
        if (num == 0) return r;
        double step = num > 1 ? (stop - start) / (num - 1) : 0;
        for (int i = 0; i < num; i++) r[i] = i * step + start;
        if (num > 1) r[^1] = stop;
        return r;
    }

    /// <summary>numpy's <c>round</c>: half to even.</summary>
    public static double Round(double v) => Math.Round(v, MidpointRounding.ToEven);

    /// <summary>numpy's <c>interp(x, arange(len), table)</c>: piecewise linear, slope·(x − j) + table[j].</summary>
    public static double Interp(double x, ReadOnlySpan<float> table)
    {
        if (x <= 0) return table[0];
        if (x >= table.Length - 1) return table[^1];
        int j = (int)Math.Floor(x);
        double slope = ((double)table[j + 1] - table[j]) / 1.0;
        return slope * (x - j) + table[j];
    }

    /// <summary>
    /// The descending timesteps of DDPM/DDIM/Euler-family <c>set_timesteps</c> as doubles (Euler's linspace spacing
    /// gives non-integers; callers round or cast as their class does).
    /// leading: arange(N)·(T div N) + offset; trailing: round(arange(T, 0, −T/N)) − 1; linspace: linspace(0, T − 1, N).
    /// </summary>
    public static double[] Spaced(SchedulerConfig c, int steps)
    {
        int train = c.NumTrainTimesteps;
        switch (c.TimestepSpacing)
        {
            case "leading":
                {
                    int ratio = train / steps;
                    var t = new double[steps];
                    for (int i = 0; i < steps; i++) t[i] = (double)(steps - 1 - i) * ratio + c.StepsOffset;
                    return t;
                }
            case "trailing":
                return Arange(train, 0, -(double)train / steps).Select(v => Round(v) - 1).ToArray();
            default:
                {
                    var t = Linspace(0, train - 1, steps);
                    Array.Reverse(t);
                    return t;
                }
        }
    }
}
