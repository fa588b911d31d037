using PixelCost.Kernels;

namespace PixelCost.Runtime.Schedulers;

/// <summary>
/// DPM-Solver++ (DPMSolverMultistepScheduler, algorithm dpmsolver++, midpoint), order 1 or 2 ("2M"). Timesteps from the
/// class's own spacing (leading: (T div (N + 1))·i + offset over N + 1 points, the last dropped), σ's interpolated as
/// Euler's, the final σ 0 or σ_min. With α = 1/√(σ² + 1), s = σ·α, λ = ln α − ln s, h = λ_t − λ_s0, A = α_t·(e^(−h) − 1)
/// and x0 = Ax·x + Ae·m̂ (ε: Ax = 1/α_s0, Ae = −s_s0/α_s0; v: Ax = α_s0, Ae = −s_s0):
/// first order x_t = (s_t/s_s0)·x − A·x0; second order, r0 = (λ_s0 − λ_s1)/h, x_t = (s_t/s_s0)·x − A·(1 + 1/(2r0))·x0
/// + A/(2r0)·x0_prev. One launch per step; its aux output (kind X0) writes this step's x0 over the previous one in the
/// history buffer (read before write) when a later step needs it. First order on the first step and, as diffusers does,
/// on the last (final σ = 0, euler_at_final, or lower_order_final with fewer than 15 steps).
/// </summary>
public sealed class DpmSolverScheduler : SchedulerBase
{
    private readonly float[] _sigmas;

    internal DpmSolverScheduler(SchedulerConfig config, int steps) : base(config, steps, buffers: 1)
    {
        int train = config.NumTrainTimesteps;   // lambda_min_clipped = −∞: the last usable timestep is T
        double[] grid = config.TimestepSpacing switch
        {
            "leading" => Enumerable.Range(0, steps).Select(i => (double)(steps - i) * (train / (steps + 1)) + config.StepsOffset).ToArray(),
            "trailing" => NoiseSchedule.Arange(train, 0, -(double)train / steps).Select(v => NoiseSchedule.Round(v) - 1).ToArray(),
            _ => NoiseSchedule.Linspace(0, train - 1, steps + 1).Select(NoiseSchedule.Round).Reverse().Take(steps).ToArray(),
        };
        Timesteps = Ints(grid);
        ModelTimesteps = Timesteps.Select(t => (float)t).ToArray();
        var table = AlphasCumprod.Select(NoiseSchedule.Sigma).ToArray();
        _sigmas = new float[Timesteps.Length + 1];
        for (int i = 0; i < Timesteps.Length; i++) _sigmas[i] = (float)NoiseSchedule.Interp(Timesteps[i], table);
        _sigmas[^1] = config.FinalSigmasType == "zero" ? 0f : table[0];
        Sigmas = _sigmas.Select(s => (double)s).ToArray();
    }

    private bool FirstOrder(int k)
    {
        int n = Timesteps.Length;
        bool lowerFinal = k == n - 1 && (Config.EulerAtFinal || (Config.LowerOrderFinal && n < 15) || Config.FinalSigmasType == "zero");
        return Config.SolverOrder == 1 || k == 0 || lowerFinal;
    }

    private static (double Alpha, double S, double Lambda) At(double sigma)
    {
        double alpha = 1 / Math.Sqrt(sigma * sigma + 1), s = sigma * alpha;
        return (alpha, s, Math.Log(alpha) - Math.Log(s));
    }

    /// <summary>The x0 the solver itself uses: Ax·x + Ae·m̂ at the step's σ (see the class comment).</summary>
    protected override (double X, double M) X0Core(int k)
    {
        var (alpha0, s0, _) = At(_sigmas[k]);
        return VPrediction ? (alpha0, -s0) : (1 / alpha0, -s0 / alpha0);
    }

    protected override void StepCore(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int k, Tensor? noise)
    {
        var (_, s0, lambda0) = At(_sigmas[k]);
        double sigmaT = _sigmas[k + 1];
        var (ax, ae) = X0Core(k);
        // σ_t = 0: α_t = 1, λ_t = +∞, e^(−h) = 0, so A = −1 and s_t/s_s0 = 0: x_t = x0.
        double a, ratio, h;
        if (sigmaT == 0) { a = -1; ratio = 0; h = double.PositiveInfinity; }
        else
        {
            var (alphaT, sT, lambdaT) = At(sigmaT);
            h = lambdaT - lambda0;
            a = alphaT * (Math.Exp(-h) - 1);
            ratio = sT / s0;
        }
        // Keep x0 for the next step only when that step is of second order.
        bool keep = k + 1 < Timesteps.Length && !FirstOrder(k + 1);
        Tensor? hist = !FirstOrder(k) || keep ? Buffer(acc, sample, 0) : null;
        Tensor? aux = keep ? hist : null;
        if (FirstOrder(k))
        {
            Launch(acc, sample, modelOut, sample, guidance, ratio - a * ax, -a * ae, aux: aux, auxKind: DenoiseAux.X0, ax: ax, ae: ae);
            return;
        }
        var (_, _, lambda1) = At(_sigmas[k - 1]);
        double r0 = (lambda0 - lambda1) / h, w = 1 + 1 / (2 * r0);
        Launch(acc, sample, modelOut, sample, guidance, ratio - a * w * ax, -a * w * ae, ch: a / (2 * r0), hist: hist,
            aux: aux, auxKind: DenoiseAux.X0, ax: ax, ae: ae);
    }
}
