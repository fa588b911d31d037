using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Meta;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Pipelines;
using PixelCost.Runtime.Schedulers;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Runtime.Tests;

/// <summary>
/// The loop with the tiny golden SDXL-style UNet (text_time added embedding: pooled text_embeds [B,24] + 6 time ids) and
/// the tiny VAE; step callbacks with x̂₀ previews; PipelineLoader on an assembled pipeline folder.
/// </summary>
public sealed class SdxlPipelineTests : IDisposable
{
    private static readonly string Golden = Path.Combine(AppContext.BaseDirectory, "Golden");
    private readonly CpuAccelerator _cpu = new(threads: 2);

    public void Dispose() => _cpu.Dispose();

    private static string UnetDir(string name) => Path.Combine(Golden, "unet", name);

    private DiffusionPipeline Pipe(string unet, IScheduler scheduler) =>
        new(_cpu, UnetModel.Load(_cpu, UnetDir(unet)), VaeDecoder.Load(_cpu, Path.Combine(Golden, "vae_tiny")), scheduler);

    private Tensor Random(ulong seed, params int[] shape)
    {
        var t = _cpu.Allocate(shape);
        Ops.FillGaussian(_cpu, t, seed);
        return t;
    }

    /// <summary>One DDIM step of the loop = UnetModel.Forward on the batch built here ([uncond; cond] rows of the
    /// embeddings, pooled embeddings and time ids (128, 128, 0, 0, 128, 128)) + the DDIM update computed on the host
    /// in double + the VAE decode.</summary>
    [Fact]
    public void OneSdxlStepIsTheUnetForwardAndTheSchedulerStepComputedApart()
    {
        const float g = 4f;
        const ulong seed = 11;
        var sconfig = SchedulerConfig.Preset("ddim");
        using var pipe = Pipe("unet_sdxl_tiny", Scheduler.Create(sconfig, 1));
        Assert.Equal(24, pipe.PooledDim);
        using var cond = Random(1, 1, 7, 40);
        using var uncond = Random(2, 1, 7, 40);
        using var pooled = Random(3, 1, 24);
        using var upooled = Random(4, 1, 24);
        using var image = pipe.Generate(cond, uncond, new GenerateOptions(128, 128, g, seed) { Sdxl = new SdxlConditioning(pooled, upooled) });

        // The same step by hand.
        using var latent = _cpu.Allocate(1, 4, 16, 16);
        Ops.FillGaussian(_cpu, latent, seed, std: 1f);   // DDIM's initial σ is 1
        var lat = latent.ToArray();
        using var x = _cpu.FromArray([.. lat, .. lat], 2, 4, 16, 16);
        int t = pipe.Scheduler.Timesteps[0];
        using var ts = _cpu.FromArray([t, t], 2);
        using var ctx = _cpu.FromArray([.. uncond.ToArray(), .. cond.ToArray()], 2, 7, 40);
        using var te = _cpu.FromArray([.. upooled.ToArray(), .. pooled.ToArray()], 2, 24);
        float[] ids = [128, 128, 0, 0, 128, 128];
        using var ti = _cpu.FromArray([.. ids, .. ids], 2, 6);
        using var eps = pipe.Unet.Forward(x, ts, ctx, te, ti);
        var e = eps.ToArray();
        var ac = NoiseSchedule.AlphasCumprod(sconfig);
        double at = ac[t], ap = ac[0];   // one step: the previous timestep is < 0, set_alpha_to_one false → ᾱ[0]
        int n = lat.Length;
        var next = new float[n];
        for (int i = 0; i < n; i++)
        {
            double ehat = e[i] + g * ((double)e[n + i] - e[i]);
            double x0 = (lat[i] - Math.Sqrt(1 - at) * ehat) / Math.Sqrt(at);
            next[i] = (float)(Math.Sqrt(ap) * x0 + Math.Sqrt(1 - ap) * ehat);
        }
        using var nextT = _cpu.FromArray(next, 1, 4, 16, 16);
        using var expected = pipe.DecodeLatent(nextT);
        // Two fp32 paths over the same UNet output: ε̂ (×4 guidance) and the step differ by float roundings only.
        Close.All(expected.ToArray(), image.ToArray(), atol: 1e-4, rtol: 1e-4, new[] { 1, 3, 32, 32 }, "SDXL one step");

        // The pooled embeddings reach the UNet in CFG order: swapping them changes the image.
        using var swapped = pipe.Generate(cond, uncond, new GenerateOptions(128, 128, g, seed) { Sdxl = new SdxlConditioning(upooled, pooled) });
        Assert.True(swapped.ToArray().Zip(image.ToArray()).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    /// <summary>uncond + g·(cond − uncond) = cond when uncond = cond, pooled embeddings included: the guided run equals
    /// the guidance-1 (cond-only, batch 1) run; another uncond pooled embedding changes it.</summary>
    [Fact]
    public void SdxlGuidanceWithEqualConditioningIsTheCondOnlyPath()
    {
        using var cond = Random(5, 1, 7, 40);
        using var pooled = Random(6, 1, 24);
        using var other = Random(7, 1, 24);
        float[] Run(float g, Tensor? upooled)
        {
            using var pipe = Pipe("unet_sdxl_tiny", Scheduler.FromPreset("euler", 3));
            using var img = pipe.Generate(cond, g > 1 ? cond : null, new GenerateOptions(128, 128, g, 3) { Sdxl = new SdxlConditioning(pooled, upooled) });
            return img.ToArray();
        }
        var plain = Run(1f, null);
        Assert.True(Run(6f, pooled).Zip(plain).Max(p => Math.Abs(p.First - p.Second)) < 1e-4);
        Assert.True(Run(6f, other).Zip(plain).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    [Fact]
    public void WrongSdxlConditioningIsAClearError()
    {
        using var pipe = Pipe("unet_sdxl_tiny", Scheduler.FromPreset("ddim", 1));
        using var cond = Random(1, 1, 7, 40);
        using var pooled = Random(3, 1, 24);
        using var bad = Random(3, 1, 23);
        using var two = Random(3, 2, 24);
        string Err(GenerateOptions o, Tensor? uncond = null) => Assert.Throws<ArgumentException>(() => pipe.Generate(cond, uncond ?? cond, o)).Message;
        Assert.Contains("text_embeds [1,24]", Err(new GenerateOptions(128, 128, 5f)));
        Assert.Contains("[1,23] must be [1,24]", Err(new GenerateOptions(128, 128, 5f) { Sdxl = new(bad, pooled) }));
        Assert.Contains("unconditional pooled text_embeds must be [1 or 1,24] (got [1,23])", Err(new GenerateOptions(128, 128, 5f) { Sdxl = new(pooled, bad) }));
        Assert.Contains("unconditional pooled text_embeds must be [1 or 1,24] (got none)", Err(new GenerateOptions(128, 128, 5f) { Sdxl = new(pooled, null) }));
        Assert.Contains("must be [1,24]", Err(new GenerateOptions(128, 128, 5f) { Sdxl = new(two, pooled) }));
        Assert.Contains("target size 0×128", Err(new GenerateOptions(128, 128, 5f) { Sdxl = new(pooled, pooled) { TargetSize = (0, 128) } }));

        using var sd1 = Pipe("unet_sd1_tiny", Scheduler.FromPreset("ddim", 1));
        using var c32 = Random(1, 1, 7, 32);
        Assert.Contains("not SDXL", Assert.Throws<ArgumentException>(() =>
            sd1.Generate(c32, c32, new GenerateOptions(128, 128, 5f) { Sdxl = new(pooled, pooled) })).Message);
        Assert.Contains("guidance -1", Assert.Throws<ArgumentException>(() => sd1.Generate(c32, c32, new GenerateOptions(128, 128, -1f))).Message);
    }

    /// <summary>DDIM with η = 0 and set_alpha_to_one: the last step is x_prev = √1·x̂₀ + 0·ε̂, so the last preview is the
    /// final latent — decoded, the returned image. The callback sees every step in order with the image's ledger cost
    /// (the same with and without previews), and the previews' cost apart: one denoise_step per step, 6 FLOPs per
    /// latent element with guidance (hand count: guidance 3, Cx·x + Ce·m̂ 3), plus what the callback decoded.</summary>
    [Fact]
    public void LastPreviewIsTheFinalLatentAndPreviewCostIsApart()
    {
        var config = SchedulerConfig.Preset("ddim") with { SetAlphaToOne = true };
        using var cond = Random(1, 1, 7, 32);
        using var uncond = Random(2, 1, 7, 32);
        var steps = new List<StepProgress>();
        float[]? lastPreview = null;
        float[] Run(bool preview)
        {
            steps.Clear();
            using var pipe = Pipe("unet_sd1_tiny", Scheduler.Create(config, 3));
            var opts = new GenerateOptions(128, 128, 7.5f, 4)
            {
                PredictX0 = preview,
                OnStep = p =>
                {
                    steps.Add(p);
                    if (p.PredictedX0 is { } x0 && p.Index == p.Total - 1)
                    {
                        using var img = pipe.DecodeLatent(x0);
                        lastPreview = img.ToArray();
                    }
                },
            };
            _cpu.Ledger.Clear();
            using var image = pipe.Generate(cond, uncond, opts);
            return image.ToArray();
        }
        var plain = Run(false);
        var plainCosts = steps.Select(s => s.ImageCost).ToList();
        Assert.All(steps, s => Assert.Null(s.PredictedX0));
        Assert.All(steps, s => Assert.Equal(Cost.Zero, s.PreviewCost));
        var withPreview = Run(true);
        Assert.Equal(plain, withPreview);                                 // previews do not change the image
        Assert.Equal([0, 1, 2], steps.Select(s => s.Index));
        Assert.All(steps, s => Assert.Equal(3, s.Total));
        Assert.Equal(plainCosts, steps.Select(s => s.ImageCost));          // nor its counted cost
        Assert.True(steps[2].ImageCost.Flops > steps[0].ImageCost.Flops);
        long perPreview = 6L * 4 * 16 * 16;
        Assert.Equal(perPreview, steps[0].PreviewCost.Flops);
        Assert.Equal(2 * perPreview, steps[1].PreviewCost.Flops);
        Close.All(withPreview, lastPreview!, atol: 1e-5, rtol: 1e-5, new[] { 1, 3, 32, 32 }, "last x̂₀ decoded vs the image");

        var e = _cpu.Ledger.Entries;
        var previews = e.Where(x => x.Scope.StartsWith("preview/", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, previews.Count(x => x.Op == "denoise_step"));
        Assert.Contains(previews, x => x.Scope.StartsWith("preview/step.2/", StringComparison.Ordinal) && x.Op == "conv2d");   // the callback's decode
        Assert.Contains("preview", _cpu.Ledger.ByScope(1).Select(x => x.Scope));
    }

    /// <summary>A pipeline folder assembled from the golden tiny UNet and VAE plus a scheduler config gives the same
    /// image as the components put together by hand; the named scheduler takes the model's prediction type.</summary>
    [Fact]
    public void PipelineLoaderLoadsAFolderAndNamesSchedulers()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"pixelcost-pipe-{Guid.NewGuid():N}");
        try
        {
            foreach (var (sub, from) in new[] { ("unet", UnetDir("unet_sd1_tiny")), ("vae", Path.Combine(Golden, "vae_tiny")) })
            {
                Directory.CreateDirectory(Path.Combine(dir, sub));
                foreach (var f in new[] { "config.json", "diffusion_pytorch_model.safetensors" })
                    File.Copy(Path.Combine(from, f), Path.Combine(dir, sub, f));
            }
            Directory.CreateDirectory(Path.Combine(dir, "scheduler"));
            File.WriteAllText(Path.Combine(dir, "scheduler", "scheduler_config.json"),
                """{"_class_name": "DDIMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "clip_sample": false, "set_alpha_to_one": false, "steps_offset": 1, "prediction_type": "epsilon"}""");
            using var cond = Random(1, 1, 7, 32);
            using var uncond = Random(2, 1, 7, 32);
            var opts = new GenerateOptions(128, 128, 7.5f, 8);
            using var loaded = PipelineLoader.Load(_cpu, dir, steps: 2);
            Assert.False(loaded.Info!.RandomWeights);
            Assert.Equal("file", loaded.Info.WeightsKind);
            Assert.Equal("sd15", loaded.Info.Preset);
            Assert.Equal("DDIMScheduler", loaded.Scheduler.Config.ClassName);
            using var a = loaded.Generate(cond, uncond, opts);
            using var byHand = Pipe("unet_sd1_tiny", Scheduler.FromPreset("ddim", 2));
            using var b = byHand.Generate(cond, uncond, opts);
            Assert.Equal(b.ToArray(), a.ToArray());

            using var euler = PipelineLoader.Load(_cpu, dir, steps: 2, scheduler: "euler-a");
            Assert.Equal("EulerAncestralDiscreteScheduler", euler.Scheduler.Config.ClassName);
            Assert.Equal("leading", euler.Scheduler.Config.TimestepSpacing);

            Assert.Contains("not a diffusers pipeline folder", Assert.Throws<InvalidDataException>(() => PipelineLoader.Load(_cpu, Path.Combine(dir, "unet"), 2)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void PresetsLoadRandomWeightsAndBadNamesAreErrors()
    {
        using var meta = new MetaAccelerator();   // shapes only: SDXL's 2.6 G parameters cost nothing here
        using (var p = PipelineLoader.Load(meta, "SDXL-Turbo", steps: 1))
        {
            Assert.True(p.Info!.RandomWeights);
            Assert.Equal("random", p.Info.WeightsKind);
            Assert.Equal(1280, p.PooledDim);
            Assert.Equal("EulerAncestralDiscreteScheduler", p.Scheduler.Config.ClassName);
            Assert.Equal(0.13025, p.Vae.Config.ScalingFactor);
        }
        using (var p = PipelineLoader.Load(meta, "sd21", steps: 4, scheduler: "dpm++2m"))
        {
            Assert.Equal("DPMSolverMultistepScheduler", p.Scheduler.Config.ClassName);
            Assert.Equal("v_prediction", p.Scheduler.Config.PredictionType);   // the 768-v model's, carried over
        }
        Assert.Contains("unknown scheduler 'heun'", Assert.Throws<ArgumentException>(() => PipelineLoader.Load(meta, "sd15", 4, "heun")).Message);
        Assert.Contains("neither a preset", Assert.Throws<FileNotFoundException>(() => PipelineLoader.Load(meta, "sd16", 4)).Message);
        Assert.ThrowsAny<ArgumentException>(() => PipelineLoader.Load(meta, "sd15", 0));
        Assert.ThrowsAny<ArgumentException>(() => PipelineLoader.Load(meta, "sd15", 1001));
    }
}
