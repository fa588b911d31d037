using PixelCost.Kernels;

namespace PixelCost.Runtime.Schedulers;

/// <summary>
/// A diffusion sampler for the denoise loop. Every update of the latent runs through <see cref="Ops.DenoiseStep"/> (one
/// launch per step; PLMS in its steady state two) on the accelerator that holds the tensors; the scheduler only computes
/// the step's scalar coefficients on the host, in double. History it needs (PLMS's kept model outputs, DPM-Solver's
/// previous x0) lives in buffers the scheduler allocates through the accelerator on first use and reuses; Dispose frees
/// them.
/// <para>The loop, per step k = 0 … Timesteps.Length − 1 (in order; k = 0 starts a new trajectory):
/// model input = ScaleModelInput(k) · sample; model output = UNet(input, ModelTimesteps[k]) ([N,…], or [2N,…] = uncond,
/// cond for classifier-free guidance); if NeedsNoise(k) fill a noise tensor (Ops.FillGaussian, stream = k);
/// Step(acc, sample, modelOut, guidance, k, noise) updates sample in place. The latent starts as Gaussian noise times
/// InitNoiseSigma.</para>
/// </summary>
public interface IScheduler : IDisposable
{
    SchedulerConfig Config { get; }

    /// <summary>The requested number of inference steps (PLMS makes one step more than this: its timestep list repeats one).</summary>
    int NumInferenceSteps { get; }

    /// <summary>The timestep of each Step call, in order (diffusers' <c>scheduler.timesteps</c>).</summary>
    int[] Timesteps { get; }

    /// <summary>The timestep to give the model at each step: equal to <see cref="Timesteps"/> except Euler-family schedulers
    /// with linspace spacing, whose timesteps are fractional float32 values (diffusers feeds those to the UNet).</summary>
    float[] ModelTimesteps { get; }

    /// <summary>σ per step plus the final one (length steps + 1), for σ-parameterised schedulers (Euler, Euler ancestral,
    /// DPM-Solver); null for the others. float32 values, as diffusers holds them.</summary>
    double[]? Sigmas { get; }

    /// <summary>The initial latent is N(0, 1) noise times this (Euler family: σ_max, or √(σ_max² + 1) with leading spacing).</summary>
    double InitNoiseSigma { get; }

    /// <summary>The factor the model input is scaled by at step <paramref name="stepIndex"/>: 1/√(σ² + 1) for the Euler
    /// family, 1 otherwise (diffusers' <c>scale_model_input(sample, t)</c> with t = Timesteps[stepIndex], as a scalar).</summary>
    double ScaleModelInput(int stepIndex);

    /// <summary>Whether Step at <paramref name="stepIndex"/> needs a fresh standard-normal noise tensor (DDPM at t &gt; 0,
    /// DDIM with η &gt; 0, Euler ancestral while σ_up &gt; 0, LCM before its last step).</summary>
    bool NeedsNoise(int stepIndex);

    /// <summary>
    /// Advances <paramref name="sample"/> ([N,…], F32, on <paramref name="acc"/>) in place by one step.
    /// <paramref name="modelOut"/>: the model's prediction (ε or v as the config's prediction_type says), [N,…], or [2N,…]
    /// (uncond first, then cond) combined as uncond + guidance·(cond − uncond) inside the op. <paramref name="noise"/>:
    /// sample's shape, required exactly when <see cref="NeedsNoise"/> is true (ignored otherwise).
    /// </summary>
    void Step(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int stepIndex, Tensor? noise);

    /// <summary>
    /// The coefficients of this step's predicted clean latent x̂₀ = X·sample + M·m̂, with sample the latent before
    /// <see cref="Step"/> at <paramref name="stepIndex"/> (unscaled) and m̂ the guided model output. ε-prediction at ᾱ_t:
    /// x̂₀ = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t; v-prediction: x̂₀ = √ᾱ_t·x_t − √(1−ᾱ_t)·v̂; σ-parameterised schedulers (Euler
    /// family) on their σ-space latent: x̂₀ = x − σ·ε̂ (v: x/(σ²+1) − σ/√(σ²+1)·v̂); DPM-Solver++ with the α, s of its
    /// interpolated σ (its own x0); LCM: its boundary-condition <c>denoised</c> = c_out·x̂₀ + c_skip·x (what diffusers'
    /// LCM pipeline decodes).
    /// </summary>
    (double X, double M) PredictedX0Coefficients(int stepIndex);

    /// <summary>
    /// Writes this step's x̂₀ (<see cref="PredictedX0Coefficients"/>) into <paramref name="x0"/> (sample's shape) with one
    /// <see cref="Ops.DenoiseStep"/> launch (guidance applied to a [2N,…] model output as in <see cref="Step"/>); neither
    /// the sample nor the trajectory changes. Call it before <see cref="Step"/> of the same index (the step updates the
    /// sample in place).
    /// </summary>
    void PredictX0(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int stepIndex, Tensor x0);
}

/// <summary>Makes schedulers from configs.</summary>
public static class Scheduler
{
    /// <summary>
    /// The scheduler for <paramref name="config"/>'s class with <paramref name="steps"/> inference steps.
    /// <paramref name="eta"/>: DDIM's η (0 = deterministic; diffusers passes it to <c>step</c>); must be 0 for the others.
    /// Unsupported settings throw <see cref="NotSupportedException"/> naming the setting (<see cref="SchedulerConfig.Validate"/>).
    /// </summary>
    public static IScheduler Create(SchedulerConfig config, int steps, double eta = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (eta != 0 && config.ClassName != "DDIMScheduler")
            throw new ArgumentException($"{config.ClassName}: eta = {eta} applies to DDIMScheduler only", nameof(eta));
        return config.ClassName switch
        {
            "DDPMScheduler" => new DdpmScheduler(config, steps),
            "DDIMScheduler" => new DdimScheduler(config, steps, eta),
            "EulerDiscreteScheduler" => new EulerScheduler(config, steps, ancestral: false),
            "EulerAncestralDiscreteScheduler" => new EulerScheduler(config, steps, ancestral: true),
            "LCMScheduler" => new LcmScheduler(config, steps),
            "PNDMScheduler" => new PndmScheduler(config, steps),
            "DPMSolverMultistepScheduler" => new DpmSolverScheduler(config, steps),
            _ => throw new NotSupportedException($"scheduler class '{config.ClassName}' is not supported"),
        };
    }

    /// <summary>A named preset (<see cref="SchedulerConfig.Preset"/>).</summary>
    public static IScheduler FromPreset(string name, int steps, double eta = 0) => Create(SchedulerConfig.Preset(name), steps, eta);

    /// <summary>From a diffusers <c>scheduler_config.json</c> (or its folder / pipeline folder): any problem with the
    /// file or an unsupported setting in it is one <see cref="InvalidDataException"/> naming the file.</summary>
    public static IScheduler FromFile(string path, int steps, double eta = 0)
    {
        var config = SchedulerConfig.Load(path);
        try { return Create(config, steps, eta); }
        catch (NotSupportedException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }
}
