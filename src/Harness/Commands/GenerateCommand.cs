using System.CommandLine;
using System.Globalization;
using System.Text;
using PixelCost.Harness.Energy;
using PixelCost.Harness.Reporting;
using PixelCost.Kernels;
using PixelCost.Runtime.Imaging;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Models.Lora;
using PixelCost.Runtime.Models.TextEncoder;
using PixelCost.Runtime.Pipelines;
using Spectre.Console;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost generate</c>: prompt → text encoder(s) → N denoise steps (UNet with classifier-free guidance + the
/// scheduler) → VAE decode → PNG, with a progress line per step (step i/N, seconds, FLOPs counted so far), then where
/// the time (measured) and the FLOPs (counted) went, and joules where a meter reads. <c>--frames</c> decodes every
/// step's predicted clean image x̂₀ (numbered PNGs, a contact sheet, an animated GIF; each captioned with the cumulative
/// cost) — the previews' own cost is in the ledger scope "preview", reported apart. A preset runs its deterministic
/// random weights, which the screen and every file's metadata say. Everything is checked before anything is written;
/// files are written at the end, each atomically.
/// </summary>
public static class GenerateCommand
{
    /// <summary>How many steps, what guidance and size a preset's pipeline uses when not told: turbo models 1 step
    /// without guidance (as they are distilled to run), SDXL guidance 5, the others 7.5; 20 steps; the native size.</summary>
    public static (int Steps, float Guidance) Defaults(string preset) => preset switch
    {
        "sd-turbo" or "sdxl-turbo" => (1, 0f),
        "sdxl" => (20, 5f),
        _ => (20, 7.5f),
    };

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A preset (" + string.Join(", ", UnetConfig.PresetNames) + "; random weights) or a diffusers pipeline folder / single-file checkpoint.", DefaultValueFactory = _ => "sd15" };
        var prompt = new Option<string>("--prompt") { Description = "The prompt (empty: the unconditional prompt). Longer than 77 CLIP tokens is truncated, with a note.", Required = true };
        var negative = new Option<string>("--negative-prompt") { Description = "The negative prompt (the unconditional half of classifier-free guidance).", DefaultValueFactory = _ => "" };
        var steps = new Option<int?>("--steps") { Description = "Denoising steps, 1 … 1000 (default 20; turbo presets 1)." };
        var scheduler = new Option<string?>("--scheduler") { Description = "Sampler: " + string.Join(", ", PipelineLoader.SchedulerNames) + " (default: the model's own)." };
        var guidance = new Option<float?>("--guidance") { Description = "Classifier-free guidance scale ≥ 0; ≤ 1 runs one UNet evaluation per step (default 7.5; SDXL 5; turbo 0)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initial latent noise and of every step's noise (Philox).", DefaultValueFactory = _ => 42 };
        var width = new Option<int?>("--width") { Description = "Image width in pixels (default: the model's native size)." };
        var height = new Option<int?>("--height") { Description = "Image height in pixels (default: the model's native size)." };
        var lora = new Option<string[]>("--lora") { Description = "A LoRA safetensors to fuse into the weights, FILE or FILE:SCALE (default scale 1); may repeat.", AllowMultipleArgumentsPerToken = false };
        var frames = new Option<bool>("--frames") { Description = "Decode every step's predicted clean image x̂₀: numbered PNGs, a contact sheet and an animated GIF with the cumulative cost." };
        var output = new Option<string>("--out") { Description = "Output folder (created).", DefaultValueFactory = _ => "output" };
        var accelerator = new Option<string>("--accelerator") { Description = "Where to run: cpu, ilgpu-cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "CPU worker threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("generate", "Text to image: the whole pipeline on our kernels, with where the time, FLOPs and joules went.");
        foreach (var o in new Option[] { model, prompt, negative, steps, scheduler, guidance, seed, width, height, lora, frames, output, accelerator, threads })
            cmd.Options.Add(o);
        cmd.SetAction(pr => Run(new Request(pr.GetValue(model)!, pr.GetValue(prompt) ?? "", pr.GetValue(negative) ?? "", pr.GetValue(steps),
                pr.GetValue(scheduler), pr.GetValue(guidance), pr.GetValue(seed), pr.GetValue(width), pr.GetValue(height),
                pr.GetValue(lora) ?? [], pr.GetValue(frames), pr.GetValue(output)!, pr.GetValue(accelerator)!, pr.GetValue(threads)),
            pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error));
        return cmd;
    }

    internal sealed record Request(string Model, string Prompt, string NegativePrompt, int? Steps, string? Scheduler, float? Guidance,
        ulong Seed, int? Width, int? Height, string[] Loras, bool Frames, string Out, string Accelerator, int Threads);

    /// <summary>One row of the cost table.</summary>
    private sealed record Part(string Name, int Launches, Cost Cost, double Seconds);

    private static int Run(Request r, TextWriter stdout, TextWriter stderr)
    {
        // ---- everything checked before anything runs or is written
        if (r.Threads < 1) throw new CliException($"--threads must be ≥ 1, got {r.Threads}");
        var (preset, unetConfig, _, baseScheduler, _) = PipelineLoader.Describe(r.Model);
        var (defSteps, defGuidance) = Defaults(preset);
        int steps = r.Steps ?? defSteps;
        float guidance = r.Guidance ?? defGuidance;
        if (steps < 1 || steps > 1000) throw new CliException($"--steps must be 1 … 1000, got {steps}");
        if (!float.IsFinite(guidance) || guidance < 0) throw new CliException($"--guidance must be a number ≥ 0, got {guidance.ToString(CultureInfo.InvariantCulture)}");
        int native = unetConfig.SampleSize * 8, w = r.Width ?? native, h = r.Height ?? native, down = 8 << (unetConfig.Levels - 1);
        foreach (var (name, v) in new[] { ("--width", w), ("--height", h) })
            if (v <= 0 || v % down != 0 || v > 16384)
                throw new CliException($"{name} {v} must be a positive multiple of {down} (≤ 16384) for this UNet: the VAE divides by 8, then the UNet halves {unetConfig.Levels - 1} times");
        var schedulerConfig = PipelineLoader.SchedulerConfigFor(r.Scheduler, baseScheduler);
        using (var probe = Runtime.Schedulers.Scheduler.Create(schedulerConfig, steps)) { }   // LCM's ≤ 50 steps and the like, before loading
        var loras = r.Loras.Select(ParseLora).ToList();
        string outDir = Cli.WritableFolder(r.Out, "--out");

        var accs = Accelerators.Open(r.Accelerator, r.Threads, 0, stderr.WriteLine);
        if (accs.Count != 1)
        {
            foreach (var a in accs) a.Dispose();
            throw new CliException("--accelerator must name one accelerator (cpu, ilgpu-cpu or cuda:N)");
        }
        using var acc = accs[0];
        var console = Terminal.Console(stdout);
        var ledger = acc.Ledger;
        ledger.Clear();

        using var progress = ProgressLine.Start("generate", stderr, quiet: false);
        progress.Step($"loading {(PipelineLoader.PresetOf(r.Model) is null ? r.Model : $"preset {preset} (drawing random weights)")} on {acc.Id}…");
        using var pipe = PipelineLoader.Load(acc, r.Model, steps, r.Scheduler, seed: 1);
        var info = pipe.Info!;
        using var text = info.RandomWeights ? TextConditioner.ForPreset(acc, preset, seed: 1) : TextConditioner.Load(acc, r.Model);
        ledger.Clear();   // random weights are drawn through Ops too: not part of the image
        var loraLines = new List<string>();
        foreach (var (file, scale) in loras) loraLines.Add(FuseLora(acc, file, scale, pipe, text));   // ledger scope "lora"

        bool cfg = guidance > 1;
        string weightsNote = info.RandomWeights
            ? $"RANDOM weights (preset {preset}, deterministic): the cost and speed are real, the picture is noise"
            : $"weights from {info.Model}";
        console.WriteLine($"pixelcost generate — {info.Description}");
        console.WriteLine($"  weights    {weightsNote}");
        int evals = pipe.Scheduler.Timesteps.Length;
        console.WriteLine($"  scheduler  {info.SchedulerSource}, {steps} steps{(evals != steps ? $" ({evals} model evaluations: PLMS repeats one timestep)" : "")}; guidance {guidance.ToString(CultureInfo.InvariantCulture)} ({(cfg ? "2 UNet evaluations per step, one batch" : "1 UNet evaluation per step")}); seed {r.Seed}; {w}×{h}");
        foreach (var l in loraLines) console.WriteLine($"  LoRA       {l}");

        var meter = KernelBench.EnergyMeterFor(acc);
        acc.Synchronize();
        var window = meter.Unavailable is null ? meter.Start() : null;
        var wall = System.Diagnostics.Stopwatch.StartNew();

        // ---- text
        progress.Step("encoding the prompt…");
        TextConditioning cond;
        TextConditioning? uncond = null;
        Tensor? zeroHidden = null, zeroPooled = null;
        using (ledger.Scope("text"))
        {
            cond = text.Encode([r.Prompt]);
            // SDXL (force_zeros_for_empty_prompt): an empty negative prompt is all-zero embeddings, as diffusers makes it.
            if (cfg && preset is "sdxl" or "sdxl-turbo" && r.NegativePrompt.Length == 0)
            {
                zeroHidden = acc.Zeros(cond.Hidden.Shape.ToArray());
                zeroPooled = cond.Pooled is { } p ? acc.Zeros(p.Shape.ToArray()) : null;
            }
            else if (cfg) uncond = text.Encode([r.NegativePrompt]);
        }
        var notes = new List<string>();
        foreach (var (which, tc) in new[] { ("prompt", cond), ("negative prompt", uncond) })
            if (tc?.Tokens.FirstOrDefault(t => t.Truncated) is { } tp)
                notes.Add($"note: the {which} is {tp.OriginalTokenCount} CLIP tokens; truncated to {tp.Ids.Length} (CLIP's limit), the rest is ignored");
        progress.Clear();
        foreach (var n in notes) stderr.WriteLine(n);
        var textCost = ledger.Entries.Where(e => e.Scope.StartsWith("text", StringComparison.Ordinal)).Aggregate(Cost.Zero, (a, e) => a + e.Cost);

        // ---- the loop
        var frameImages = new List<RgbImage>();
        var frameCosts = new List<Cost>();
        Tensor image;
        using (cond)
        using (uncond)
        using (zeroHidden)
        using (zeroPooled)
        {
            var opts = new GenerateOptions(w, h, guidance, r.Seed)
            {
                Sdxl = pipe.PooledDim > 0 ? new SdxlConditioning(cond.Pooled!, zeroPooled ?? uncond?.Pooled) : null,
                PredictX0 = r.Frames,
                OnStep = p =>
                {
                    var soFar = textCost + p.ImageCost;
                    progress.Step($"{Bar(p.Index + 1, p.Total)} {p.Elapsed.TotalSeconds:F1} s · {Flops(soFar.Flops)} counted", p.Index + 1, p.Total);
                    if (p.PredictedX0 is { } x0)
                    {
                        using var decoded = pipe.DecodeLatent(x0);
                        frameImages.Add(RgbImage.FromTensor(decoded));
                        frameCosts.Add(soFar);
                    }
                },
            };
            image = pipe.Generate(cond.Hidden, zeroHidden ?? uncond?.Hidden, opts);
        }
        using (image)
        {
            acc.Synchronize();
            var energy = window?.Stop() ?? new EnergyReading(null, meter.Unavailable);
            double wallSeconds = wall.Elapsed.TotalSeconds;
            progress.Clear();

            // ---- where it went
            int evaluations = pipe.Scheduler.Timesteps.Length;   // PLMS repeats one timestep: steps + 1
            var parts = Split(ledger.Entries);
            var imagePart = parts.Where(p => p.Name is not ("preview" or "lora")).ToList();
            var total = new Part("the image (all of the above)", imagePart.Sum(p => p.Launches), imagePart.Aggregate(Cost.Zero, (a, p) => a + p.Cost), imagePart.Sum(p => p.Seconds));
            WriteTable(console, parts, total, evaluations, cfg, acc.Name);
            console.WriteLine($"wall time {wallSeconds:F2} s (measured; the ledger's seconds above are the kernels' own)");
            console.WriteLine(energy.Joules is { } j
                ? $"energy {j:F1} J (measured by {meter.Name}, the whole run{(r.Frames ? " including the previews" : "")}; {j / wallSeconds:F1} W average)"
                : $"energy not measured: {energy.NotMeasuredReason}");

            // ---- files, at the end
            string schedulerName = $"{pipe.Scheduler.Config.ClassName}{(r.Scheduler is null ? "" : $" ({r.Scheduler})")}";
            Dictionary<string, string> Meta(Cost c, string? frame = null)
            {
                var m = new Dictionary<string, string>
                {
                    ["prompt"] = r.Prompt, ["negative prompt"] = r.NegativePrompt, ["seed"] = r.Seed.ToString(CultureInfo.InvariantCulture),
                    ["steps"] = steps.ToString(CultureInfo.InvariantCulture), ["scheduler"] = schedulerName,
                    ["guidance"] = guidance.ToString(CultureInfo.InvariantCulture), ["size"] = $"{w}x{h}",
                    ["model"] = r.Model, ["weights"] = info.WeightsKind,
                    ["cost"] = $"{c.Flops.ToString(CultureInfo.InvariantCulture)} FLOPs counted ({c.MatmulFlops.ToString(CultureInfo.InvariantCulture)} matmul)",
                    ["software"] = "pixelcost generate",
                };
                if (info.RandomWeights) m["weights note"] = weightsNote;
                if (r.Loras.Length > 0) m["lora"] = string.Join("; ", r.Loras);
                if (frame is not null) m["frame"] = frame;
                return m;
            }
            var written = new List<string>();
            string imagePath = Path.Combine(outDir, "image.png");
            DiffusionPipeline.SavePng(image, imagePath, text: Meta(total.Cost));
            written.Add(imagePath);
            if (r.Frames) written.AddRange(WriteFrames(outDir, frameImages, frameCosts, evaluations, Meta));
            foreach (var f in written) console.WriteLine($"wrote {f}");
            if (info.RandomWeights) console.WriteLine($"note: {weightsNote}.");
        }
        return 0;
    }

    /// <summary>FILE or FILE:SCALE (<see cref="LoraAdapter.ParseSpec"/>); the file must exist.</summary>
    private static (string File, float Scale) ParseLora(string spec)
    {
        var (file, scale) = LoraAdapter.ParseSpec(spec);
        if (!File.Exists(file)) throw new CliException($"--lora {spec}: file '{file}' does not exist");
        return (file, scale);
    }

    /// <summary>Fuses one LoRA into the UNet and the text encoders it targets (through Ops, in the ledger's "lora" scope);
    /// a LoRA none of whose modules match is an error.</summary>
    private static string FuseLora(IAccelerator acc, string file, float scale, DiffusionPipeline pipe, TextConditioner text)
    {
        using var adapter = LoraAdapter.Load(file);
        var reports = new List<LoraFuseReport>();
        foreach (var target in adapter.Targets)
        {
            if (target == LoraTarget.Unet)
            {
                reports.Add(adapter.FuseInto(pipe.Unet, scale));   // diffusers and kohya's LDM-style module names
                continue;
            }
            int index = target == LoraTarget.TextEncoder ? 0 : 1;
            if (index < text.Encoders.Count) reports.Add(adapter.FuseInto(acc, text.Encoders[index].Weights, target, scale));
        }
        int matched = reports.Sum(x => x.Matched);
        if (matched == 0)
            throw new CliException($"--lora {file}: none of its modules ({string.Join(", ", adapter.Targets)}) match this model's weights"
                + (reports.SelectMany(x => x.Unmatched).FirstOrDefault() is { } u ? $" (e.g. '{u}')" : ""));
        return $"{file} × {scale.ToString(CultureInfo.InvariantCulture)}, rank {adapter.Rank}: " +
            string.Join(", ", reports.Select(x => $"{x.Target} {x.Matched} modules fused" + (x.Unmatched.Count > 0 ? $", {x.Unmatched.Count} unmatched" : "")));
    }

    /// <summary>The ledger rolled up into the parts of a text-to-image run (by the pipeline's scopes).</summary>
    private static List<Part> Split(IReadOnlyList<LedgerEntry> entries)
    {
        var order = new[] { "text", "noise", "conditioning", "unet", "scheduler", "vae", "other", "lora", "preview" };
        var groups = entries.GroupBy(e =>
        {
            string s = e.Scope, top = s.Split('/')[0];
            if (top.StartsWith("step.", StringComparison.Ordinal))
                return s.Contains("/unet", StringComparison.Ordinal) ? "unet" : "scheduler";   // step.i itself: the model-input scaling
            return order.Contains(top) ? top : "other";
        });
        return groups.Select(g => new Part(g.Key, g.Count(), g.Aggregate(Cost.Zero, (a, e) => a + e.Cost), g.Sum(e => e.Elapsed.TotalSeconds)))
            .OrderBy(p => Array.IndexOf(order, p.Name)).ToList();
    }

    private static void WriteTable(IAnsiConsole console, List<Part> parts, Part total, int steps, bool cfg, string accName)
    {
        string Label(string name) => name switch
        {
            "text" => "text encoder(s)",
            "noise" => "initial latent noise",
            "conditioning" => "conditioning batch (copies)",
            "unet" => $"UNet × {steps} steps ({(cfg ? "batch 2B: CFG" : "batch B")})",
            "scheduler" => $"scheduler × {steps} (+ model-input scaling)",
            "vae" => "VAE decode",
            "lora" => "LoRA fuse (once, into the weights)",
            "preview" => "preview: x̂₀ + frame decodes (not the image's)",
            _ => name,
        };
        var t = new Table().Border(TableBorder.Rounded)
            .Title($"where it went on {Markup.Escape(accName)} — FLOPs counted (2 per multiply-add), seconds measured (kernel time from the ledger)");
        foreach (var c in new[] { "part", "launches", "matmul GFLOP", "all GFLOP", "seconds", "share of the image's time", "GFLOP/s" })
            t.AddColumn(new TableColumn(c) { Alignment = c == "part" ? Justify.Left : Justify.Right });
        void Row(string label, Part p, bool share)
        {
            t.AddRow(Markup.Escape(label), p.Launches.ToString("N0", CultureInfo.InvariantCulture),
                (p.Cost.MatmulFlops / 1e9).ToString("F3", CultureInfo.InvariantCulture), (p.Cost.Flops / 1e9).ToString("F3", CultureInfo.InvariantCulture),
                p.Seconds.ToString("F3", CultureInfo.InvariantCulture),
                share && total.Seconds > 0 ? (100 * p.Seconds / total.Seconds).ToString("F1", CultureInfo.InvariantCulture) + "%" : Rates.NotApplicable,
                Rates.Format(Rates.PerSecond(p.Cost.Flops, p.Seconds)));
        }
        foreach (var p in parts.Where(p => p.Name is not ("lora" or "preview")))
        {
            Row(Label(p.Name), p, share: true);
            if (p.Name == "unet" && steps > 0)
                Row("  one UNet step", p with { Launches = p.Launches / steps, Cost = new Cost(p.Cost.MatmulFlops / steps, p.Cost.OtherFlops / steps,
                    p.Cost.Transcendentals / steps, p.Cost.BytesRead / steps, p.Cost.BytesWritten / steps), Seconds = p.Seconds / steps }, share: true);
        }
        Row(total.Name, total, share: true);
        foreach (var p in parts.Where(p => p.Name is "lora" or "preview")) Row(Label(p.Name), p, share: false);
        console.Write(t);
    }

    /// <summary>frames/step_NNN.png, frames/contact_sheet.png and frames/steps.gif, each frame captioned with its step and
    /// the cumulative counted cost; the same metadata as the image plus the frame.</summary>
    private static List<string> WriteFrames(string outDir, List<RgbImage> frames, List<Cost> costs, int steps,
        Func<Cost, string?, Dictionary<string, string>> meta)
    {
        var written = new List<string>();
        if (frames.Count == 0) return written;
        string dir = Path.Combine(outDir, "frames");
        Directory.CreateDirectory(dir);
        var captions = new List<string>();
        for (int i = 0; i < frames.Count; i++)
        {
            string caption = $"step {i + 1}/{steps} · {Flops(costs[i].Flops)} counted";
            captions.Add(caption);
            string path = Path.Combine(dir, $"step_{i + 1:D3}.png");
            Png.Write(path, frames[i], meta(costs[i], $"x̂₀ after step {i + 1} of {steps}"));
            written.Add(path);
        }
        int tile = Math.Clamp(frames[0].Width, 224, 256);   // small latents' frames are scaled up so the captions fit
        var tiles = frames.Select(f => f.Width == tile ? f : f.Resize(tile, Math.Max(1, f.Height * tile / f.Width))).ToList();
        string sheet = Path.Combine(dir, "contact_sheet.png");
        Png.Write(sheet, ContactSheet.Compose(tiles, Math.Min(5, tiles.Count), captions), meta(costs[^1], $"x̂₀ of steps 1 … {frames.Count}"));
        written.Add(sheet);
        var gifFrames = tiles.Select((f, i) => ContactSheet.Compose([f], 1, [captions[i]])).ToList();
        string gif = Path.Combine(dir, "steps.gif");
        Gif.Write(gif, gifFrames, 250, meta(costs[^1], $"x̂₀ of steps 1 … {frames.Count}"));
        written.Add(gif);
        return written;
    }

    private static string Bar(int done, int total)
    {
        const int width = 20;
        int full = total > 0 ? done * width / total : 0;
        return "[" + new string('█', full) + new string('░', width - full) + "]";
    }

    /// <summary>A FLOP count with its unit (counted FLOPs, 2 per multiply-add).</summary>
    public static string Flops(long flops)
    {
        var sb = new StringBuilder();
        (double div, string unit) = flops switch
        {
            >= 1_000_000_000_000_000 => (1e15, "PFLOP"),
            >= 1_000_000_000_000 => (1e12, "TFLOP"),
            >= 1_000_000_000 => (1e9, "GFLOP"),
            >= 1_000_000 => (1e6, "MFLOP"),
            _ => (1, "FLOP"),
        };
        sb.Append((flops / div).ToString(div == 1 ? "F0" : "F2", CultureInfo.InvariantCulture)).Append(' ').Append(unit);
        return sb.ToString();
    }
}
