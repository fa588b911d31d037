using System.CommandLine;
using System.Text.Json;
using PixelCost.Harness.Reporting;
using PixelCost.Kernels;
using PixelCost.Kernels.Meta;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Models.TextEncoder;
using Spectre.Console;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost cost</c>: the counted cost of a whole text-to-image run, built from the real graph on the shape-only
/// <see cref="MetaAccelerator"/> (every op records its Spec's cost; nothing is allocated or run, so SDXL at 1024² costs in
/// seconds): per component (one UNet pass, UNet × steps × CFG, the scheduler steps, the VAE decoder), matmul FLOPs, all
/// FLOPs, transcendentals, parameters, weight bytes and peak activation bytes; the same for a random pixel map of the
/// output size, and the ratio. The text encoder(s) run once per prompt batch (twice with guidance: the negative prompts).
/// </summary>
public static class CostCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A preset (" + string.Join(", ", UnetConfig.PresetNames) + ") or a diffusers pipeline folder (unet/ and vae/ config.json).", DefaultValueFactory = _ => "sd15" };
        var width = new Option<int?>("--width") { Description = "Image width in pixels (default: the model's native size)." };
        var height = new Option<int?>("--height") { Description = "Image height in pixels (default: the model's native size)." };
        var steps = new Option<int?>("--steps") { Description = "Denoising steps (default: the pipeline's: 50; turbo models 1)." };
        var guidance = new Option<double?>("--guidance") { Description = "Classifier-free guidance scale; ≤ 1 means one UNet evaluation per step (default 7.5; SDXL 5; turbo 0)." };
        var batch = new Option<int>("--batch") { Description = "Images per run.", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Write JSON only." };
        var cmd = new Command("cost", "Counted FLOPs of a whole text-to-image run from the real graph (shape-only pass), beside a random pixel map.");
        foreach (var o in new Option[] { model, width, height, steps, guidance, batch, json }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var stdout = pr.InvocationConfiguration.Output;
            var stderr = pr.InvocationConfiguration.Error;
            CostReport report;
            using (var progress = ProgressLine.Start("cost", stderr, pr.GetValue(json)))
                report = Collect(pr.GetValue(model)!, pr.GetValue(width), pr.GetValue(height), pr.GetValue(steps), pr.GetValue(guidance), pr.GetValue(batch), progress);
            if (pr.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(report, KernelBench.JsonOptions));
            else Write(report, stdout);
            return 0;
        });
        return cmd;
    }

    /// <summary>One component's counted cost. FLOPs follow the README's conventions (matmul = 2 per MAC).</summary>
    internal sealed record ComponentCost(string Component, string What, long Launches, long MatmulFlops, long Flops, long Transcendentals,
        long? Parameters, long? WeightBytes, long? PeakActivationBytes, string? Note = null, IReadOnlyList<KindCost>? ByKind = null);

    /// <summary>Counted work of one kind of op (<see cref="KindOf"/>): what the tour projects time from.</summary>
    internal sealed record KindCost(string Kind, long Launches, long MatmulFlops, long Flops, long Bytes);

    /// <summary>The op kinds time is projected by: conv, linear/gemm, attention (incl. softmax), norm, elementwise (the rest).</summary>
    internal static readonly string[] Kinds = ["conv", "linear/gemm", "attention", "norm", "elementwise"];

    internal static string KindOf(string op) => op switch
    {
        "conv2d" => "conv",
        "linear" or "gemm" => "linear/gemm",
        "attention" or "softmax" => "attention",
        "group_norm" or "group_norm_silu" or "layer_norm" => "norm",
        _ => "elementwise",
    };

    /// <summary>A ledger's entries rolled up by <see cref="KindOf"/>, every kind present (zeros where none ran), in <see cref="Kinds"/> order.</summary>
    internal static IReadOnlyList<KindCost> ByKind(Ledger ledger, string? scope = null)
    {
        // scope: only entries of that top-level ledger scope (e.g. one text encoder of a pair).
        var entries = ledger.Entries.Where(e => scope is null || e.Scope == scope || e.Scope.StartsWith(scope + "/", StringComparison.Ordinal));
        var rows = entries.GroupBy(e => KindOf(e.Op)).ToDictionary(g => g.Key, g => g.ToList());
        return Kinds.Select(k => rows.TryGetValue(k, out var ops)
            ? new KindCost(k, ops.Count, ops.Sum(o => o.Cost.MatmulFlops), ops.Sum(o => o.Cost.Flops), ops.Sum(o => o.Cost.Bytes))
            : new KindCost(k, 0, 0, 0, 0)).ToList();
    }

    /// <summary>Per-kind sums of several components' splits (a component without one adds nothing), each scaled by its factor.</summary>
    internal static IReadOnlyList<KindCost> SumKinds(IEnumerable<(IReadOnlyList<KindCost>? Kinds, long Times)> parts)
    {
        var list = parts.Where(p => p.Kinds != null).ToList();
        return Kinds.Select(k => new KindCost(k,
            list.Sum(p => p.Kinds!.First(c => c.Kind == k).Launches * p.Times), list.Sum(p => p.Kinds!.First(c => c.Kind == k).MatmulFlops * p.Times),
            list.Sum(p => p.Kinds!.First(c => c.Kind == k).Flops * p.Times), list.Sum(p => p.Kinds!.First(c => c.Kind == k).Bytes * p.Times))).ToList();
    }

    internal sealed record CostReport(string Model, string Source, int Width, int Height, int Steps, double Guidance, int Batch,
        int UnetEvaluationsPerStep, IReadOnlyList<ComponentCost> Components, ComponentCost Total, ComponentCost RandomPixels,
        double FlopRatio, IReadOnlyList<ScopeCost> UnetByBlock, string Convention);

    internal sealed record ScopeCost(string Scope, long MatmulFlops, long Flops);

    internal static CostReport Collect(string model, int? width, int? height, int? steps, double? guidance, int batch, ProgressLine? progress = null)
    {
        bool preset = UnetConfig.PresetNames.Contains(model);
        if (!preset && !Directory.Exists(model))
            throw new CliException($"--model '{model}' is neither a preset ({string.Join(", ", UnetConfig.PresetNames)}) nor a folder");
        if (!preset && !File.Exists(Path.Combine(model, "unet", "config.json")))
            throw new CliException($"--model '{model}' is not a diffusers pipeline folder: it has no unet/config.json (cost reads the configs of unet/, vae/ and text_encoder/)");
        var unetCfg = preset ? UnetConfig.Preset(model) : UnetConfig.Load(Path.Combine(model, "unet"));
        var vaeCfg = preset ? VaeConfig.Preset(model) : VaeConfig.Load(Path.Combine(model, "vae"));
        bool turbo = model.Contains("turbo", StringComparison.OrdinalIgnoreCase);
        bool xl = unetCfg.HasTextTimeEmbedding;
        int native = unetCfg.SampleSize * 8;
        int w = width ?? native, h = height ?? native;
        int n = steps ?? (turbo ? 1 : 50);
        double g = guidance ?? (turbo ? 0 : xl ? 5.0 : 7.5);
        int down = 8 << (unetCfg.Levels - 1);   // the latent (÷8) must halve cleanly at every UNet level
        if (w <= 0 || h <= 0 || w % down != 0 || h % down != 0)
            throw new CliException($"--width {w} and --height {h} must be positive multiples of {down} for {model} (latent ÷8, then {unetCfg.Levels - 1} halvings)");
        if (n < 1) throw new CliException($"--steps must be ≥ 1, got {n}");
        if (batch < 1) throw new CliException($"--batch must be ≥ 1, got {batch}");
        if (!double.IsFinite(g)) throw new CliException($"--guidance must be a number, got {g}");
        int evals = g > 1 ? 2 : 1;   // diffusers: guidance > 1 runs the unconditional and the conditional batch together
        int lh = h / 8, lw = w / 8, b = batch * evals;

        using var meta = new MetaAccelerator();
        var components = new List<ComponentCost>();

        // One UNet evaluation (batch × CFG), traced on meta tensors.
        progress?.Step("tracing one UNet evaluation", 1, 3);
        var (unetPass, byBlock) = UnetPass(meta, unetCfg, b, lh, lw,
            $"one evaluation, batch {b} ({batch} image{(batch > 1 ? "s" : "")}{(evals == 2 ? " × CFG 2" : "")}), latent {lh}×{lw}");
        components.Add(unetPass);
        components.Add(unetPass with { Component = "unet × steps", What = $"{n} step{(n > 1 ? "s" : "")} × {evals} evaluation{(evals > 1 ? "s" : "")} (batched)",
            Launches = unetPass.Launches * n, MatmulFlops = unetPass.MatmulFlops * n, Flops = unetPass.Flops * n, Transcendentals = unetPass.Transcendentals * n,
            ByKind = SumKinds([(unetPass.ByKind, n)]) });

        progress?.Step("tracing the scheduler step", 2, 3);
        // The scheduler update: one fused denoise_step per step (guidance + the update; ancestral noise not counted).
        meta.Ledger.Clear();
        using (var lat = meta.Allocate(batch, unetCfg.InChannels, lh, lw))
        using (var mo = meta.Allocate(b, unetCfg.OutChannels, lh, lw))
            Ops.DenoiseStep(meta, lat, mo, lat, new DenoiseCoefficients(1f, -0.1f, Guidance: (float)Math.Max(g, 1)));
        var sc = meta.Ledger.TotalCost();
        components.Add(new ComponentCost("scheduler × steps", $"{n} fused denoise_step launch{(n > 1 ? "es" : "")} (CFG + update)", n,
            0, sc.Flops * n, sc.Transcendentals * n, 0, 0, null, ByKind: SumKinds([(ByKind(meta.Ledger), n)])));

        progress?.Step("tracing the VAE decoder", 3, 3);
        // The VAE decoder on the final latent.
        using (var vae = VaeDecoder.Random(meta, vaeCfg, seed: 0))
        {
            long weights = meta.Memory.InUse;
            meta.Ledger.Clear();
            meta.ResetPeak();
            using var lat = meta.Allocate(batch, vaeCfg.LatentChannels, lh, lw);
            using (var img = vae.Decode(lat)) { }
            var c = meta.Ledger.TotalCost();
            components.Add(new ComponentCost("vae decoder", $"{lh}×{lw} latent → {h}×{w} image", meta.Ledger.Count, c.MatmulFlops, c.Flops, c.Transcendentals,
                vae.ParameterCount, vae.WeightBytes, meta.Memory.Peak - weights, ByKind: ByKind(meta.Ledger)));
        }
        components.AddRange(TextEncoders(meta, model, preset, batch, evals));
        var run = components.Where(c => c.Component != "unet pass").ToList();
        var total = new ComponentCost("total", "one text-to-image run", run.Sum(c => c.Launches), run.Sum(c => c.MatmulFlops),
            run.Sum(c => c.Flops), run.Sum(c => c.Transcendentals), run.Sum(c => c.Parameters ?? 0), run.Sum(c => c.WeightBytes ?? 0),
            run.Max(c => c.PeakActivationBytes ?? 0), ByKind: SumKinds(run.Select(c => (c.ByKind, 1L))));

        meta.Ledger.Clear();
        using (var px = meta.Allocate(h, w, 3)) Ops.PixelsNoise(meta, px, 0);
        var pc = meta.Ledger.TotalCost();
        var pixels = new ComponentCost("random pixel map", $"{w}×{h} RGB, uniform Philox noise", 1, 0, pc.Flops, pc.Transcendentals, 0, 0, (long)w * h * 3 * 4);
        return new CostReport(model, preset ? "preset (deterministic random weights: cost does not depend on weight values)" : Path.GetFullPath(model),
            w, h, n, g, batch, evals, components, total, pixels, pixels.Flops > 0 ? (double)total.Flops / pixels.Flops : 0, byBlock,
            "counted from the graph's Specs: matmul FLOPs = 2 per multiply-accumulate (PyTorch FlopCounterMode), bias adds excluded; FLOPs = matmul + other; transcendentals listed apart");
    }

    /// <summary>
    /// One UNet evaluation of <paramref name="cfg"/> on a [batch, in, h, w] sample, traced on <paramref name="meta"/>
    /// (shape-only): its counted cost, split by kind, and by top-level block. <paramref name="h"/>/<paramref name="w"/> are
    /// the UNet's input size (the latent; for a pixel-space UNet, the image).
    /// </summary>
    internal static (ComponentCost Pass, List<ScopeCost> ByBlock) UnetPass(MetaAccelerator meta, UnetConfig cfg, int batch, int h, int w, string what)
    {
        bool xl = cfg.HasTextTimeEmbedding;
        using var unet = UnetModel.Random(meta, cfg, seed: 0);
        long weights = meta.Memory.InUse;
        meta.Ledger.Clear();
        meta.ResetPeak();
        using var x = meta.Allocate(batch, cfg.InChannels, h, w);
        using var t = meta.Allocate(batch);
        using var ctx = meta.Allocate(batch, 77, cfg.CrossAttentionDim);
        int timeIds = 6, pooled = xl ? cfg.ProjectionClassEmbeddingsInputDim - timeIds * cfg.AdditionTimeEmbedDim : 0;
        using var te = xl ? meta.Allocate(batch, pooled) : null;
        using var ti = xl ? meta.Allocate(batch, timeIds) : null;
        using (var y = unet.Forward(x, t, ctx, te, ti)) { }
        var c = meta.Ledger.TotalCost();
        var pass = new ComponentCost("unet pass", what, meta.Ledger.Count, c.MatmulFlops, c.Flops, c.Transcendentals, unet.ParameterCount, weights,
            meta.Memory.Peak - weights, ByKind: ByKind(meta.Ledger));
        var byBlock = meta.Ledger.ByScope(1).Select(s => new ScopeCost(s.Scope, s.Cost.MatmulFlops, s.Cost.Flops)).ToList();
        return (pass, byBlock);
    }

    /// <summary>
    /// The pipeline's text encoder(s) on meta tensors: one batch of <paramref name="batch"/> prompts (77 tokens each, the
    /// tokenizer pads to it) and, with guidance (<paramref name="evals"/> = 2), the negative prompts — diffusers encodes
    /// them as a second batch of the same size, so launches and FLOPs double. One row per encoder (ledger scope
    /// text_encoder / text_encoder_2); peak activations are those of one encode (both encoders, weights excluded).
    /// </summary>
    private static IEnumerable<ComponentCost> TextEncoders(MetaAccelerator meta, string model, bool preset, int batch, int evals)
    {
        if (!preset && !Directory.Exists(Path.Combine(model, "text_encoder")))
            return [new ComponentCost("text encoder", $"not counted: {model} has no text_encoder/ folder", 0, 0, 0, 0, null, null, null, "not in the pipeline folder")];
        using var tc = preset ? TextConditioner.ForPreset(meta, model, seed: 0) : TextConditioner.Load(meta, model);
        long weights = meta.Memory.InUse;
        meta.Ledger.Clear();
        meta.ResetPeak();
        using (tc.Encode(Enumerable.Repeat("a photograph of an astronaut riding a horse", batch).ToList())) { }
        long peak = meta.Memory.Peak - weights;
        var byScope = meta.Ledger.ByScope(1).ToDictionary(x => x.Scope);
        string prompts = $"{batch} prompt{(batch > 1 ? "s" : "")}{(evals == 2 ? $" + {batch} negative" : "")} × 77 tokens";
        return tc.Encoders.Select(e =>
        {
            var (_, launches, c, _) = byScope[e.Component];
            string what = $"{EncoderName(e.Config)}, {e.Config.Layers} layers: {prompts}";
            return new ComponentCost(e.Component, what, launches * evals, c.MatmulFlops * evals, c.Flops * evals, c.Transcendentals * evals,
                e.ParameterCount, e.WeightBytes, peak, ByKind: SumKinds([(ByKind(meta.Ledger, e.Component), evals)]));
        }).ToList();
    }

    private static string EncoderName(ClipTextConfig c) => c.HiddenSize switch
    {
        768 => "CLIP ViT-L/14",
        1024 => "OpenCLIP ViT-H/14",
        1280 => "OpenCLIP ViT-bigG/14",
        _ => $"CLIP text transformer (width {c.HiddenSize})",
    };

    private static void Write(CostReport r, TextWriter stdout)
    {
        var console = Terminal.Console(stdout, 180);
        console.WriteLine($"pixelcost cost — {r.Model} ({r.Source}), {r.Width}×{r.Height}, {r.Steps} steps, guidance {r.Guidance:G3} ({r.UnetEvaluationsPerStep} UNet evaluation{(r.UnetEvaluationsPerStep > 1 ? "s" : "")} per step), batch {r.Batch}");
        var t = new Table().Border(TableBorder.Rounded);
        foreach (var col in new[] { "component", "what", "launches", "matmul TFLOP", "all TFLOP", "transcend. (G)", "parameters (M)", "weights MB", "peak act. MB" })
            t.AddColumn(new TableColumn(col) { Alignment = col is "component" or "what" ? Justify.Left : Justify.Right });
        foreach (var c in r.Components.Append(r.Total).Append(r.RandomPixels))
            t.AddRow(Markup.Escape(c.Component), Markup.Escape(c.What), c.Launches.ToString("N0"), Tera(c.MatmulFlops),
                Tera(c.Flops), (c.Transcendentals / 1e9).ToString("F3"),
                c.Parameters is { } p ? (p / 1e6).ToString("F1") : "–", c.WeightBytes is { } wb ? (wb / 1e6).ToString("F0") : "–",
                c.PeakActivationBytes is { } pa ? (pa / 1e6).ToString("F0") : "–");
        console.Write(t);
        // One rule for both FLOP columns: three decimals of a TFLOP, or 4 significant digits when that would read 0.000.
        static string Tera(long flops) => flops == 0 ? "0" : (flops / 1e12).ToString(flops < 1e9 ? "G4" : "F3");
        console.WriteLine($"A coherent image costs {r.FlopRatio:N0}× the FLOPs of a random pixel map of the same size (counted, not measured).");
        console.WriteLine(r.Convention + ". Peak activation bytes: the most bytes of live tensors during the component, weights excluded (fp32).");
    }
}
