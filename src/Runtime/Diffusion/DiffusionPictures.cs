using PixelCost.Kernels;
using PixelCost.Runtime.Imaging;
using PixelCost.Runtime.Schedulers;

namespace PixelCost.Runtime.Diffusion;

/// <summary>
/// A built-in picture to diffuse: sky gradient, sun disc, two rolling hills and a checkered floor in perspective —
/// recognisable at a glance, so noise added to it (and removed again) is easy to see. Simple math on the host, no data file.
/// </summary>
public static class ProceduralScene
{
    /// <summary>[3, height, width] planes (R, G, B) in [−1, 1], the convention of the VAE and the pipelines' images.</summary>
    public static float[] Render(int width, int height)
    {
        if (width < 8 || height < 8 || (long)width * height > 1 << 26)
            throw new ArgumentException($"scene: {width}×{height} must be at least 8×8 and at most 2²⁶ pixels");
        var img = new float[3 * width * height];
        int plane = width * height;
        for (int y = 0; y < height; y++)
        {
            double v = (y + 0.5) / height;   // 0 top … 1 bottom
            for (int x = 0; x < width; x++)
            {
                double u = (x + 0.5) / width;
                // Sky: deep blue at the top to pale near the horizon.
                double r = 0.25 + 0.55 * v, g = 0.45 + 0.4 * v, b = 0.95 - 0.1 * v;
                // Sun: a warm disc with a soft halo.
                double d = Math.Sqrt((u - 0.72) * (u - 0.72) + (v - 0.26) * (v - 0.26));
                if (d < 0.09) (r, g, b) = (1.0, 0.85, 0.3);
                else if (d < 0.16) { double k = (0.16 - d) / 0.07 * 0.5; (r, g, b) = (r + (1 - r) * k, g + (0.85 - g) * k, b + (0.3 - b) * k); }
                // Two hills: sine ridges, the nearer one darker.
                double far = 0.55 - 0.08 * Math.Sin(u * 2 * Math.PI * 0.9 + 0.6);
                double near = 0.63 - 0.06 * Math.Sin(u * 2 * Math.PI * 1.4 + 2.1);
                if (v > far) (r, g, b) = (0.30, 0.55, 0.30);
                if (v > near) (r, g, b) = (0.15, 0.42, 0.18);
                // Floor: a checkerboard in perspective below the horizon at v = 0.72.
                if (v > 0.72)
                {
                    double depth = 0.06 / (v - 0.70);            // farther rows are thinner
                    double fx = (u - 0.5) * depth * 12;
                    bool dark = ((int)Math.Floor(fx) + (int)Math.Floor(depth * 6)) % 2 != 0;
                    (r, g, b) = dark ? (0.12, 0.12, 0.16) : (0.92, 0.90, 0.86);
                }
                int i = y * width + x;
                img[i] = (float)(2 * Math.Clamp(r, 0, 1) - 1);
                img[plane + i] = (float)(2 * Math.Clamp(g, 0, 1) - 1);
                img[2 * plane + i] = (float)(2 * Math.Clamp(b, 0, 1) - 1);
            }
        }
        return img;
    }
}

/// <summary>ᾱ_t, √ᾱ_t and √(1 − ᾱ_t) for t = 0 … T − 1 of one training schedule.</summary>
public sealed record ScheduleCurve(string Name, string BetaSchedule, double BetaStart, double BetaEnd, double[] AlphaBar)
{
    public double SqrtAlphaBar(int t) => Math.Sqrt(AlphaBar[t]);
    public double SqrtOneMinusAlphaBar(int t) => Math.Sqrt(1 - AlphaBar[t]);
}

/// <summary>One noised picture: x_t at a timestep of a schedule ([1, 3, H, W] values; the clean picture is in [−1, 1]) and
/// as RGB8 (<see cref="RgbImage.FromTensor"/>: clamped to [−1, 1]).</summary>
public sealed record ForwardFrame(string Schedule, int Timestep, double AlphaBar, float[] Image, RgbImage Picture);

/// <summary>One reverse chain: the noised start and the sample after each step (values and RGB8), the final sample and its
/// error against the clean picture.</summary>
public sealed record ReverseChain(string Name, string NoiseEstimate, int[] Timesteps, IReadOnlyList<float[]> Frames, IReadOnlyList<RgbImage> Pictures,
    float[] Final, double MaxAbsError, double MeanAbsError);

/// <summary>
/// The pictures of how diffusion works, in pixel space with no network: forward noising
/// x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε under a training schedule, and the reverse chain (DDIM) fed a given noise estimate.
/// Every tensor operation runs through <see cref="Ops"/> on the caller's accelerator.
/// </summary>
public static class DiffusionPictures
{
    /// <summary>t = 0, 100, …, 900, 999.</summary>
    public static IReadOnlyList<int> DefaultTimesteps { get; } = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 999];

    /// <summary>The two schedules: SD's scaled-linear (√β linear from √0.00085 to √0.012) and DDPM's linear (1e-4 → 0.02).</summary>
    public static IReadOnlyList<ScheduleCurve> Schedules { get; } =
    [
        Curve("scaled-linear (SD)", SchedulerConfig.Preset("ddim")),
        Curve("linear (DDPM)", new SchedulerConfig { ClassName = "DDPMScheduler", BetaSchedule = "linear", BetaStart = 0.0001, BetaEnd = 0.02 }),
    ];

    private static ScheduleCurve Curve(string name, SchedulerConfig c) =>
        new(name, c.BetaSchedule, c.BetaStart, c.BetaEnd, NoiseSchedule.AlphasCumprod(c));

    /// <summary>
    /// x_t = √ᾱ·x₀ + √(1 − ᾱ)·ε into <paramref name="xt"/>: one fused <see cref="Ops.DenoiseStep"/> launch
    /// (out = Cx·x + Ce·m with Cx = √ᾱ, Ce = √(1 − ᾱ): 3 FLOPs per value), all tensors [N, …] of one shape.
    /// </summary>
    public static void Noise(IAccelerator acc, Tensor x0, Tensor eps, double alphaBar, Tensor xt)
    {
        if (!(alphaBar >= 0 && alphaBar <= 1)) throw new ArgumentOutOfRangeException(nameof(alphaBar), alphaBar, "ᾱ must be in [0, 1]");
        Ops.DenoiseStep(acc, x0, eps, xt, new DenoiseCoefficients((float)Math.Sqrt(alphaBar), (float)Math.Sqrt(1 - alphaBar)));
    }

    /// <summary>The clean picture noised at each of <paramref name="timesteps"/> under <paramref name="schedule"/> with one
    /// Philox Gaussian ε (seed): the same ε for every t, so the strip shows the signal fading, not the noise changing.</summary>
    public static IReadOnlyList<ForwardFrame> Forward(IAccelerator acc, Tensor x0, ScheduleCurve schedule, IReadOnlyList<int> timesteps, ulong seed)
    {
        foreach (int t in timesteps)
            if ((uint)t >= (uint)schedule.AlphaBar.Length)
                throw new ArgumentOutOfRangeException(nameof(timesteps), t, $"timestep must be 0 … {schedule.AlphaBar.Length - 1}");
        using var eps = acc.Allocate(x0.Shape.ToArray());
        Ops.FillGaussian(acc, eps, seed);
        using var xt = acc.Allocate(x0.Shape.ToArray());
        var frames = new List<ForwardFrame>();
        foreach (int t in timesteps)
        {
            Noise(acc, x0, eps, schedule.AlphaBar[t], xt);
            frames.Add(new ForwardFrame(schedule.Name, t, schedule.AlphaBar[t], xt.ToArray(), RgbImage.FromTensor(xt)));
        }
        return frames;
    }

    /// <summary>
    /// The DDIM scheduler the reverse chains use: SD's scaled-linear schedule, leading spacing, ε-prediction, and
    /// ᾱ after the last step = 1 (set_alpha_to_one), so a perfect noise estimate lands exactly on x₀.
    /// </summary>
    public static SchedulerConfig ReverseConfig { get; } = SchedulerConfig.Preset("ddim") with { SetAlphaToOne = true };

    /// <summary>
    /// Noises x₀ to the first timestep of a <paramref name="steps"/>-step DDIM grid with ε (Philox, seed), then runs the
    /// reverse chain feeding <c>epsScale·ε</c> as the model output at every step: 1 is the oracle (the true noise, what a
    /// perfect network would predict), anything else a wrong estimate. Returns the sample after each step and the final
    /// error against x₀.
    /// </summary>
    public static ReverseChain Reverse(IAccelerator acc, Tensor x0, int steps, float epsScale, ulong seed, string name)
    {
        using var scheduler = Scheduler.Create(ReverseConfig, steps);
        var alphaBar = NoiseSchedule.AlphasCumprod(ReverseConfig);
        using var eps = acc.Allocate(x0.Shape.ToArray());
        Ops.FillGaussian(acc, eps, seed);
        using var estimate = acc.Allocate(x0.Shape.ToArray());
        Ops.Scale(acc, eps, epsScale, estimate);
        using var x = acc.Allocate(x0.Shape.ToArray());
        Noise(acc, x0, eps, alphaBar[scheduler.Timesteps[0]], x);
        var frames = new List<float[]> { x.ToArray() };
        var pictures = new List<RgbImage> { RgbImage.FromTensor(x) };
        for (int k = 0; k < scheduler.Timesteps.Length; k++)
        {
            scheduler.Step(acc, x, estimate, 1f, k, null);
            frames.Add(x.ToArray());
            pictures.Add(RgbImage.FromTensor(x));
        }
        var final = frames[^1];
        var clean = x0.ToArray();
        double max = 0, sum = 0;
        for (int i = 0; i < clean.Length; i++)
        {
            double e = Math.Abs((double)final[i] - clean[i]);
            max = Math.Max(max, e);
            sum += e;
        }
        string what = epsScale == 1 ? "the true noise ε (oracle)" : epsScale == 0 ? "ε̂ = 0 (no noise predicted)" : $"ε̂ = {epsScale:G3}·ε (wrong scale)";
        return new ReverseChain(name, what, scheduler.Timesteps, frames, pictures, final, max, sum / clean.Length);
    }
}
