using PixelCost.Kernels;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Schedulers;

namespace PixelCost.Runtime.Pipelines;

/// <summary>Where a pipeline's parts came from. <paramref name="Preset"/>: the model preset (for a path: the preset of
/// the family it was detected as — what text encoders and defaults follow); <paramref name="RandomWeights"/>: true when
/// the preset's deterministic random weights run (cost and speed are real, the picture is meaningless).</summary>
public sealed record PipelineInfo(string Model, string Preset, bool RandomWeights, string Description, string SchedulerSource)
{
    /// <summary>"random" or "file": how outputs' metadata names the weights.</summary>
    public string WeightsKind => RandomWeights ? "random" : "file";
}

/// <summary>
/// Builds a whole <see cref="DiffusionPipeline"/> (UNet + VAE decoder + scheduler) from a preset name (random weights:
/// <see cref="UnetModel.Random"/>, <see cref="VaeDecoder.Random"/>) or a path: a diffusers pipeline folder (unet/, vae/,
/// scheduler/scheduler_config.json) or a single-file checkpoint (model.diffusion_model. + first_stage_model.; the
/// architecture detected from its tensors, configs from that family's preset, the family's default scheduler).
/// The text side (tokenizers, text encoders) is loaded apart, from the same preset or path.
/// </summary>
public static class PipelineLoader
{
    /// <summary>The scheduler names of <c>pixelcost generate --scheduler</c> (each also accepts the preset names of
    /// <see cref="SchedulerConfig.PresetNames"/>).</summary>
    public static IReadOnlyList<string> SchedulerNames { get; } = ["euler-a", "ddim", "dpm++2m", "lcm", "pndm", "euler", "ddpm"];

    /// <summary>The preset <paramref name="model"/> names (case-insensitive), or null when it is not a preset.</summary>
    public static string? PresetOf(string model) =>
        UnetConfig.PresetNames.FirstOrDefault(p => string.Equals(p, model?.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The scheduler each model preset ships with: sd15 PNDM (PLMS), sd21 DDIM with v-prediction (768-v), sd21-base
    /// PNDM, sd-turbo Euler (trailing), sdxl Euler (leading), sdxl-turbo Euler ancestral (trailing); all on SD's
    /// training betas (scaled_linear 0.00085 → 0.012, 1000 steps).
    /// </summary>
    public static SchedulerConfig DefaultSchedulerConfig(string preset) => preset.ToLowerInvariant() switch
    {
        "sd15" => SchedulerConfig.Preset("sd15"),
        "sd21" => SchedulerConfig.Preset("ddim-v"),
        "sd21-base" => SchedulerConfig.Preset("pndm"),
        "sd-turbo" => SchedulerConfig.Preset("sd-turbo"),
        "sdxl" => SchedulerConfig.Preset("euler"),
        "sdxl-turbo" => SchedulerConfig.Preset("sdxl-turbo"),
        _ => throw new ArgumentException($"unknown model preset '{preset}' (known: {string.Join(", ", UnetConfig.PresetNames)})"),
    };

    /// <summary>
    /// The config of scheduler <paramref name="name"/> (one of <see cref="SchedulerNames"/> or a scheduler preset) for a
    /// model whose own scheduler config is <paramref name="model"/>: the named class's config with the model's training
    /// schedule (num_train_timesteps, betas), prediction_type, timestep_spacing and steps_offset carried over, as
    /// diffusers' <c>OtherScheduler.from_config(pipe.scheduler.config)</c> does. Null name: the model's own.
    /// </summary>
    public static SchedulerConfig SchedulerConfigFor(string? name, SchedulerConfig model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (string.IsNullOrWhiteSpace(name)) return model;
        string n = name.Trim().ToLowerInvariant();
        string preset = n switch
        {
            "euler-a" => "euler-ancestral",
            "dpm++2m" => "dpmpp-2m",
            _ when SchedulerConfig.PresetNames.Contains(n) => n,
            _ => throw new ArgumentException(
                $"unknown scheduler '{name}' (known: {string.Join(", ", SchedulerNames)}; or a preset: {string.Join(", ", SchedulerConfig.PresetNames)})"),
        };
        var c = SchedulerConfig.Preset(preset);
        return c with
        {
            NumTrainTimesteps = model.NumTrainTimesteps, BetaStart = model.BetaStart, BetaEnd = model.BetaEnd,
            BetaSchedule = model.BetaSchedule, HasTrainedBetas = model.HasTrainedBetas, PredictionType = model.PredictionType,
            TimestepSpacing = model.TimestepSpacing, StepsOffset = model.StepsOffset,
        };
    }

    /// <summary>
    /// Loads the pipeline of <paramref name="model"/> (a preset of <see cref="UnetConfig.PresetNames"/>, a diffusers
    /// pipeline folder or a single-file checkpoint) on <paramref name="acc"/> with <paramref name="steps"/> inference
    /// steps and the named scheduler (null: the model's own). <paramref name="seed"/> seeds a preset's random weights.
    /// Errors name the path, the component and the tensor (the component loaders' messages).
    /// </summary>
    public static DiffusionPipeline Load(IAccelerator acc, string model, int steps, string? scheduler = null, ulong seed = 1)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        if (PresetOf(model) is { } preset)
        {
            var sc = SchedulerConfigFor(scheduler, DefaultSchedulerConfig(preset));
            var sched = Scheduler.Create(sc, steps);
            UnetModel? unet = null;
            try
            {
                unet = UnetModel.Random(acc, UnetConfig.Preset(preset), seed);
                var vae = VaeDecoder.Random(acc, VaeConfig.Preset(preset), seed + 1);
                return new DiffusionPipeline(acc, unet, vae, sched)
                {
                    Info = new PipelineInfo(preset, preset, true,
                        $"{preset} with deterministic random weights (seed {seed}): cost and speed are real, the picture is noise",
                        $"{sc.ClassName} ({(scheduler is null ? $"the {preset} default" : scheduler)})"),
                };
            }
            catch
            {
                unet?.Dispose();
                sched.Dispose();
                throw;
            }
        }
        return LoadPath(acc, model, steps, scheduler);
    }

    /// <summary>
    /// What <paramref name="model"/> is without loading weights: its family preset, UNet config, VAE config (null: the
    /// pipeline folder's own vae/config.json) and base scheduler config with where that came from. A preset gives its
    /// own; a pipeline folder its unet/config.json and scheduler/scheduler_config.json (the family default when absent);
    /// a single-file checkpoint the presets of the family detected from its tensors.
    /// </summary>
    public static (string Preset, UnetConfig Unet, VaeConfig? Vae, SchedulerConfig Scheduler, string SchedulerSource) Describe(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        if (PresetOf(model) is { } preset)
            return (preset, UnetConfig.Preset(preset), VaeConfig.Preset(preset), DefaultSchedulerConfig(preset), $"the {preset} default");
        if (Directory.Exists(model))
        {
            using (var src = ModelSource.Open(model))
                if (!src.IsPipelineFolder)
                    throw new InvalidDataException($"{model}: not a diffusers pipeline folder (no unet/, vae/ … subfolders with weights); give the pipeline folder or a single-file checkpoint");
            var unet = UnetConfig.Load(model);
            string family = FamilyPreset(unet);
            string file = Path.Combine(model, "scheduler", "scheduler_config.json");
            return File.Exists(file)
                ? (family, unet, null, SchedulerConfig.Load(file), file)
                : (family, unet, null, DefaultSchedulerConfig(family), $"no scheduler/scheduler_config.json: the {family} default");
        }
        if (File.Exists(model))
        {
            var detected = ModelDetection.Detect(model);
            if (detected.Kind == ComponentKind.Lora)
                throw new InvalidDataException($"{model}: this is a {detected.Description}, not a model; give it to generate --lora with a model");
            string family = detected.Family switch
            {
                ModelFamily.SD1 => "sd15",
                ModelFamily.SD2 => "sd21-base",
                ModelFamily.SDXL => "sdxl",
                _ => throw new InvalidDataException($"{model}: cannot tell which Stable Diffusion family this checkpoint is ({detected.Description})"),
            };
            if (!detected.Components.Any(c => c.Kind == ComponentKind.Vae))
                throw new InvalidDataException($"{model}: this checkpoint holds no VAE (first_stage_model.*); a whole pipeline needs one");
            return (family, UnetConfig.Preset(family), VaeConfig.Preset(family), DefaultSchedulerConfig(family),
                $"single-file checkpoint: the {family} default (ε-prediction assumed)");
        }
        throw new FileNotFoundException($"model '{model}' is neither a preset ({string.Join(", ", UnetConfig.PresetNames)}) nor a file or folder", model);
    }

    private static DiffusionPipeline LoadPath(IAccelerator acc, string path, int steps, string? scheduler)
    {
        bool folder = Directory.Exists(path);
        var (family, unetConfig, vaeConfig, baseScheduler, schedulerSource) = Describe(path);
        var sc = SchedulerConfigFor(scheduler, baseScheduler);
        IScheduler sched;
        try { sched = Scheduler.Create(sc, steps); }
        catch (NotSupportedException e) { throw new InvalidDataException($"{schedulerSource}: {e.Message}", e); }
        UnetModel? unet = null;
        try
        {
            unet = UnetModel.Load(acc, path, folder ? null : unetConfig);
            var vae = VaeDecoder.Load(acc, path, vaeConfig);
            return new DiffusionPipeline(acc, unet, vae, sched)
            {
                Info = new PipelineInfo(Path.GetFullPath(path), family, false,
                    $"{(folder ? "diffusers pipeline folder" : "single-file checkpoint")} {Path.GetFullPath(path)} ({family} family)",
                    $"{sc.ClassName} ({(scheduler is null ? schedulerSource : $"{scheduler} on {schedulerSource}")})"),
            };
        }
        catch
        {
            unet?.Dispose();
            sched.Dispose();
            throw;
        }
    }

    /// <summary>The preset of the family a UNet config belongs to (SDXL: text_time embedding; SD 2.x: linear
    /// projections; SD 1.x otherwise).</summary>
    public static string FamilyPreset(UnetConfig c) => c.HasTextTimeEmbedding ? "sdxl" : c.UseLinearProjection ? "sd21-base" : "sd15";
}
