using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using PixelCost.Harness.Reporting;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Runtime.Models;
using Spectre.Console;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost bench unet</c>: times one UNet evaluation (and with <c>--vae</c> one VAE decode) on each accelerator,
/// against the peak measured there in the same run: seconds (median), GFLOP/s, % of peak, peak memory, and the time
/// and FLOPs split by op and by block (ledger scopes). Random weights for a preset (speed does not depend on values),
/// or the weights of a diffusers folder.
/// </summary>
internal static class BenchUnet
{
    internal sealed record Split(string Name, int Launches, long Flops, double Seconds, double Share);

    internal sealed record Part(string Component, string Shape, long Launches, long MatmulFlops, long Flops, double Seconds, int Repeats,
        double? Gflops, double? PercentOfPeak, long PeakMemoryBytes, IReadOnlyList<Split> ByOp, IReadOnlyList<Split> ByBlock);

    internal sealed record Report(string Machine, string Accelerator, string Model, string Weights, int Width, int Height, int Batch,
        double Seconds, double? Gflops, double? MeasuredPeakGflops, double? PercentOfPeak, IReadOnlyList<Part> Parts);

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A preset (" + string.Join(", ", UnetConfig.PresetNames) + ", random weights) or a diffusers UNet folder.", DefaultValueFactory = _ => "sd15" };
        var width = new Option<int?>("--width") { Description = "Image width in pixels (latent = ÷8; default: the model's native size)." };
        var height = new Option<int?>("--height") { Description = "Image height in pixels (default: the model's native size)." };
        var batch = new Option<int>("--batch") { Description = "UNet batch (2 = one image with classifier-free guidance).", DefaultValueFactory = _ => 1 };
        var vae = new Option<bool>("--vae") { Description = "Also time the VAE decoder on the same latent size (preset weights are random)." };
        var accelerator = new Option<string>("--accelerator") { Description = "Where to run: " + Accelerators.Help + ".", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "CPU worker threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var repeats = new Option<int>("--repeats") { Description = "Timed evaluations after one warm-up (the median is shown).", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Write JSON only." };
        var cmd = new Command("unet", "Time one UNet evaluation (and the VAE decode) on real model shapes: seconds, GFLOP/s, % of measured peak, peak memory, split by op and by block.");
        foreach (var o in new Option[] { model, width, height, batch, vae, accelerator, threads, repeats, json }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            TextWriter stdout = pr.InvocationConfiguration.Output, stderr = pr.InvocationConfiguration.Error;
            return Run(pr.GetValue(model)!, pr.GetValue(width), pr.GetValue(height), pr.GetValue(batch), pr.GetValue(vae),
                pr.GetValue(accelerator), pr.GetValue(threads), pr.GetValue(repeats), pr.GetValue(json), stdout, stderr);
        });
        return cmd;
    }

    private static int Run(string model, int? width, int? height, int batch, bool withVae, string? accelerator, int threads, int repeats,
        bool json, TextWriter stdout, TextWriter stderr)
    {
        bool preset = UnetConfig.PresetNames.Contains(model);
        if (!preset && !Directory.Exists(model) && !File.Exists(model))
            throw new CliException($"--model '{model}' is neither a preset ({string.Join(", ", UnetConfig.PresetNames)}) nor a file or folder");
        if (threads < 1) throw new CliException($"--threads must be ≥ 1, got {threads}");
        if (batch < 1) throw new CliException($"--batch must be ≥ 1, got {batch}");
        if (repeats < 1) throw new CliException($"--repeats must be ≥ 1, got {repeats}");
        var cfg = preset ? UnetConfig.Preset(model) : UnetConfig.Load(model);
        int native = cfg.SampleSize * 8, w = width ?? native, h = height ?? native, down = 8 << (cfg.Levels - 1);
        if (w <= 0 || h <= 0 || w % down != 0 || h % down != 0)
            throw new CliException($"--width {w} and --height {h} must be positive multiples of {down} for this UNet (latent ÷8, then {cfg.Levels - 1} halvings)");

        void Note(string line) { if (json) stderr.WriteLine(line); else stdout.WriteLine(line); }
        var accs = Accelerators.Open(accelerator, threads, 0, Note);
        using var progress = ProgressLine.Start("bench unet", stderr, json);
        var reports = new List<Report>();
        try
        {
            foreach (var acc in accs)
            {
                var opts = new KernelBenchOptions(null, threads, null, json, null, 1.0);
                progress.Step($"{acc.Id}: measuring peak and bandwidth");
                var dev = KernelBench.Measure(acc, opts, Note);
                var parts = new List<Part>();
                int lh = h / 8, lw = w / 8;
                progress.Step($"{acc.Id}: loading {(preset ? "random " : "")}{model} weights");
                using (var unet = preset ? UnetModel.Random(acc, cfg, seed: 1) : UnetModel.Load(acc, model, cfg))
                {
                    using var x = acc.Allocate(batch, cfg.InChannels, lh, lw);
                    using var t = acc.Allocate(batch);
                    using var ctx = acc.Allocate(batch, 77, cfg.CrossAttentionDim);
                    int pooled = cfg.HasTextTimeEmbedding ? cfg.ProjectionClassEmbeddingsInputDim - 6 * cfg.AdditionTimeEmbedDim : 0;
                    using var te = cfg.HasTextTimeEmbedding ? acc.Allocate(batch, pooled) : null;
                    using var ti = cfg.HasTextTimeEmbedding ? acc.Allocate(batch, 6) : null;
                    foreach (var (tensor, i) in new[] { x, t, ctx, te, ti }.Select((v, i) => (v, i)))
                        if (tensor is not null) Ops.FillGaussian(acc, tensor, 42, stream: (ulong)i);
                    acc.Synchronize();
                    parts.Add(Time(acc, "unet", $"[{batch},{cfg.InChannels},{lh},{lw}] ctx 77×{cfg.CrossAttentionDim}", repeats, dev, progress,
                        () => unet.Forward(x, t, ctx, te, ti).Dispose()));
                }
                acc.TrimPool();
                if (withVae)
                {
                    var vcfg = preset ? VaeConfig.Preset(model) : VaeConfig.Preset("sd15");
                    using var vae = VaeDecoder.Random(acc, vcfg, seed: 1);
                    using var lat = acc.Allocate(batch, vcfg.LatentChannels, lh, lw);
                    Ops.FillGaussian(acc, lat, 43);
                    parts.Add(Time(acc, "vae decoder", $"[{batch},{vcfg.LatentChannels},{lh},{lw}] → [{batch},3,{h},{w}]", repeats, dev, progress,
                        () => vae.Decode(lat).Dispose()));
                    acc.TrimPool();
                }
                double secs = parts.Sum(p => p.Seconds);
                double? gflops = Rates.PerSecond(parts.Sum(p => p.Flops), secs);
                reports.Add(new Report(KernelBench.MachineName(), acc.Name, model, preset ? "random (cost and speed do not depend on weight values)" : Path.GetFullPath(model),
                    w, h, batch, secs, gflops, dev.MeasuredPeakGflops, Rates.PercentOf(gflops, dev.MeasuredPeakGflops), parts));
            }
        }
        finally
        {
            foreach (var a in accs) a.Dispose();
        }
        if (json)
        {
            // One accelerator: the report itself (top-level seconds, gflops, measured_peak_gflops as bench kernels has them).
            stdout.WriteLine(reports.Count == 1 ? JsonSerializer.Serialize(reports[0], KernelBench.JsonOptions) : JsonSerializer.Serialize(reports, KernelBench.JsonOptions));
        }
        else
        {
            progress.Clear();
            foreach (var r in reports) Write(r, stdout);
        }
        return 0;
    }

    /// <summary>One warm-up evaluation (kernels compiled, pool filled; not recorded), one with the ledger on (the splits),
    /// then the median of timed ones with the ledger off.</summary>
    private static Part Time(IAccelerator acc, string component, string shape, int repeats, BenchDevice dev, ProgressLine progress, Action forward)
    {
        acc.Ledger.Enabled = false;
        progress.Step($"{acc.Id}: {component} warm-up");
        forward();
        acc.Synchronize();
        progress.Step($"{acc.Id}: {component} recorded evaluation (ledger on)");
        acc.Ledger.Clear();
        acc.Ledger.Enabled = true;
        forward();
        acc.Synchronize();
        var entries = acc.Ledger.Entries;
        var cost = acc.Ledger.TotalCost();
        double ledgerSeconds = entries.Sum(e => e.Elapsed.TotalSeconds);
        IReadOnlyList<Split> Splits(IEnumerable<(string Key, int Launches, Cost Cost, TimeSpan Elapsed)> g) =>
            g.OrderByDescending(s => s.Elapsed).Select(s => new Split(s.Key.Length == 0 ? "(top level)" : s.Key, s.Launches, s.Cost.Flops, s.Elapsed.TotalSeconds,
                ledgerSeconds > 0 ? s.Elapsed.TotalSeconds / ledgerSeconds : 0)).ToList();
        var byOp = Splits(acc.Ledger.ByOp());
        var byBlock = Splits(acc.Ledger.ByScope(1));
        acc.Ledger.Enabled = false;
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            progress.Step($"{acc.Id}: {component} timed evaluation", i + 1, repeats);
            var s = Stopwatch.StartNew();
            forward();
            acc.Synchronize();
            times.Add(s.Elapsed.TotalSeconds);
        }
        acc.Ledger.Enabled = true;
        times.Sort();
        double median = times.Count % 2 == 1 ? times[times.Count / 2] : (times[times.Count / 2 - 1] + times[times.Count / 2]) / 2;
        double? gflops = Rates.PerSecond(cost.Flops, median);
        return new Part(component, shape, entries.Count, cost.MatmulFlops, cost.Flops, median, repeats, gflops,
            Rates.PercentOf(gflops, dev.MeasuredPeakGflops), acc.Memory.Peak, byOp, byBlock);
    }

    private static void Write(Report r, TextWriter stdout)
    {
        var console = Terminal.Console(stdout, 160);
        console.WriteLine($"{r.Accelerator} on {r.Machine}: {r.Model} ({r.Weights}) at {r.Width}×{r.Height}, batch {r.Batch}; measured peak {(r.MeasuredPeakGflops is { } p ? $"{p:F1} GFLOP/s" : "–")}");
        foreach (var part in r.Parts)
        {
            console.WriteLine($"{part.Component} {part.Shape}: {part.Seconds:F3} s (median of {part.Repeats}), {part.MatmulFlops / 1e9:N1} G matmul FLOP, {Rates.Format(part.Gflops)} GFLOP/s" +
                $"{(part.PercentOfPeak is { } pp ? $" = {pp:F1}% of measured peak" : "")}, peak memory {part.PeakMemoryBytes / 1e6:N0} MB (weights + activations, pool)");
            foreach (var (title, rows) in new[] { ("op", part.ByOp), ("block", part.ByBlock) })
            {
                var t = new Table().Border(TableBorder.Rounded).Title($"{part.Component} by {title} (one evaluation after the warm-up, from its ledger)");
                foreach (var c in new[] { title, "launches", "GFLOP", "seconds", "share of time" })
                    t.AddColumn(new TableColumn(c) { Alignment = c == title ? Justify.Left : Justify.Right });
                foreach (var s in rows.Take(16))
                    t.AddRow(Markup.Escape(s.Name), s.Launches.ToString("N0"), (s.Flops / 1e9).ToString("F2"), s.Seconds.ToString("F3"), (100 * s.Share).ToString("F1") + "%");
                console.Write(t);
            }
        }
    }
}
