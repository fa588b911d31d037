using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using PixelCost.Harness.Energy;
using PixelCost.Harness.Reporting;
using PixelCost.Harness.Tour;
using PixelCost.Kernels;
using PixelCost.Kernels.Meta;
using PixelCost.Runtime.Diffusion;
using PixelCost.Runtime.Imaging;
using PixelCost.Runtime.IO;
using PixelCost.Runtime.Models;
using Spectre.Console;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost tour</c>: the one command that answers "why does a coherent image cost so much more than random pixels,
/// and where does the cost go?" on this machine — the cost ladder (pixel maps and one SD 1.5 UNet pass measured; whole
/// runs counted with <c>cost</c>'s code and their time projected from the measured pass's per-kind throughput), the audit
/// of popular claims, the pictures of how diffusion works, and a report folder (PNGs, report.json).
/// </summary>
public static class TourCommand
{
    internal sealed record Settings(string Out, string? Image, string Accelerator, bool Json, ulong Seed, bool Quick, int Threads, int PictureSize);

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder for the report, pictures and charts (created if missing).", DefaultValueFactory = _ => "tour" };
        var image = new Option<string?>("--image") { Description = "A PNG to diffuse instead of the built-in scene (resized to the picture size)." };
        var accelerator = new Option<string>("--accelerator") { Description = "Where to run: cpu, ilgpu-cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "Print report.json on stdout instead of the tables (files are still written)." };
        var seed = new Option<ulong>("--seed") { Description = "Philox seed of the noise and random weights.", DefaultValueFactory = _ => 42UL };
        var quick = new Option<bool>("--quick") { Description = "Skip the measured SD 1.5 UNet pass: project time from a 512³ GEMM and a 64 MB add instead (seconds, not a minute; says so)." };
        var threads = new Option<int>("--threads") { Description = "CPU worker threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("tour", "Why a coherent image costs so much more than random pixels: the cost ladder, the audit of popular claims, the pictures of diffusion, a report.");
        foreach (var o in new Option[] { output, image, accelerator, json, seed, quick, threads }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            TextWriter stdout = pr.InvocationConfiguration.Output, stderr = pr.InvocationConfiguration.Error;
            try
            {
                var s = new Settings(pr.GetValue(output)!, pr.GetValue(image), pr.GetValue(accelerator)!, pr.GetValue(json), pr.GetValue(seed),
                    pr.GetValue(quick), pr.GetValue(threads), 256);
                var report = Run(s, line => stderr.WriteLine(line));
                if (s.Json) stdout.WriteLine(JsonSerializer.Serialize(report, KernelBench.JsonOptions));
                else Write(report, stdout);
                return 0;
            }
            catch (Exception e) when (Cli.IsUserError(e))
            {
                stderr.WriteLine($"pixelcost: error: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    // ---- the report ----

    /// <summary>Work per op kind ÷ time: FLOP/s for conv, linear/gemm, attention; bytes/s for norm and elementwise (memory-bound).</summary>
    internal sealed record KindRate(string Kind, string Unit, double Rate, double Seconds, long Work, string Source);

    /// <summary>One rung of the ladder. Seconds and joules are measured or projected as <c>SecondsKind</c>/<c>JoulesKind</c> say.</summary>
    internal sealed record LadderRow(string Name, string What, long Flops, long MatmulFlops, string FlopsKind, double Seconds, string SecondsKind,
        double? Joules, string JoulesKind, double FlopRatio, double SecondsRatio, double? JoulesRatio);

    internal sealed record ComponentShare(string Component, long Flops, double ProjectedSeconds, string? Note);

    internal sealed record StepPoint(int Steps, long Flops, double ProjectedSeconds);

    internal sealed record PresetRun(string Name, string Model, int Width, int Height, int Steps, double Guidance, int UnetEvaluationsPerStep,
        long Flops, long MatmulFlops, double ProjectedSeconds, IReadOnlyList<ComponentShare> Components, IReadOnlyList<StepPoint> BySteps);

    internal sealed record SpaceCost(string Space, string Shape, long Values, long MatmulFlops, long AttentionMatmulFlops, long ConvLinearMatmulFlops,
        long Flops, long PeakActivationBytes, string Note);

    internal sealed record FramePicture(string Schedule, int Timestep, double AlphaBar, double SqrtAlphaBar, double SqrtOneMinusAlphaBar);

    internal sealed record ChainPicture(string Name, string NoiseEstimate, int[] Timesteps, double MaxAbsError, double MeanAbsError, string File);

    internal sealed record ScheduleSeries(string Name, string BetaSchedule, double BetaStart, double BetaEnd, int[] T, double[] AlphaBar);

    internal sealed record Pictures(string Source, int Size, IReadOnlyList<FramePicture> Forward, IReadOnlyList<ChainPicture> Reverse,
        IReadOnlyList<ScheduleSeries> Schedules);

    internal sealed record TourReport(string Machine, string Accelerator, ulong Seed, string OutputFolder, bool Quick, string Weights,
        double? WeightBuildSeconds, string ThroughputSource, IReadOnlyList<KindRate> Rates, IReadOnlyList<LadderRow> Ladder,
        IReadOnlyList<AuditRow> Audit, IReadOnlyList<PresetRun> Presets, IReadOnlyList<SpaceCost> PixelVsLatent, Pictures Pictures,
        string EnergyMeter, string? EnergyNote, IReadOnlyList<string> Files, double TourSeconds, string Convention);

    /// <summary>The presets of the ladder (all counted by <c>cost</c>'s collection; time projected).</summary>
    internal static readonly (string Name, string Model, int Size, int Steps, double Guidance)[] LadderPresets =
    [
        ("SD-Turbo, 1 step", "sd-turbo", 512, 1, 0),
        ("LCM (SD 1.5), 4 steps, no CFG", "sd15", 512, 4, 0),
        ("SD 1.5, 20 steps, CFG 7.5", "sd15", 512, 20, 7.5),
        ("SDXL 1024², 30 steps, CFG 5", "sdxl", 1024, 30, 5),
    ];

    /// <summary>cost's collection for one configuration, memoised for the tour (the same configuration is asked for more than once).</summary>
    private static Func<string, int, int, int, double, CostCommand.CostReport> CostOf()
    {
        var cache = new Dictionary<(string, int, int, int, double), CostCommand.CostReport>();
        return (m, w, h, n, g) => cache.TryGetValue((m, w, h, n, g), out var r) ? r : cache[(m, w, h, n, g)] = CostCommand.Collect(m, w, h, n, g, 1);
    }

    internal static TourReport Run(Settings s, Action<string> progress)
    {
        var clock = Stopwatch.StartNew();
        // Every check before any work or file: no half-written output.
        if (s.Threads < 1) throw new CliException($"--threads must be ≥ 1, got {s.Threads}");
        float[]? userImage = s.Image is null ? null : LoadImage(s.Image, s.PictureSize);
        string dir = Path.GetFullPath(s.Out);
        if (ProbeWritable(dir) is { } why) throw new CliException($"--out '{s.Out}': {why}");
        var accs = Accelerators.Open(s.Accelerator, s.Threads, 0, progress);
        if (accs.Count != 1)
        {
            foreach (var a in accs) a.Dispose();
            throw new CliException($"--accelerator '{s.Accelerator}': the tour runs on one accelerator (cpu, ilgpu-cpu, cuda:N)");
        }
        using var acc = accs[0];
        var meter = KernelBench.EnergyMeterFor(acc);
        var files = new List<string>();
        string Save(string name, RgbBytes img)
        {
            Png.Write(Path.Combine(dir, name), img.Pixels, img.Width, img.Height, PngColor.Rgb);
            files.Add(name);
            return name;
        }

        // 1. The bottom of the ladder: the pixel maps, measured.
        progress("tour [1/5] pixel maps 1024², measured…");
        const int side = 1024;
        var maps = new (string Name, string File, Action<Tensor> Launch)[]
        {
            ("random pixel map 1024²", "01_random_noise.png", t => Ops.PixelsNoise(acc, t, s.Seed)),
            ("smooth noise map 1024²", "02_smooth_noise.png", t => Ops.PixelsSmoothNoise(acc, t, s.Seed, 64)),
            ("gradient map 1024²", "03_gradient.png", t => Ops.PixelsGradient(acc, t)),
        };
        var measured = new List<(string Name, string What, Cost Cost, double Seconds, double? Joules, string? Note)>();
        using (var img = acc.Allocate(side, side, 3))
        using (var q = acc.Allocate(DType.U8, side, side, 3))
        {
            foreach (var (name, file, launch) in maps)
            {
                acc.Ledger.Clear();
                launch(img);
                acc.Synchronize();
                var spec = acc.Ledger.TotalCost();
                acc.Ledger.Enabled = false;
                int launches = 0;
                var window = meter.Unavailable is null ? meter.Start() : null;
                var t = Timing.Measure(() => { launch(img); launches++; }, acc.Synchronize, minSeconds: 0.25);
                var energy = window?.Stop();
                acc.Ledger.Enabled = true;
                double? joules = energy?.Joules is { } j ? j / launches : null;
                string? note = joules is null ? energy?.NotMeasuredReason ?? meter.Unavailable : null;
                measured.Add((name, $"{side}×{side} RGB, Ops.{file[3..^4] switch { "random_noise" => "PixelsNoise", "smooth_noise" => "PixelsSmoothNoise", _ => "PixelsGradient" }} (median of {t.Repeats})",
                    spec, t.Median, joules, note));
                Ops.QuantizeU8(acc, img, q);
                var bytes = new byte[q.Length];
                acc.Download<byte>(q, bytes);
                Save(file, new RgbBytes(side, side, bytes));
            }
        }
        var random = measured[0];
        var px = new PixelMeasurements(random.Cost.Flops, random.Seconds, random.Joules is { } rj ? rj / random.Seconds : null,
            random.Note);

        // 2. The pictures of diffusion (pixel space, no network).
        progress("tour [2/5] forward diffusion and the oracle denoiser…");
        var pictures = MakePictures(acc, s, userImage, Save);

        // 3. Throughput per op kind: one SD 1.5 UNet pass measured (random weights), or the --quick fallback.
        var cost = CostOf();
        var sd15Pass = cost("sd15", 512, 512, 1, 0).Components.First(c => c.Component == "unet pass");
        IReadOnlyList<KindRate> rates;
        string source;
        double? buildSeconds = null, unetSeconds = null, unetJoules = null;
        string? unetNote = null;
        if (s.Quick)
        {
            progress("tour [3/5] --quick: per-kind rates from a 512³ GEMM and a 64 MB add (no UNet pass)…");
            rates = QuickRates(acc);
            source = "--quick fallback: matmul kinds at the rate of a 512³ Ops.Gemm, memory-bound kinds at the bytes/s of a 64 MB Ops.Add — NOT a UNet pass";
        }
        else
        {
            progress("tour [3/5] building SD 1.5 UNet random weights (859.5 M parameters)…");
            var sw = Stopwatch.StartNew();
            using var unet = UnetModel.Random(acc, UnetConfig.Preset("sd15"), s.Seed);
            acc.Synchronize();
            buildSeconds = sw.Elapsed.TotalSeconds;
            progress($"  weights built in {buildSeconds:F1} s; one UNet pass at 512², batch 1, measured…");
            using var x = acc.Allocate(1, 4, 64, 64);
            using var ts = acc.FromArray([500f], 1);
            using var ctx = acc.Allocate(1, 77, 768);
            Ops.FillGaussian(acc, x, s.Seed, stream: 1);
            Ops.FillGaussian(acc, ctx, s.Seed, stream: 2);
            acc.Synchronize();
            acc.Ledger.Clear();
            var window = meter.Unavailable is null ? meter.Start() : null;
            sw.Restart();
            using (unet.Forward(x, ts, ctx)) acc.Synchronize();
            unetSeconds = sw.Elapsed.TotalSeconds;
            var energy = window?.Stop();
            unetJoules = energy?.Joules;
            unetNote = unetJoules is null ? energy?.NotMeasuredReason ?? meter.Unavailable : null;
            rates = MeasuredRates(acc.Ledger);
            source = $"measured: one SD 1.5 UNet pass at 512², batch 1, random weights, {unetSeconds:F2} s on {acc.Name} (first evaluation: includes one-time JIT), per-kind time from its ledger";
            progress($"  UNet pass {unetSeconds:F2} s");
        }
        acc.TrimPool();

        // 4. Counted runs (meta pass), projected times, the audit, pixel vs latent.
        progress("tour [4/5] counting whole runs (shape-only passes) and the audit…");
        double Project(IReadOnlyList<CostCommand.KindCost>? kinds) => kinds is null ? 0 : kinds.Sum(k =>
        {
            var r = rates.First(x => x.Kind == k.Kind);
            double work = r.Unit == "FLOP/s" ? k.Flops : k.Bytes;
            return work == 0 ? 0 : work / r.Rate;
        });
        double? watts = unetJoules is { } uj && unetSeconds is { } us ? uj / us : null;
        var ladder = new List<LadderRow>();
        void Add(string name, string what, long flops, long mm, string flopsKind, double secs, string secsKind, double? joules, string joulesKind)
            => ladder.Add(new LadderRow(name, what, flops, mm, flopsKind, secs, secsKind, joules, joulesKind,
                (double)flops / random.Cost.Flops, secs / random.Seconds, joules is { } j && random.Joules is { } r0 ? j / r0 : null));
        foreach (var m in measured)
            Add(m.Name, m.What, m.Cost.Flops, m.Cost.MatmulFlops, "counted", m.Seconds, "measured", m.Joules,
                m.Joules is null ? $"not measured: {m.Note}" : "measured");
        string noJ = $"not measured: {unetNote ?? meter.Unavailable ?? "no energy meter"}";
        if (unetSeconds is { } useconds)
            Add("SD 1.5 UNet pass, 512², batch 1", "one evaluation, random weights (speed does not depend on values)", sd15Pass.Flops, sd15Pass.MatmulFlops,
                "counted", useconds, "measured", unetJoules, unetJoules is null ? noJ : "measured");
        else
            Add("SD 1.5 UNet pass, 512², batch 1", "one evaluation (--quick: not run)", sd15Pass.Flops, sd15Pass.MatmulFlops, "counted",
                Project(sd15Pass.ByKind), "projected", null, "not measured: --quick");
        var vae = cost("sd15", 512, 512, 1, 0).Components.First(c => c.Component == "vae decoder");
        double vaeSecs = Project(vae.ByKind);
        Add("SD 1.5 VAE decode, 64² → 512²", "the decoder alone", vae.Flops, vae.MatmulFlops, "counted", vaeSecs, "projected",
            watts * vaeSecs, watts is null ? noJ : "projected (measured UNet power × projected time)");
        var presets = new List<PresetRun>();
        foreach (var (name, model, size, steps, guidance) in LadderPresets)
        {
            var r = cost(model, size, size, steps, guidance);
            double secs = Project(r.Total.ByKind);
            Add(name, $"{model} {size}², whole run: UNet × steps{(r.UnetEvaluationsPerStep > 1 ? " × 2 (CFG)" : "")} + scheduler + VAE decode",
                r.Total.Flops, r.Total.MatmulFlops, "counted", secs, "projected", watts * secs,
                watts is null ? noJ : "projected (measured UNet power × projected time)");
            presets.Add(Preset(name, r, Project, cost));
        }
        ladder.Sort((a, b) => a.Flops.CompareTo(b.Flops));
        var audit = Tour.Audit.Run(Tour.Audit.Claims, cost, px);
        var spaces = PixelVsLatent();

        // 5. The report files.
        progress("tour [5/5] writing report.json…");
        var report = new TourReport(KernelBench.MachineName(), acc.Name, s.Seed, dir, s.Quick,
            "random (deterministic Philox; cost and speed do not depend on weight values — pictures from a real model are not part of the tour)",
            buildSeconds, source, rates, ladder, audit, presets, spaces, pictures, meter.Name, meter.Unavailable, files, 0,
            "FLOPs counted from the ops' Specs (matmul = 2 per multiply-accumulate, bias adds excluded; FLOPs = matmul + other); " +
            "seconds measured (median of repeats, or one UNet evaluation) or projected (counted work per op kind ÷ the measured rate of that kind)");
        files.Add("report.json");
        report = report with { Files = files.ToList(), TourSeconds = clock.Elapsed.TotalSeconds };
        AtomicFile.WriteAllText(Path.Combine(dir, "report.json"), JsonSerializer.Serialize(report, KernelBench.JsonOptions));
        return report;
    }

    private static PresetRun Preset(string name, CostCommand.CostReport r, Func<IReadOnlyList<CostCommand.KindCost>?, double> project,
        Func<string, int, int, int, double, CostCommand.CostReport> cost)
    {
        var comps = r.Components.Where(c => c.Component != "unet pass")
            .Select(c => new ComponentShare(c.Component, c.Flops, project(c.ByKind), c.Note)).ToList();
        // FLOPs and time are linear in steps: per-step = UNet × CFG + scheduler; fixed = VAE (+ text encoder).
        var perStep = r.Components.Where(c => c.Component is "unet × steps" or "scheduler × steps").ToList();
        long stepFlops = perStep.Sum(c => c.Flops) / r.Steps;
        double stepSecs = perStep.Sum(c => project(c.ByKind)) / r.Steps;
        var fixedParts = r.Components.Where(c => c.Component is not ("unet pass" or "unet × steps" or "scheduler × steps")).ToList();
        long fixedFlops = fixedParts.Sum(c => c.Flops);
        double fixedSecs = fixedParts.Sum(c => project(c.ByKind));
        var bySteps = new[] { 1, 2, 4, 8, 10, 20, 30, 40, 50 }.Select(n => new StepPoint(n, fixedFlops + stepFlops * n, fixedSecs + stepSecs * n)).ToList();
        return new PresetRun(name, r.Model, r.Width, r.Height, r.Steps, r.Guidance, r.UnetEvaluationsPerStep, r.Total.Flops, r.Total.MatmulFlops,
            project(r.Total.ByKind), comps, bySteps);
    }

    /// <summary>Rates per kind from a measured ledger: each kind's summed launch time and counted work.</summary>
    internal static IReadOnlyList<KindRate> MeasuredRates(Ledger ledger)
    {
        var kinds = CostCommand.ByKind(ledger);
        var secs = ledger.ByOp().GroupBy(o => CostCommand.KindOf(o.Op)).ToDictionary(g => g.Key, g => g.Sum(o => o.Elapsed.TotalSeconds));
        return kinds.Select(k =>
        {
            bool flops = k.Kind is "conv" or "linear/gemm" or "attention";
            double sec = secs.GetValueOrDefault(k.Kind);
            long work = flops ? k.Flops : k.Bytes;
            return new KindRate(k.Kind, flops ? "FLOP/s" : "B/s", sec > 0 && work > 0 ? work / sec : double.PositiveInfinity, sec, work,
                "measured: SD 1.5 UNet pass ledger");
        }).ToList();
    }

    /// <summary>--quick: a 512³ GEMM's FLOP/s for the matmul kinds, a 64 MB add's bytes/s for norms and elementwise.</summary>
    private static IReadOnlyList<KindRate> QuickRates(IAccelerator acc)
    {
        using var a = acc.Allocate(512, 512);
        using var b = acc.Allocate(512, 512);
        using var c = acc.Allocate(512, 512);
        Ops.FillUniform(acc, a, 1);
        Ops.FillUniform(acc, b, 2);
        using var x = acc.Allocate(4 << 20);
        using var y = acc.Allocate(4 << 20);
        Ops.FillUniform(acc, x, 3);
        acc.Ledger.Clear();
        Ops.Gemm(acc, a, b, c);
        Ops.Add(acc, x, x, y);
        acc.Synchronize();
        var gemm = acc.Ledger.Entries[0].Cost;
        var add = acc.Ledger.Entries[1].Cost;
        acc.Ledger.Enabled = false;
        var tg = Timing.Measure(() => Ops.Gemm(acc, a, b, c), acc.Synchronize, minSeconds: 0.2);
        var ta = Timing.Measure(() => Ops.Add(acc, x, x, y), acc.Synchronize, minSeconds: 0.2);
        acc.Ledger.Enabled = true;
        return CostCommand.Kinds.Select(k => k is "conv" or "linear/gemm" or "attention"
            ? new KindRate(k, "FLOP/s", gemm.Flops / tg.Median, tg.Median, gemm.Flops, "--quick: 512³ Ops.Gemm")
            : new KindRate(k, "B/s", add.Bytes / ta.Median, ta.Median, add.Bytes, "--quick: 64 MB Ops.Add")).ToList();
    }

    /// <summary>One SD 1.5-shaped UNet pass on the 64×64×4 latent and on the 512×512×3 image itself (a pixel-space UNet:
    /// in/out channels 3, same widths), counted on the meta accelerator; attention's matmuls (quadratic in tokens) apart.</summary>
    internal static IReadOnlyList<SpaceCost> PixelVsLatent()
    {
        var sd15 = UnetConfig.Preset("sd15");
        var list = new List<SpaceCost>();
        foreach (var (space, cfg, side, ch, note) in new[]
        {
            ("latent", sd15, 64, 4, "SD 1.5 as shipped: 64×64×4 latent (VAE ÷8); 4,096 tokens at the first attention level"),
            ("pixel", sd15 with { InChannels = 3, OutChannels = 3, SampleSize = 512 }, 512, 3,
                "the same UNet run on the 512×512×3 image: 262,144 tokens at the first attention level — counted, never run"),
        })
        {
            using var meta = new MetaAccelerator();
            var (pass, _) = CostCommand.UnetPass(meta, cfg, 1, side, side, $"one evaluation, batch 1, {space} {side}×{side}×{ch}");
            long attn = pass.ByKind!.First(k => k.Kind == "attention").MatmulFlops;
            list.Add(new SpaceCost(space, $"{side}×{side}×{ch}", (long)side * side * ch, pass.MatmulFlops, attn, pass.MatmulFlops - attn, pass.Flops,
                pass.PeakActivationBytes ?? 0, note));
        }
        return list;
    }

    // ---- pictures ----

    /// <summary>RGB8 pixels, row-major.</summary>
    internal sealed record RgbBytes(int Width, int Height, byte[] Pixels);

    private static Pictures MakePictures(IAccelerator acc, Settings s, float[]? userImage, Func<string, RgbBytes, string> save)
    {
        int n = s.PictureSize;
        var clean = userImage ?? ProceduralScene.Render(n, n);
        using var x0 = acc.FromArray(clean, 1, 3, n, n);
        var forward = new List<FramePicture>();
        foreach (var (schedule, file) in DiffusionPictures.Schedules.Zip(new[] { "forward_scaled_linear.png", "forward_linear.png" }))
        {
            var frames = DiffusionPictures.Forward(acc, x0, schedule, DiffusionPictures.DefaultTimesteps, s.Seed);
            save(file, Strip(frames.Select(f => ToRgb(f.Image, n)).ToList()));
            forward.AddRange(frames.Select(f => new FramePicture(f.Schedule, f.Timestep, f.AlphaBar, Math.Sqrt(f.AlphaBar), Math.Sqrt(1 - f.AlphaBar))));
        }
        var chains = new List<ChainPicture>();
        foreach (var (scale, name, file) in new[] { (1f, "oracle", "oracle.png"), (0.5f, "half noise", "wrong_half_noise.png"), (0f, "zero noise", "wrong_zero_noise.png") })
        {
            var chain = DiffusionPictures.Reverse(acc, x0, 10, scale, s.Seed, name);
            save(file, Strip(chain.Frames.Select(f => ToRgb(f, n)).Append(ToRgb(clean, n)).ToList()));
            chains.Add(new ChainPicture(chain.Name, chain.NoiseEstimate, chain.Timesteps, chain.MaxAbsError, chain.MeanAbsError, file));
        }
        var t = Enumerable.Range(0, 1000).ToArray();
        var schedules = DiffusionPictures.Schedules.Select(c => new ScheduleSeries(c.Name, c.BetaSchedule, c.BetaStart, c.BetaEnd, t, c.AlphaBar)).ToList();
        return new Pictures(userImage is null ? $"built-in scene {n}×{n}" : $"{Path.GetFullPath(s.Image!)} resized to {n}×{n}", n, forward, chains, schedules);
    }

    /// <summary>[3,n,n] in [−1,1] → RGB8 by round((v + 1)/2·255), clamped.</summary>
    private static RgbBytes ToRgb(float[] chw, int n)
    {
        var px = new byte[n * n * 3];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < n * n; i++)
                px[i * 3 + c] = (byte)Math.Clamp(Math.Round((chw[c * n * n + i] + 1) * 0.5 * 255), 0, 255);
        return new RgbBytes(n, n, px);
    }

    /// <summary>Tiles side by side with a 4-pixel white gap.</summary>
    private static RgbBytes Strip(IReadOnlyList<RgbBytes> tiles)
    {
        const int gap = 4;
        int h = tiles.Max(t => t.Height), w = tiles.Sum(t => t.Width) + gap * (tiles.Count - 1);
        var px = new byte[w * h * 3];
        Array.Fill(px, (byte)255);
        int x0 = 0;
        foreach (var t in tiles)
        {
            for (int y = 0; y < t.Height; y++)
                t.Pixels.AsSpan(y * t.Width * 3, t.Width * 3).CopyTo(px.AsSpan((y * w + x0) * 3));
            x0 += t.Width + gap;
        }
        return new RgbBytes(w, h, px);
    }

    /// <summary>A PNG → [3,n,n] in [−1,1], resized (nearest) to n×n. Problems are one CliException naming the file.</summary>
    private static float[] LoadImage(string path, int n)
    {
        byte[] file;
        try { file = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"--image '{path}': cannot read it ({e.Message})"); }
        (byte[] Pixels, int Width, int Height, PngColor Color) png;
        try { png = Png.Decode(file); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or NotSupportedException)
        { throw new CliException($"--image '{path}': not a PNG we can read ({e.Message})"); }
        int ch = Png.Channels(png.Color);
        var img = new float[3 * n * n];
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                int sy = (int)((y + 0.5) * png.Height / n), sx = (int)((x + 0.5) * png.Width / n);
                int o = (sy * png.Width + sx) * ch;
                for (int c = 0; c < 3; c++)
                    img[c * n * n + y * n + x] = png.Pixels[o + (ch >= 3 ? c : 0)] / 127.5f - 1f;
            }
        return img;
    }

    /// <summary>Null when the folder can be created and a file written in it; otherwise why not.</summary>
    private static string? ProbeWritable(string dir)
    {
        if (File.Exists(dir)) return "exists and is a file, not a folder";
        try
        {
            Directory.CreateDirectory(dir);
            string probe = Path.Combine(dir, $".pixelcost-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return $"cannot write there ({e.Message})";
        }
    }

    // ---- terminal ----

    private static void Write(TourReport r, TextWriter stdout)
    {
        var console = PixelsCommand.MakeConsole(stdout);
        console.WriteLine($"pixelcost tour — {r.Accelerator} on {r.Machine}, seed {r.Seed}; weights: random");
        var t = new Table().Border(TableBorder.Rounded).Title("The cost ladder: from random pixels to a coherent image");
        foreach (var c in new[] { "rung", "FLOPs (counted)", "seconds", "", "joules", "× random: FLOPs", "seconds", "joules" })
            t.AddColumn(new TableColumn(c) { Alignment = c is "rung" or "" ? Justify.Left : Justify.Right });
        foreach (var row in r.Ladder)
            t.AddRow(Markup.Escape(row.Name), Sci(row.Flops), Secs(row.Seconds), row.SecondsKind, row.Joules is { } j ? $"{j:G3} J {row.JoulesKind.Split(' ')[0]}" : "–",
                Ratio(row.FlopRatio), Ratio(row.SecondsRatio), row.JoulesRatio is { } jr ? Ratio(jr) : "–");
        t.Caption(Markup.Escape($"time: {r.ThroughputSource}. Joules: {(r.EnergyNote is null ? r.EnergyMeter : "not measured: " + r.EnergyNote)}."));
        console.Write(t);
        var a = new Table().Border(TableBorder.Rounded).Title("The audit: popular claims beside our numbers");
        foreach (var c in new[] { "claim", "ours", "how", "claim ÷ ours", "verdict" })
            a.AddColumn(new TableColumn(c) { Alignment = c is "claim ÷ ours" or "ours" ? Justify.Right : Justify.Left });
        foreach (var row in r.Audit)
            a.AddRow(Markup.Escape(row.Claim.ClaimText), row.Ours is { } o ? Quantity(o, row.Claim.Unit) : "–", Markup.Escape(row.OursWhat),
                row.Ratio is { } q ? q.ToString("G3") : "–", Markup.Escape(row.Verdict));
        console.Write(a);
        foreach (var c in r.Pictures.Reverse)
            console.WriteLine($"reverse DDIM, 10 steps, fed {c.NoiseEstimate}: max |x̂₀ − x₀| = {c.MaxAbsError:G3}, mean {c.MeanAbsError:G3} (pixel values in [−1, 1])");
        var lat = r.PixelVsLatent[0];
        var pix = r.PixelVsLatent[1];
        console.WriteLine($"pixel vs latent: one SD 1.5-shaped UNet pass on {pix.Shape} = {pix.Values:N0} values costs {Sci(pix.MatmulFlops)} matmul FLOPs " +
            $"({Sci(pix.AttentionMatmulFlops)} in attention) vs {Sci(lat.MatmulFlops)} on the {lat.Shape} latent = {lat.Values:N0} values — {(double)pix.MatmulFlops / lat.MatmulFlops:N0}×.");
        console.WriteLine($"report: {Path.Combine(r.OutputFolder, "report.json")} ({r.Files.Count} files in {r.OutputFolder}); tour took {r.TourSeconds:F1} s" +
            (r.WeightBuildSeconds is { } b ? $" (building random weights: {b:F1} s)" : ""));
    }

    private static string Sci(double v) => v == 0 ? "0" : v < 1e4 ? v.ToString("G4") : v.ToString("0.00e0");
    private static string Secs(double s) => s >= 1 ? $"{s:F2} s" : s >= 1e-3 ? $"{s * 1e3:F2} ms" : $"{s * 1e6:F1} µs";
    private static string Ratio(double r) => r < 100 ? $"{r:G3}×" : r < 1e4 ? $"{r:N0}×" : $"{r:0.0e0}×";
    private static string Quantity(double v, string unit) => unit switch { "s" => Secs(v), "W" => $"{v:G3} W", "×" => Ratio(v), _ => Sci(v) };
}
