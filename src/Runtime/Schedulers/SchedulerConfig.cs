using System.Text.Json;

namespace PixelCost.Runtime.Schedulers;

/// <summary>
/// A diffusers scheduler configuration (the fields of <c>scheduler/scheduler_config.json</c> that our schedulers read).
/// Missing fields take the defaults of the named diffusers class (v0.27.2), exactly as diffusers fills them, so a
/// config file means the same here as there: <see cref="DefaultsFor"/> then the file's values. Fields we do not model
/// (e.g. <c>_diffusers_version</c>) are ignored; settings we cannot run are rejected when a scheduler is made from the
/// config (<see cref="Scheduler.Create"/>), with a message naming the setting.
/// </summary>
public sealed record SchedulerConfig
{
    /// <summary>The diffusers class: DDPMScheduler, DDIMScheduler, EulerDiscreteScheduler,
    /// EulerAncestralDiscreteScheduler, LCMScheduler, PNDMScheduler, DPMSolverMultistepScheduler.</summary>
    public string ClassName { get; init; } = "DDIMScheduler";
    public int NumTrainTimesteps { get; init; } = 1000;
    public double BetaStart { get; init; } = 0.0001;
    public double BetaEnd { get; init; } = 0.02;
    /// <summary>"linear" or "scaled_linear" (linspace of √β, squared).</summary>
    public string BetaSchedule { get; init; } = "linear";
    /// <summary>"epsilon" or "v_prediction".</summary>
    public string PredictionType { get; init; } = "epsilon";
    /// <summary>"leading", "trailing" or "linspace".</summary>
    public string TimestepSpacing { get; init; } = "leading";
    public int StepsOffset { get; init; }
    /// <summary>DDIM/PNDM/LCM: ᾱ after the last step is 1 (true) or ᾱ[0] (false).</summary>
    public bool SetAlphaToOne { get; init; } = true;
    /// <summary>Clamp the x0 prediction to ±<see cref="ClipSampleRange"/> (DDPM/DDIM/LCM). Not linear: unsupported when true.</summary>
    public bool ClipSample { get; init; }
    public double ClipSampleRange { get; init; } = 1.0;
    /// <summary>Dynamic thresholding of x0: unsupported when true.</summary>
    public bool Thresholding { get; init; }
    public bool RescaleBetasZeroSnr { get; init; }
    /// <summary>DDPM: "fixed_small" or "fixed_large" (the learned variances need a model that predicts them).</summary>
    public string VarianceType { get; init; } = "fixed_small";
    /// <summary>PNDM: only the PLMS path (true) is implemented.</summary>
    public bool SkipPrkSteps { get; init; }
    /// <summary>LCM: the distilled schedule's step count and the boundary-condition time scaling.</summary>
    public int OriginalInferenceSteps { get; init; } = 50;
    public double TimestepScaling { get; init; } = 10.0;
    /// <summary>DPM-Solver: order 1 or 2, "dpmsolver++", "midpoint", lower order on the last steps, final σ.</summary>
    public int SolverOrder { get; init; } = 2;
    public string AlgorithmType { get; init; } = "dpmsolver++";
    public string SolverType { get; init; } = "midpoint";
    public bool LowerOrderFinal { get; init; } = true;
    public bool EulerAtFinal { get; init; }
    /// <summary>DPM-Solver: "zero" or "sigma_min".</summary>
    public string FinalSigmasType { get; init; } = "zero";
    /// <summary>Euler/DPM: Karras σ's are not implemented (error when true).</summary>
    public bool UseKarrasSigmas { get; init; }
    public bool UseLuLambdas { get; init; }
    /// <summary>Euler: "linear" σ interpolation only; "discrete" timesteps only.</summary>
    public string InterpolationType { get; init; } = "linear";
    public string TimestepType { get; init; } = "discrete";
    /// <summary>A non-null <c>trained_betas</c> list in the file (not supported).</summary>
    public bool HasTrainedBetas { get; init; }

    /// <summary>The classes <see cref="Scheduler.Create"/> can make.</summary>
    public static IReadOnlyList<string> KnownClasses { get; } =
    [
        "DDPMScheduler", "DDIMScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "LCMScheduler",
        "PNDMScheduler", "DPMSolverMultistepScheduler",
    ];

    /// <summary>The constructor defaults of the diffusers class (v0.27.2): what a config file leaves out.</summary>
    public static SchedulerConfig DefaultsFor(string className) => className switch
    {
        "DDPMScheduler" => new() { ClassName = className, ClipSample = true, SetAlphaToOne = false },
        "DDIMScheduler" => new() { ClassName = className, ClipSample = true, SetAlphaToOne = true },
        "EulerDiscreteScheduler" or "EulerAncestralDiscreteScheduler" =>
            new() { ClassName = className, TimestepSpacing = "linspace" },
        "LCMScheduler" => new()
        {
            ClassName = className, BetaStart = 0.00085, BetaEnd = 0.012, BetaSchedule = "scaled_linear", SetAlphaToOne = true,
        },
        "PNDMScheduler" => new() { ClassName = className, SetAlphaToOne = false, SkipPrkSteps = false },
        "DPMSolverMultistepScheduler" => new() { ClassName = className, TimestepSpacing = "linspace" },
        _ => throw new ArgumentException(
            $"unknown scheduler class '{className}' (supported: {string.Join(", ", KnownClasses)})", nameof(className)),
    };

    /// <summary>Stable Diffusion's training schedule (1000 steps, scaled_linear 0.00085 → 0.012) on a class's defaults.</summary>
    private static SchedulerConfig Sd(string className) => DefaultsFor(className) with
    {
        BetaStart = 0.00085, BetaEnd = 0.012, BetaSchedule = "scaled_linear", StepsOffset = 1, ClipSample = false,
    };

    /// <summary>Preset names for <see cref="Preset"/>.</summary>
    public static IReadOnlyList<string> PresetNames { get; } =
    [
        "sd15", "sd-turbo", "sdxl-turbo", "ddpm", "ddim", "ddim-v", "euler", "euler-trailing", "euler-ancestral",
        "euler-ancestral-trailing", "lcm", "pndm", "dpmpp-2m",
    ];

    /// <summary>
    /// A named configuration, all on SD's betas: <c>sd15</c> = the PNDM config SD 1.5 ships (PLMS, set_alpha_to_one
    /// false, steps_offset 1); <c>sd-turbo</c> = Euler with trailing spacing; <c>sdxl-turbo</c> = Euler ancestral with
    /// trailing spacing; and one per scheduler (<see cref="PresetNames"/>), clip_sample off.
    /// </summary>
    public static SchedulerConfig Preset(string name) => name.ToLowerInvariant() switch
    {
        "sd15" or "pndm" => Sd("PNDMScheduler") with { SkipPrkSteps = true, SetAlphaToOne = false },
        "ddpm" => Sd("DDPMScheduler"),
        "ddim" => Sd("DDIMScheduler") with { SetAlphaToOne = false },
        "ddim-v" => Sd("DDIMScheduler") with { SetAlphaToOne = false, PredictionType = "v_prediction" },
        "euler" => Sd("EulerDiscreteScheduler") with { TimestepSpacing = "leading" },
        "sd-turbo" or "euler-trailing" => Sd("EulerDiscreteScheduler") with { TimestepSpacing = "trailing" },
        "euler-ancestral" => Sd("EulerAncestralDiscreteScheduler") with { TimestepSpacing = "leading" },
        "sdxl-turbo" or "euler-ancestral-trailing" => Sd("EulerAncestralDiscreteScheduler") with { TimestepSpacing = "trailing" },
        "lcm" => Sd("LCMScheduler"),
        "dpmpp-2m" => Sd("DPMSolverMultistepScheduler") with { TimestepSpacing = "leading" },
        _ => throw new ArgumentException($"unknown scheduler preset '{name}' (known: {string.Join(", ", PresetNames)})", nameof(name)),
    };

    /// <summary>
    /// Throws <see cref="NotSupportedException"/> naming the config field (diffusers' JSON name) when this config asks for
    /// something our schedulers do not run: x0 clipping or thresholding (not linear, so not expressible by the denoise-step
    /// op), trained/other beta schedules, Karras/Lu σ's, PRK warm-up, learned variances, SDE or non-++ DPM-Solver, order 3.
    /// </summary>
    public void Validate()
    {
        if (!KnownClasses.Contains(ClassName)) Fail("_class_name", ClassName, string.Join(", ", KnownClasses));
        if (NumTrainTimesteps < 2) Fail("num_train_timesteps", NumTrainTimesteps, "an integer ≥ 2");
        if (HasTrainedBetas) Fail("trained_betas", "a list", "null");
        if (BetaSchedule is not ("linear" or "scaled_linear")) Fail("beta_schedule", BetaSchedule, "linear, scaled_linear");
        if (!(BetaStart > 0 && BetaEnd > 0 && BetaStart < 1 && BetaEnd < 1)) Fail("beta_start/beta_end", $"{BetaStart}/{BetaEnd}", "values in (0, 1)");
        if (PredictionType is not ("epsilon" or "v_prediction")) Fail("prediction_type", PredictionType, "epsilon, v_prediction");
        if (TimestepSpacing is not ("leading" or "trailing" or "linspace")) Fail("timestep_spacing", TimestepSpacing, "leading, trailing, linspace");
        if (StepsOffset < 0 || StepsOffset >= NumTrainTimesteps) Fail("steps_offset", StepsOffset, $"0 … {NumTrainTimesteps - 1}");
        if (RescaleBetasZeroSnr) Fail("rescale_betas_zero_snr", true, "false");
        bool x0Clamp = ClassName is "DDPMScheduler" or "DDIMScheduler" or "LCMScheduler";
        if (x0Clamp && ClipSample)
            Fail("clip_sample", true, "false (clamping x0 is not linear, so the fused denoise-step op cannot apply it; SD's configs set it false)");
        if (x0Clamp && Thresholding) Fail("thresholding", true, "false (dynamic thresholding is not linear)");
        switch (ClassName)
        {
            case "DDPMScheduler" when VarianceType is not ("fixed_small" or "fixed_large"):
                Fail("variance_type", VarianceType, "fixed_small, fixed_large");
                break;
            case "PNDMScheduler" when !SkipPrkSteps:
                Fail("skip_prk_steps", false, "true (only the PLMS path is implemented)");
                break;
            case "LCMScheduler" when OriginalInferenceSteps < 1 || OriginalInferenceSteps > NumTrainTimesteps:
                Fail("original_inference_steps", OriginalInferenceSteps, $"1 … {NumTrainTimesteps}");
                break;
            case "EulerDiscreteScheduler" or "EulerAncestralDiscreteScheduler" or "DPMSolverMultistepScheduler":
                if (UseKarrasSigmas) Fail("use_karras_sigmas", true, "false");
                if (UseLuLambdas) Fail("use_lu_lambdas", true, "false");
                if (InterpolationType != "linear") Fail("interpolation_type", InterpolationType, "linear");
                if (TimestepType != "discrete") Fail("timestep_type", TimestepType, "discrete");
                break;
        }
        if (ClassName == "DPMSolverMultistepScheduler")
        {
            if (AlgorithmType != "dpmsolver++") Fail("algorithm_type", AlgorithmType, "dpmsolver++");
            if (SolverOrder is not (1 or 2)) Fail("solver_order", SolverOrder, "1, 2");
            if (SolverType != "midpoint") Fail("solver_type", SolverType, "midpoint");
            if (FinalSigmasType is not ("zero" or "sigma_min")) Fail("final_sigmas_type", FinalSigmasType, "zero, sigma_min");
            if (Thresholding) Fail("thresholding", true, "false (dynamic thresholding is not linear)");
        }

        void Fail(string field, object value, string supported) =>
            throw new NotSupportedException($"{ClassName}: \"{field}\" = {Format(value)} is not supported (supported: {supported})");

        static string Format(object v) => v switch { bool b => b ? "true" : "false", string s => $"\"{s}\"", _ => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)! };
    }

    /// <summary>Reads a diffusers <c>scheduler_config.json</c> (or a folder holding one, or a pipeline folder with
    /// <c>scheduler/scheduler_config.json</c>). Every error is an <see cref="InvalidDataException"/> naming the file.</summary>
    public static SchedulerConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string file = path;
        if (Directory.Exists(path))
        {
            file = Path.Combine(path, "scheduler_config.json");
            if (!File.Exists(file)) file = Path.Combine(path, "scheduler", "scheduler_config.json");
            if (!File.Exists(file))
                throw new InvalidDataException($"{path}: no scheduler_config.json there or in its scheduler/ folder");
        }
        string text;
        try { text = File.ReadAllText(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{file}: cannot read the scheduler config: {e.Message}", e);
        }
        return Parse(text, file);
    }

    /// <summary>Parses the JSON text of a scheduler config; <paramref name="source"/> names it in errors.</summary>
    public static SchedulerConfig Parse(string json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{source}: a scheduler config must be a JSON object, not {root.ValueKind}");
            if (!root.TryGetProperty("_class_name", out var cls) || cls.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{source}: missing \"_class_name\" (the diffusers scheduler class)");
            string className = cls.GetString()!;
            if (!KnownClasses.Contains(className))
                throw new InvalidDataException(
                    $"{source}: scheduler class '{className}' is not supported (supported: {string.Join(", ", KnownClasses)})");
            var c = DefaultsFor(className);
            foreach (var p in root.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.Null) continue;   // diffusers writes null for "use the default"
                c = p.Name switch
                {
                    "num_train_timesteps" => c with { NumTrainTimesteps = Int(p) },
                    "beta_start" => c with { BetaStart = Num(p) },
                    "beta_end" => c with { BetaEnd = Num(p) },
                    "beta_schedule" => c with { BetaSchedule = Str(p) },
                    "prediction_type" => c with { PredictionType = Str(p) },
                    "timestep_spacing" => c with { TimestepSpacing = Str(p) },
                    "steps_offset" => c with { StepsOffset = Int(p) },
                    "set_alpha_to_one" => c with { SetAlphaToOne = Bool(p) },
                    "clip_sample" => c with { ClipSample = Bool(p) },
                    "clip_sample_range" => c with { ClipSampleRange = Num(p) },
                    "thresholding" => c with { Thresholding = Bool(p) },
                    "rescale_betas_zero_snr" => c with { RescaleBetasZeroSnr = Bool(p) },
                    "variance_type" => c with { VarianceType = Str(p) },
                    "skip_prk_steps" => c with { SkipPrkSteps = Bool(p) },
                    "original_inference_steps" => c with { OriginalInferenceSteps = Int(p) },
                    "timestep_scaling" => c with { TimestepScaling = Num(p) },
                    "solver_order" => c with { SolverOrder = Int(p) },
                    "algorithm_type" => c with { AlgorithmType = Str(p) },
                    "solver_type" => c with { SolverType = Str(p) },
                    "lower_order_final" => c with { LowerOrderFinal = Bool(p) },
                    "euler_at_final" => c with { EulerAtFinal = Bool(p) },
                    "final_sigmas_type" => c with { FinalSigmasType = Str(p) },
                    "use_karras_sigmas" => c with { UseKarrasSigmas = Bool(p) },
                    "use_lu_lambdas" => c with { UseLuLambdas = Bool(p) },
                    "interpolation_type" => c with { InterpolationType = Str(p) },
                    "timestep_type" => c with { TimestepType = Str(p) },
                    "trained_betas" => c with { HasTrainedBetas = true },
                    _ => c,
                };
            }
            return c;
        }

        string Where(JsonProperty p) => $"{source}: \"{p.Name}\"";
        int Int(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out int v)
            ? v : throw new InvalidDataException($"{Where(p)} must be an integer, got {p.Value.GetRawText()}");
        double Num(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Number
            ? p.Value.GetDouble() : throw new InvalidDataException($"{Where(p)} must be a number, got {p.Value.GetRawText()}");
        string Str(JsonProperty p) => p.Value.ValueKind == JsonValueKind.String
            ? p.Value.GetString()! : throw new InvalidDataException($"{Where(p)} must be a string, got {p.Value.GetRawText()}");
        bool Bool(JsonProperty p) => p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? p.Value.GetBoolean() : throw new InvalidDataException($"{Where(p)} must be true or false, got {p.Value.GetRawText()}");
    }
}
