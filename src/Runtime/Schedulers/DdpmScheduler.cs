using PixelCost.Kernels;

namespace PixelCost.Runtime.Schedulers;

/// <summary>
/// DDPM (diffusers DDPMScheduler, fixed_small or fixed_large variance): x_p = A·x0 + B·x + std·noise with
/// α = ᾱ_t/ᾱ_p, β = 1 − α, A = √ᾱ_p·β/β̄_t, B = √α·β̄_p/β̄_t, p = t − T div N (ᾱ_p = 1 past the end);
/// std = √max(β̄_p/β̄_t·β, 1e-20) (fixed_small) or √β (fixed_large); noise only at t &gt; 0. One launch:
/// Cx = A·x0ₓ + B, Ce = A·x0ₘ, Cn = std. clip_sample (diffusers' default for this class) is rejected: it clamps x0,
/// which is not linear.
/// </summary>
public sealed class DdpmScheduler : SchedulerBase
{
    internal DdpmScheduler(SchedulerConfig config, int steps) : base(config, steps, buffers: 0)
    {
        Timesteps = Ints(NoiseSchedule.Spaced(config, steps).Select(NoiseSchedule.Round));
        ModelTimesteps = Timesteps.Select(t => (float)t).ToArray();
    }

    protected override bool NeedsNoiseCore(int stepIndex) => Timesteps[stepIndex] > 0;

    protected override void StepCore(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int k, Tensor? noise)
    {
        int t = Timesteps[k], prev = t - StepRatio;
        double at = AlphasCumprod[t], ap = AlphaOrFinal(prev, 1.0);
        double alpha = at / ap, beta = 1 - alpha;
        double a = Math.Sqrt(ap) * beta / (1 - at), b = Math.Sqrt(alpha) * (1 - ap) / (1 - at);
        double std = Config.VarianceType == "fixed_large" ? Math.Sqrt(beta) : Math.Sqrt(Math.Max((1 - ap) / (1 - at) * beta, 1e-20));
        var (x0x, x0m, _, _) = Predictions(at);
        Launch(acc, sample, modelOut, sample, guidance, a * x0x + b, a * x0m, cn: noise != null ? std : 0, noise: noise);
    }
}
