using PixelCost.Kernels;

namespace PixelCost.Runtime.Schedulers;

/// <summary>
/// Euler (EulerDiscreteScheduler, s_churn = 0) and Euler ancestral (EulerAncestralDiscreteScheduler), k-diffusion style
/// on σ_t = √(β̄_t/ᾱ_t): σ's interpolated at the (float32) timesteps, then 0 appended; the model sees x/√(σ² + 1).
/// Euler: x_next = x + (x − x0)/σ·dt with dt = σ_next − σ. Ancestral: σ_up = √(σ_next²·(σ² − σ_next²)/σ²),
/// σ_down = √(σ_next² − σ_up²), dt = σ_down − σ, plus σ_up·noise. x0 = x − σ·ε (so (x − x0)/σ = ε: Cx = 1, Ce = dt)
/// or, for v, x0 = a·v + b·x with a = −σ/√(σ² + 1), b = 1/(σ² + 1): Cx = 1 + dt·(1 − b)/σ, Ce = −dt·a/σ. One launch.
/// </summary>
public sealed class EulerScheduler : SchedulerBase
{
    private readonly bool _ancestral;
    private readonly float[] _sigmas;

    internal EulerScheduler(SchedulerConfig config, int steps, bool ancestral) : base(config, steps, buffers: 0)
    {
        _ancestral = ancestral;
        // diffusers: timesteps as float32 (leading: rounded + offset; trailing: rounded − 1; linspace: as is).
        var grid = NoiseSchedule.Spaced(config, steps);
        var t32 = grid.Select(v => (float)v).ToArray();
        var table = AlphasCumprod.Select(NoiseSchedule.Sigma).ToArray();
        _sigmas = new float[steps + 1];
        for (int i = 0; i < steps; i++) _sigmas[i] = (float)NoiseSchedule.Interp(t32[i], table);
        ModelTimesteps = t32;
        Timesteps = t32.Select(v => (int)MathF.Round(v)).ToArray();
        Sigmas = _sigmas.Select(s => (double)s).ToArray();
    }

    /// <summary>σ_max for linspace/trailing spacing, √(σ_max² + 1) for leading (float32, as diffusers).</summary>
    public override double InitNoiseSigma
    {
        get
        {
            float max = _sigmas.Max();
            return Config.TimestepSpacing is "linspace" or "trailing" ? max : MathF.Sqrt(max * max + 1f);
        }
    }

    public override double ScaleModelInput(int stepIndex)
    {
        CheckIndex(stepIndex);
        float s = _sigmas[stepIndex];
        return 1.0 / MathF.Sqrt(s * s + 1f);
    }

    protected override bool NeedsNoiseCore(int stepIndex) => _ancestral && Up(stepIndex) > 0;

    private double Up(int k)
    {
        double s = _sigmas[k], next = _sigmas[k + 1];
        return Math.Sqrt(Math.Max(next * next * (s * s - next * next) / (s * s), 0));
    }

    /// <summary>k-diffusion's denoised on the σ-space latent: x − σ·ε̂, or for v x/(σ²+1) − σ/√(σ²+1)·v̂.</summary>
    protected override (double X, double M) X0Core(int k)
    {
        double s = _sigmas[k];
        return VPrediction ? (1 / (s * s + 1), -s / Math.Sqrt(s * s + 1)) : (1, -s);
    }

    protected override void StepCore(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int k, Tensor? noise)
    {
        double s = _sigmas[k], next = _sigmas[k + 1], up = 0, dt;
        if (_ancestral)
        {
            up = Up(k);
            dt = Math.Sqrt(Math.Max(next * next - up * up, 0)) - s;
        }
        else dt = next - s;
        double cx = 1, ce = dt;
        if (VPrediction)
        {
            double a = -s / Math.Sqrt(s * s + 1), b = 1 / (s * s + 1);
            cx = 1 + dt * (1 - b) / s;
            ce = -dt * a / s;
        }
        Launch(acc, sample, modelOut, sample, guidance, cx, ce, cn: noise != null ? up : 0, noise: noise);
    }
}
