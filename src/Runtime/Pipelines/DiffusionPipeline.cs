using System.Diagnostics;
using PixelCost.Kernels;
using PixelCost.Runtime.Imaging;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Schedulers;

namespace PixelCost.Runtime.Pipelines;

/// <summary>What one text-to-image run asks for: the latent is Width/8 × Height/8 (the SD VAEs' factor); guidance ≤ 1
/// means one UNet evaluation per step (no CFG).</summary>
public sealed record GenerateOptions(int Width = 512, int Height = 512, float Guidance = 7.5f, ulong Seed = 42)
{
    /// <summary>SDXL's extra conditioning (pooled text embeddings, micro-conditioning sizes); required exactly when the
    /// UNet has the text_time added embedding.</summary>
    public SdxlConditioning? Sdxl { get; init; }

    /// <summary>Called after every step (after the scheduler has updated the latent), on the calling thread.</summary>
    public Action<StepProgress>? OnStep { get; init; }

    /// <summary>Compute each step's predicted clean latent x̂₀ (<see cref="StepProgress.PredictedX0"/>) — in the ledger
    /// scope "preview", apart from the image's own cost.</summary>
    public bool PredictX0 { get; init; }
}

/// <summary>
/// SDXL's added conditioning: the pooled, projected text embedding of the second text encoder (<c>text_embeds</c>,
/// [B,P], P = 1280 for SDXL) for the prompt and, with classifier-free guidance, for the negative prompt ([B,P] or [1,P]),
/// and the six micro-conditioning numbers per image, <c>time_ids</c> = (original height, width, crop top, left, target
/// height, width) — by default (H, W, 0, 0, H, W) of the output size, as diffusers' pipeline makes them; the
/// unconditional half gets the same time ids (diffusers' default negative sizes).
/// </summary>
public sealed record SdxlConditioning(Tensor TextEmbeds, Tensor? UncondTextEmbeds)
{
    public (int Height, int Width)? OriginalSize { get; init; }
    public (int Top, int Left) CropTopLeft { get; init; }
    public (int Height, int Width)? TargetSize { get; init; }

    /// <summary>The six time ids for an output of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public float[] TimeIds(int height, int width)
    {
        var (oh, ow) = OriginalSize ?? (height, width);
        var (th, tw) = TargetSize ?? (height, width);
        return [oh, ow, CropTopLeft.Top, CropTopLeft.Left, th, tw];
    }
}

/// <summary>
/// What <see cref="GenerateOptions.OnStep"/> receives after step <see cref="Index"/> (0-based) of <see cref="Total"/>.
/// <see cref="Elapsed"/>: wall time of the image's own work since the loop started (the accelerator synchronised; the
/// preview's work and the callbacks excluded), <see cref="ImageCost"/>: the ledger's counted cost of the loop so far
/// (initial noise, UNet evaluations, scheduler steps; not the preview), <see cref="PreviewCost"/> and
/// <see cref="PreviewElapsed"/>: what the previews (x̂₀ and whatever earlier callbacks ran on the accelerator) cost.
/// <see cref="PredictedX0"/>: this step's x̂₀ latent [B,C,h,w] when <see cref="GenerateOptions.PredictX0"/> is on —
/// owned by the pipeline and valid only during the call (decode it with <see cref="DiffusionPipeline.DecodeLatent"/>;
/// work done in the callback lands in the ledger scope preview/step.i).
/// </summary>
public sealed record StepProgress(int Index, int Total, TimeSpan Elapsed, Cost ImageCost, TimeSpan PreviewElapsed, Cost PreviewCost,
    Tensor? PredictedX0);

/// <summary>
/// The denoise loop (issue 7 part 5), composed from the model components and Ops only, so it runs on any accelerator:
/// Philox latent noise (× the scheduler's initial σ) → for each step: the model input scaled as the scheduler says, one
/// UNet evaluation of batch 2B with classifier-free guidance (the unconditional embeddings first, as diffusers batches
/// them — SDXL's pooled embeddings and time ids in the same order) or of batch B without, the scheduler's fused denoise
/// step (with fresh Philox noise, stream = step + 1, when it asks for it) → the latent divided by the VAE's scaling
/// factor → the VAE decoder → an image in [−1, 1]. Ledger scopes: "noise", "conditioning" (the CFG batch copies),
/// "step.i" (model-input scaling), "step.i/unet", "step.i/scheduler", "vae",
/// and "preview/step.i" for the optional x̂₀ previews (so a run's ledger rolls up per component, previews apart).
/// <code>
/// using var pipe = new DiffusionPipeline(acc, UnetModel.Load(acc, dir), VaeDecoder.Load(acc, dir), Scheduler.FromPreset("ddim", 20));
/// using var image = pipe.Generate(cond, uncond, new GenerateOptions(512, 512, Guidance: 7.5f, Seed: 1));
/// DiffusionPipeline.SavePng(image, "out.png");
/// </code>
/// </summary>
public sealed class DiffusionPipeline(IAccelerator acc, UnetModel unet, VaeDecoder vae, IScheduler scheduler) : IDisposable
{
    /// <summary>The ledger scope of everything a run computes only to show progress (x̂₀ and its decodes).</summary>
    public const string PreviewScope = "preview";

    public IAccelerator Accelerator => acc;
    public UnetModel Unet => unet;
    public VaeDecoder Vae => vae;
    public IScheduler Scheduler => scheduler;

    /// <summary>Where the components came from (set by <see cref="PipelineLoader"/>).</summary>
    public PipelineInfo? Info { get; init; }

    /// <summary>The width of SDXL's pooled text embedding for this UNet (P of text_embeds [B,P]; 0 when it has none):
    /// projection_class_embeddings_input_dim − 6·addition_time_embed_dim.</summary>
    public int PooledDim => unet.Config.HasTextTimeEmbedding ? unet.Config.ProjectionClassEmbeddingsInputDim - 6 * unet.Config.AdditionTimeEmbedDim : 0;

    /// <summary>
    /// One image per row of <paramref name="cond"/> ([B,T,cross] text embeddings); <paramref name="uncond"/> (the empty
    /// prompt's embeddings, [B,T,cross] or [1,T,cross]) is required when guidance &gt; 1; an SDXL UNet also needs
    /// <see cref="GenerateOptions.Sdxl"/>. Returns [B,3,H,W] in about [−1, 1], a tensor the caller owns.
    /// </summary>
    public Tensor Generate(Tensor cond, Tensor? uncond, GenerateOptions options)
    {
        ArgumentNullException.ThrowIfNull(cond);
        ArgumentNullException.ThrowIfNull(options);
        var cfg = unet.Config;
        int down = 8 << (cfg.Levels - 1);
        if (options.Width <= 0 || options.Height <= 0 || options.Width % down != 0 || options.Height % down != 0)
            throw new ArgumentException($"generate: {options.Width}×{options.Height} must be positive multiples of {down} for this UNet");
        if (!float.IsFinite(options.Guidance) || options.Guidance < 0)
            throw new ArgumentException($"generate: guidance {options.Guidance} must be a finite number ≥ 0");
        if (cond.Rank != 3 || cond.Dim(2) != cfg.CrossAttentionDim)
            throw new ArgumentException($"generate: cond {cond.ShapeString} must be [B,T,{cfg.CrossAttentionDim}]");
        bool cfgOn = options.Guidance > 1;
        int b = cond.Dim(0), lh = options.Height / 8, lw = options.Width / 8, mb = cfgOn ? 2 * b : b;
        if (cfgOn && (uncond is null || uncond.Rank != 3 || uncond.Dim(1) != cond.Dim(1) || uncond.Dim(2) != cond.Dim(2) || uncond.Dim(0) != 1 && uncond.Dim(0) != b))
            throw new ArgumentException($"generate: guidance {options.Guidance} needs uncond [1 or {b},{cond.Dim(1)},{cond.Dim(2)}] (got {uncond?.ShapeString ?? "none"})");
        CheckSdxl(options.Sdxl, b, cfgOn);

        var ledger = acc.Ledger;
        int first = ledger.Count;
        var latent = acc.Allocate(b, cfg.InChannels, lh, lw);
        Tensor? te = null, ti = null, x0 = null;
        try
        {
            using var x = acc.Allocate(mb, cfg.InChannels, lh, lw);
            using var t = acc.Allocate(mb);
            using var ctx = acc.Allocate(mb, cond.Dim(1), cond.Dim(2));
            using var noise = acc.Allocate(b, cfg.InChannels, lh, lw);
            if (options.PredictX0) x0 = acc.Allocate(b, cfg.InChannels, lh, lw);
            using (ledger.Scope("noise")) Ops.FillGaussian(acc, latent, options.Seed, std: (float)scheduler.InitNoiseSigma);
            // The conditioning for every step: [uncond (repeated per image); cond] with CFG, cond alone without.
            using (ledger.Scope("conditioning"))
            {
                Batch(cond, uncond, ctx);
                if (options.Sdxl is { } sx)
                {
                    te = acc.Allocate(mb, PooledDim);
                    Batch(sx.TextEmbeds, sx.UncondTextEmbeds, te);
                    float[] ids = sx.TimeIds(options.Height, options.Width);
                    ti = acc.FromArray(Enumerable.Range(0, mb).SelectMany(_ => ids).ToArray(), mb, ids.Length);
                }
            }

            var image = Stopwatch.StartNew();
            var preview = new Stopwatch();
            int total = scheduler.Timesteps.Length;
            float guidance = cfgOn ? options.Guidance : 1f;
            for (int step = 0; step < total; step++)
            {
                Tensor eps;
                using (ledger.Scope($"step.{step}"))
                {
                    acc.Upload(t, Enumerable.Repeat(scheduler.ModelTimesteps[step], mb).ToArray());
                    float scale = (float)scheduler.ScaleModelInput(step);
                    for (int half = 0; half < mb / b; half++) Ops.Scale(acc, latent, scale, x.Slice(0, half * b, b));
                    using (ledger.Scope("unet")) eps = unet.Forward(x, t, ctx, te, ti);
                }
                using (eps)
                {
                    // x̂₀ reads the latent before the step (which updates it in place).
                    if (x0 is not null)
                        Preview(step, () => scheduler.PredictX0(acc, latent, eps, guidance, step, x0));
                    using (ledger.Scope($"step.{step}"))
                    using (ledger.Scope("scheduler"))
                    {
                        bool needs = scheduler.NeedsNoise(step);
                        if (needs) Ops.FillGaussian(acc, noise, options.Seed, stream: (ulong)step + 1);
                        scheduler.Step(acc, latent, eps, guidance, step, needs ? noise : null);
                    }
                }
                if (options.OnStep is { } onStep)
                {
                    acc.Synchronize();
                    image.Stop();
                    var (own, prev) = CostsSince(first);
                    var progress = new StepProgress(step, total, image.Elapsed, own, preview.Elapsed, prev, x0);
                    Preview(step, () => onStep(progress));
                    image.Start();
                }
            }
            x0?.Dispose();
            x0 = null;
            using (ledger.Scope("vae")) return DecodeLatent(latent);

            void Preview(int step, Action work)
            {
                image.Stop();
                preview.Start();
                using (ledger.Scope(PreviewScope))
                using (ledger.Scope($"step.{step}"))
                {
                    work();
                    acc.Synchronize();
                }
                preview.Stop();
                image.Start();
            }
        }
        finally
        {
            latent.Dispose();
            te?.Dispose();
            ti?.Dispose();
            x0?.Dispose();
        }

        // [uncond rows (one per image); cond rows] with CFG (uncond may be one row for all), cond alone without.
        void Batch(Tensor c, Tensor? u, Tensor dst)
        {
            if (!cfgOn)
            {
                Ops.Copy(acc, c, dst);
                return;
            }
            for (int i = 0; i < b; i++) Ops.Copy(acc, u!.Slice(0, u.Dim(0) == 1 ? 0 : i, 1), dst.Slice(0, i, 1));
            Ops.Copy(acc, c, dst.Slice(0, b, b));
        }
    }

    private void CheckSdxl(SdxlConditioning? sx, int b, bool cfgOn)
    {
        var cfg = unet.Config;
        if (!cfg.HasTextTimeEmbedding)
        {
            if (sx is not null)
                throw new ArgumentException("generate: SDXL conditioning (pooled text_embeds, time_ids) was given, but this UNet has no text_time added embedding (not SDXL)");
            return;
        }
        int p = PooledDim;
        if (p <= 0)
            throw new ArgumentException($"generate: this UNet's projection_class_embeddings_input_dim {cfg.ProjectionClassEmbeddingsInputDim} leaves no room for text_embeds beside 6 time ids of width {cfg.AdditionTimeEmbedDim}");
        if (sx is null)
            throw new ArgumentException($"generate: this UNet is SDXL-style (text_time added embedding): GenerateOptions.Sdxl must carry the pooled text_embeds [{b},{p}]{(cfgOn ? $" and the unconditional ones [1 or {b},{p}]" : "")}");
        if (sx.TextEmbeds.Rank != 2 || sx.TextEmbeds.Dim(0) != b || sx.TextEmbeds.Dim(1) != p)
            throw new ArgumentException($"generate: SDXL pooled text_embeds {sx.TextEmbeds.ShapeString} must be [{b},{p}] (one row per image; P = projection_class_embeddings_input_dim {cfg.ProjectionClassEmbeddingsInputDim} − 6·{cfg.AdditionTimeEmbedDim})");
        if (cfgOn && (sx.UncondTextEmbeds is not { } u || u.Rank != 2 || u.Dim(1) != p || u.Dim(0) != 1 && u.Dim(0) != b))
            throw new ArgumentException($"generate: with guidance > 1 the SDXL unconditional pooled text_embeds must be [1 or {b},{p}] (got {sx.UncondTextEmbeds?.ShapeString ?? "none"})");
        foreach (var (name, v) in new[] { ("original size", sx.OriginalSize), ("target size", sx.TargetSize) })
            if (v is { } s && (s.Height <= 0 || s.Width <= 0))
                throw new ArgumentException($"generate: SDXL {name} {s.Height}×{s.Width} must be positive");
        if (sx.CropTopLeft.Top < 0 || sx.CropTopLeft.Left < 0)
            throw new ArgumentException($"generate: SDXL crop top-left ({sx.CropTopLeft.Top}, {sx.CropTopLeft.Left}) must be ≥ 0");
    }

    /// <summary>The ledger's cost of entries from index <paramref name="first"/> on: the image's own, and the previews'.</summary>
    private (Cost Own, Cost Preview) CostsSince(int first)
    {
        var entries = acc.Ledger.Entries;
        Cost own = Cost.Zero, preview = Cost.Zero;
        for (int i = first; i < entries.Count; i++)
        {
            var e = entries[i];
            if (e.Scope == PreviewScope || e.Scope.StartsWith(PreviewScope + "/", StringComparison.Ordinal)) preview += e.Cost;
            else own += e.Cost;
        }
        return (own, preview);
    }

    /// <summary>Decodes a pipeline latent ([B,C,h,w], not yet divided by the VAE's scaling factor; left unchanged) into a
    /// new image [B,3,H,W] in about [−1, 1] the caller owns: how the final latent and the x̂₀ previews become pictures.</summary>
    public Tensor DecodeLatent(Tensor latent)
    {
        ArgumentNullException.ThrowIfNull(latent);
        using var scaled = acc.Allocate(latent.Shape.ToArray());
        Ops.Scale(acc, latent, 1f / (float)vae.Config.ScalingFactor, scaled);
        return vae.Decode(scaled);
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
