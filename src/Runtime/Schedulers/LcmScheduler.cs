using PixelCost.Kernels;

namespace PixelCost.Runtime.Schedulers;

/// <summary>
/// LCM (diffusers LCMScheduler). Timesteps: the distilled grid (T div original_inference_steps)·i − 1, i = 1 … orig,
/// descending, sampled at ⌊j·orig/N⌋. Step: denoised = c_out·x0 + c_skip·x with s = t·timestep_scaling,
/// c_skip = 0.25/(s² + 0.25), c_out = s/√(s² + 0.25); before the last step x_p = √ᾱ_p·denoised + √β̄_p·noise (ᾱ_p at the
/// next timestep of the list), at the last step x = denoised (what the pipeline decodes). One launch:
/// Cx = √ᾱ_p·(c_out·x0ₓ + c_skip), Ce = √ᾱ_p·c_out·x0ₘ, Cn = √β̄_p (last step: the same without √ᾱ_p and noise).
/// </summary>
public sealed class LcmScheduler : SchedulerBase
{
    internal LcmScheduler(SchedulerConfig config, int steps) : base(config, steps, buffers: 0)
    {
        int orig = config.OriginalInferenceSteps, k = config.NumTrainTimesteps / orig;
        if (steps > orig)
            throw new ArgumentOutOfRangeException(nameof(steps), steps,
                $"LCMScheduler: inference steps must be ≤ original_inference_steps ({orig})");
        var origin = Enumerable.Range(1, orig).Select(i => i * k - 1).Reverse().ToArray();
        var t = new int[steps];
        double stride = (double)orig / steps;   // numpy linspace(0, orig, N, endpoint=False)
        for (int j = 0; j < steps; j++) t[j] = origin[(int)Math.Floor(j * stride)];
        Timesteps = t;
        ModelTimesteps = t.Select(v => (float)v).ToArray();
    }

    protected override bool NeedsNoiseCore(int stepIndex) => stepIndex != Timesteps.Length - 1;

    /// <summary>LCM's <c>denoised</c> = c_out·x0 + c_skip·x (the boundary condition), what its pipeline decodes.</summary>
    protected override (double X, double M) X0Core(int k)
    {
        int t = Timesteps[k];
        double s = t * Config.TimestepScaling;
        double cSkip = 0.25 / (s * s + 0.25), cOut = s / Math.Sqrt(s * s + 0.25);
        var (x0x, x0m, _, _) = Predictions(AlphasCumprod[t]);
        return (cOut * x0x + cSkip, cOut * x0m);
    }

    protected override void StepCore(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int k, Tensor? noise)
    {
        bool last = k == Timesteps.Length - 1;
        var (ax, ae) = X0Core(k);
        if (last)
        {
            Launch(acc, sample, modelOut, sample, guidance, ax, ae);
            return;
        }
        double ap = AlphasCumprod[Timesteps[k + 1]], sp = Math.Sqrt(ap);
        Launch(acc, sample, modelOut, sample, guidance, sp * ax, sp * ae, cn: Math.Sqrt(1 - ap), noise: noise);
    }
}
