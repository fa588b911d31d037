using PixelCost.Kernels;
using PixelCost.Runtime.Imaging;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Schedulers;

namespace PixelCost.Runtime.Pipelines;

/// <summary>What one text-to-image run asks for: the latent is Width/8 × Height/8 (the SD VAEs' factor); guidance ≤ 1
/// means one UNet evaluation per step (no CFG).</summary>
public sealed record GenerateOptions(int Width = 512, int Height = 512, float Guidance = 7.5f, ulong Seed = 42);

/// <summary>
/// The denoise loop (issue 7 part 5), composed from the model components and Ops only, so it runs on any accelerator:
/// Philox latent noise (× the scheduler's initial σ) → for each step: the model input scaled as the scheduler says, one
/// UNet evaluation of batch 2B with classifier-free guidance (the unconditional embeddings first, as diffusers batches
/// them) or of batch B without, the scheduler's fused denoise step (with fresh Philox noise, stream = step + 1, when it
/// asks for it) → the latent divided by the VAE's scaling factor → the VAE decoder → an image in [−1, 1]. Each phase runs
/// in a ledger scope ("unet", "scheduler", "vae"), so a run's ledger rolls up per component.
/// <code>
/// using var pipe = new DiffusionPipeline(acc, UnetModel.Load(acc, dir), VaeDecoder.Load(acc, dir), Scheduler.FromPreset("ddim", 20));
/// using var image = pipe.Generate(cond, uncond, new GenerateOptions(512, 512, Guidance: 7.5f, Seed: 1));
/// DiffusionPipeline.SavePng(image, "out.png");
/// </code>
/// </summary>
public sealed class DiffusionPipeline(IAccelerator acc, UnetModel unet, VaeDecoder vae, IScheduler scheduler) : IDisposable
{
    public IAccelerator Accelerator => acc;
    public UnetModel Unet => unet;
    public VaeDecoder Vae => vae;
    public IScheduler Scheduler => scheduler;

    /// <summary>
    /// One image per row of <paramref name="cond"/> ([B,T,cross] text embeddings); <paramref name="uncond"/> (the empty
    /// prompt's embeddings, [B,T,cross] or [1,T,cross]) is required when guidance &gt; 1. Returns [B,3,H,W] in about
    /// [−1, 1], a tensor the caller owns.
    /// </summary>
    public Tensor Generate(Tensor cond, Tensor? uncond, GenerateOptions options)
    {
        var cfg = unet.Config;
        int down = 8 << (cfg.Levels - 1);
        if (options.Width <= 0 || options.Height <= 0 || options.Width % down != 0 || options.Height % down != 0)
            throw new ArgumentException($"generate: {options.Width}×{options.Height} must be positive multiples of {down} for this UNet");
        if (cond.Rank != 3 || cond.Dim(2) != cfg.CrossAttentionDim)
            throw new ArgumentException($"generate: cond {cond.ShapeString} must be [B,T,{cfg.CrossAttentionDim}]");
        if (cfg.HasTextTimeEmbedding) throw new NotSupportedException("generate: SDXL's pooled text embeddings and time ids are not wired into the loop yet");
        bool cfgOn = options.Guidance > 1;
        int b = cond.Dim(0), lh = options.Height / 8, lw = options.Width / 8, mb = cfgOn ? 2 * b : b;
        if (cfgOn && (uncond is null || uncond.Rank != 3 || uncond.Dim(1) != cond.Dim(1) || uncond.Dim(2) != cond.Dim(2) || uncond.Dim(0) != 1 && uncond.Dim(0) != b))
            throw new ArgumentException($"generate: guidance {options.Guidance} needs uncond [1 or {b},{cond.Dim(1)},{cond.Dim(2)}] (got {uncond?.ShapeString ?? "none"})");

        var ledger = acc.Ledger;
        var latent = acc.Allocate(b, cfg.InChannels, lh, lw);
        try
        {
            using var x = acc.Allocate(mb, cfg.InChannels, lh, lw);
            using var t = acc.Allocate(mb);
            using var ctx = acc.Allocate(mb, cond.Dim(1), cond.Dim(2));
            using var noise = acc.Allocate(b, cfg.InChannels, lh, lw);
            using (ledger.Scope("noise")) Ops.FillGaussian(acc, latent, options.Seed, std: (float)scheduler.InitNoiseSigma);
            // The conditioning for every step: [uncond (repeated per image); cond] with CFG, cond alone without.
            if (cfgOn)
            {
                for (int i = 0; i < b; i++) Ops.Copy(acc, uncond!.Slice(0, uncond.Dim(0) == 1 ? 0 : i, 1), ctx.Slice(0, i, 1));
                Ops.Copy(acc, cond, ctx.Slice(0, b, b));
            }
            else Ops.Copy(acc, cond, ctx);

            for (int step = 0; step < scheduler.Timesteps.Length; step++)
            {
                using var stepScope = ledger.Scope($"step.{step}");
                acc.Upload(t, Enumerable.Repeat(scheduler.ModelTimesteps[step], mb).ToArray());
                float scale = (float)scheduler.ScaleModelInput(step);
                for (int half = 0; half < mb / b; half++) Ops.Scale(acc, latent, scale, x.Slice(0, half * b, b));
                Tensor eps;
                using (ledger.Scope("unet")) eps = unet.Forward(x, t, ctx);
                using (eps)
                using (ledger.Scope("scheduler"))
                {
                    bool needs = scheduler.NeedsNoise(step);
                    if (needs) Ops.FillGaussian(acc, noise, options.Seed, stream: (ulong)step + 1);
                    scheduler.Step(acc, latent, eps, cfgOn ? options.Guidance : 1f, step, needs ? noise : null);
                }
            }
            using (ledger.Scope("vae"))
            {
                Ops.Scale(acc, latent, 1f / (float)vae.Config.ScalingFactor, latent);
                return vae.Decode(latent);
            }
        }
        finally { latent.Dispose(); }
    }

    /// <summary>Writes image <paramref name="index"/> of an [B,3,H,W] tensor in [−1, 1] as an 8-bit RGB PNG (round((v+1)/2·255),
    /// clamped) with optional text chunks (prompt, seed, …), under a temporary name renamed when complete.</summary>
    public static void SavePng(Tensor image, string path, int index = 0, IReadOnlyDictionary<string, string>? text = null)
    {
        if (image.Rank != 4 || image.Dim(1) != 3) throw new ArgumentException($"png: image {image.ShapeString} must be [B,3,H,W]");
        Png.Write(path, RgbImage.FromTensor(image, index), text);
    }

    public void Dispose()
    {
        unet.Dispose();
        vae.Dispose();
        scheduler.Dispose();
    }
}
