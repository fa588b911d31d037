using PixelCost.Kernels;

namespace PixelCost.Runtime.Schedulers;

/// <summary>
/// DDIM (diffusers DDIMScheduler): x_p = √ᾱ_p·x0 + √(1 − ᾱ_p − σ²)·ε + σ·noise with σ = η·√(β̄_p/β̄_t·(1 − ᾱ_t/ᾱ_p)),
/// p = t − T div N (ᾱ after the last step: 1 or ᾱ[0], set_alpha_to_one). x0 and ε are linear in (x, m) for ε- and
/// v-prediction, so the step is one launch: Cx = √ᾱ_p·x0ₓ + d·εₓ, Ce = √ᾱ_p·x0ₘ + d·εₘ, Cn = σ (noise only when η &gt; 0).
/// </summary>
public sealed class DdimScheduler : SchedulerBase
{
    private readonly double _final;

    internal DdimScheduler(SchedulerConfig config, int steps, double eta) : base(config, steps, buffers: 0)
    {
        if (!(eta >= 0) || !double.IsFinite(eta)) throw new ArgumentOutOfRangeException(nameof(eta), eta, "DDIMScheduler: eta must be ≥ 0");
        Eta = eta;
        Timesteps = Ints(NoiseSchedule.Spaced(config, steps).Select(NoiseSchedule.Round));
        ModelTimesteps = Timesteps.Select(t => (float)t).ToArray();
        _final = config.SetAlphaToOne ? 1.0 : AlphasCumprod[0];
    }

    /// <summary>η: 0 = deterministic DDIM, 1 = DDPM-like ancestral noise.</summary>
    public double Eta { get; }

    protected override bool NeedsNoiseCore(int stepIndex) => Eta > 0;

    protected override void StepCore(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int k, Tensor? noise)
    {
        int t = Timesteps[k], prev = t - StepRatio;
        double at = AlphasCumprod[t], ap = AlphaOrFinal(prev, _final);
        double variance = (1 - ap) / (1 - at) * (1 - at / ap);
        double sigma = Eta * Math.Sqrt(variance);
        double d = Math.Sqrt(Math.Max(1 - ap - sigma * sigma, 0));
        var (x0x, x0m, ex, em) = Predictions(at);
        double sp = Math.Sqrt(ap);
        Launch(acc, sample, modelOut, sample, guidance, sp * x0x + d * ex, sp * x0m + d * em,
            cn: noise != null ? sigma : 0, noise: noise);
    }
}
