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
            var s = new Settings(pr.GetValue(output)!, pr.GetValue(image), pr.GetValue(accelerator)!, pr.GetValue(json), pr.GetValue(seed),
                pr.GetValue(quick), pr.GetValue(threads), 256);
            using var progress = ProgressLine.Start("tour", stderr, quiet: s.Json);
            var report = Run(s, line => { Cli.ThrowIfInterrupted(); progress.Step(line); });
            progress.Clear();
            if (s.Json) stdout.WriteLine(JsonSerializer.Serialize(report, KernelBench.JsonOptions));
            else Write(report, stdout);
            return 0;
        });
        return cmd;
    }

    // ---- the report ----

    /// <summary>Work per op kind ÷ time: FLOP/s for conv, linear/gemm, attention; bytes/s for norm and elementwise (memory-bound).</summary>
    internal sealed record KindRate(string Kind, string Unit, double Rate, double Seconds, long Work, string Source);

    /// <summary>One rung of the ladder. Seconds and joules are measured or projected as <c>SecondsKind</c>/<c>JoulesKind</c> say.</summary>
    internal sealed record LadderRow(string Name, string Short, string What, long Flops, long MatmulFlops, string FlopsKind, double Seconds, string SecondsKind,
        double? Joules, string JoulesKind, double FlopRatio, double SecondsRatio, double? JoulesRatio);

    internal sealed record ComponentShare(string Component, long Flops, double ProjectedSeconds, string? Note);

    internal sealed record StepPoint(int Steps, long Flops, double ProjectedSeconds);

    internal sealed record PresetRun(string Name, string Short, string Model, int Width, int Height, int Steps, double Guidance, int UnetEvaluationsPerStep,
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
    internal static readonly (string Name, string Short, string Model, int Size, int Steps, double Guidance)[] LadderPresets =
    [
        ("SD-Turbo, 1 step", "Turbo ×1", "sd-turbo", 512, 1, 0),
        ("LCM (SD 1.5), 4 steps, no CFG", "LCM ×4", "sd15", 512, 4, 0),
        ("SD 1.5, 20 steps, CFG 7.5", "SD1.5 ×20", "sd15", 512, 20, 7.5),
        ("SDXL 1024², 30 steps, CFG 5", "SDXL ×30", "sdxl", 1024, 30, 5),
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
        string dir = Cli.WritableFolder(s.Out, "--out");
        var accs = Accelerators.Open(s.Accelerator, s.Threads, 0, progress);
        if (accs.Count != 1)
        {
            foreach (var a in accs) a.Dispose();
            throw new CliException($"--accelerator '{s.Accelerator}': the tour runs on one accelerator (cpu, ilgpu-cpu, cuda:N)");
        }
        using var acc = accs[0];
        if (acc.Kind == AcceleratorKind.IlgpuCpu && !s.Quick)
            throw new CliException("--accelerator ilgpu-cpu simulates every GPU thread on the host (one SD 1.5 UNet pass takes ~9 minutes there); add --quick");
        var meter = KernelBench.EnergyMeterFor(acc);
        var files = new List<string>();
        string Save(string name, RgbImage img, string what)
        {
            Png.Write(Path.Combine(dir, name), img, new Dictionary<string, string> { ["Title"] = what, ["Software"] = "pixelcost tour" });
            files.Add(name);
            return name;
        }

        // 1. The bottom of the ladder: the pixel maps, measured.
        progress("tour [1/5] pixel maps 1024², measured…");
        const int side = 1024;
        var maps = new (string Name, string Short, string File, string Op, Action<Tensor> Launch)[]
        {
            ("random pixel map 1024²", "random", "01_random_noise.png", "Ops.PixelsNoise", t => Ops.PixelsNoise(acc, t, s.Seed)),
            ("smooth noise map 1024²", "smooth", "02_smooth_noise.png", "Ops.PixelsSmoothNoise (scale 64)", t => Ops.PixelsSmoothNoise(acc, t, s.Seed, 64)),
            ("gradient map 1024²", "gradient", "03_gradient.png", "Ops.PixelsGradient", t => Ops.PixelsGradient(acc, t)),
        };
        var measured = new List<(string Name, string Short, string What, Cost Cost, double Seconds, double? Joules, string? Note)>();
        using (var img = acc.Allocate(side, side, 3))
        using (var q = acc.Allocate(DType.U8, side, side, 3))
        {
            foreach (var (name, shortName, file, op, launch) in maps)
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
                measured.Add((name, shortName, $"{side}×{side} RGB, {op} (median of {t.Repeats})",
                    spec, t.Median, joules, note));
                Ops.QuantizeU8(acc, img, q);
                var bytes = new byte[q.Length];
                acc.Download<byte>(q, bytes);
                Save(file, new RgbImage(side, side, bytes), $"{name}: {side}×{side}, seed {s.Seed}");
            }
        }
        var random = measured[0];
        var px = new PixelMeasurements(side, side, random.Cost.Flops, random.Seconds, random.Joules is { } rj ? rj / random.Seconds : null,
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
            // Warm-up at an 8×8 latent: every kernel the pass uses gets compiled (JIT, or ILGPU's kernel compile) for a
            // few percent of the pass's work, so the timed pass measures the kernels, not the compiler.
            progress("  warm-up pass at an 8×8 latent (compiles every kernel once)…");
            using (var wx = acc.Allocate(1, 4, 8, 8))
            {
                Ops.FillGaussian(acc, wx, s.Seed, stream: 3);
                using (unet.Forward(wx, ts, ctx)) acc.Synchronize();
            }
            acc.Ledger.Clear();
            var window = meter.Unavailable is null ? meter.Start() : null;
            sw.Restart();
            using (unet.Forward(x, ts, ctx)) acc.Synchronize();
            unetSeconds = sw.Elapsed.TotalSeconds;
            var energy = window?.Stop();
            unetJoules = energy?.Joules;
            unetNote = unetJoules is null ? energy?.NotMeasuredReason ?? meter.Unavailable : null;
            rates = MeasuredRates(acc.Ledger);
            source = $"measured: one SD 1.5 UNet pass at 512², batch 1, random weights, {unetSeconds:F2} s on {acc.Name} (after a warm-up pass at an 8×8 latent), per-kind time from its ledger";
            progress($"  UNet pass {unetSeconds:F2} s");
        }
        acc.TrimPool();

        // 4. Counted runs (meta pass), projected times, the audit, pixel vs latent.
        progress("tour [4/5] counting whole runs (shape-only passes) and the audit…");
        // A component's counted work per kind ÷ that kind's rate. A component counted without a per-kind split (a text
        // encoder row: transformer layers, almost all linear) is projected at the linear/gemm rate.
        double Project(CostCommand.ComponentCost c) => c.ByKind is null
            ? c.Flops / rates.First(x => x.Kind == "linear/gemm").Rate
            : c.ByKind.Sum(k =>
            {
                var r = rates.First(x => x.Kind == k.Kind);
                double work = r.Unit == "FLOP/s" ? k.Flops : k.Bytes;
                return work == 0 ? 0 : work / r.Rate;
            });
        double ProjectRun(CostCommand.CostReport r) => r.Components.Where(c => c.Component != "unet pass").Sum(Project);
        double? watts = unetJoules is { } uj && unetSeconds is { } us ? uj / us : null;
        var ladder = new List<LadderRow>();
        void Add(string name, string shortName, string what, long flops, long mm, string flopsKind, double secs, string secsKind, double? joules, string joulesKind)
            => ladder.Add(new LadderRow(name, shortName, what, flops, mm, flopsKind, secs, secsKind, joules, joulesKind,
                (double)flops / random.Cost.Flops, secs / random.Seconds, joules is { } j && random.Joules is { } r0 ? j / r0 : null));
        foreach (var m in measured)
            Add(m.Name, m.Short, m.What, m.Cost.Flops, m.Cost.MatmulFlops, "counted", m.Seconds, "measured", m.Joules,
                m.Joules is null ? $"not measured: {m.Note}" : "measured");
        string noJ = $"not measured: {unetNote ?? meter.Unavailable ?? "no energy meter"}";
        if (unetSeconds is { } useconds)
            Add("SD 1.5 UNet pass, 512², batch 1", "UNet pass", "one evaluation, random weights (speed does not depend on values)", sd15Pass.Flops, sd15Pass.MatmulFlops,
                "counted", useconds, "measured", unetJoules, unetJoules is null ? noJ : "measured");
        else
            Add("SD 1.5 UNet pass, 512², batch 1", "UNet pass", "one evaluation (--quick: not run)", sd15Pass.Flops, sd15Pass.MatmulFlops, "counted",
                Project(sd15Pass), "projected", null, "not measured: --quick");
        var vae = cost("sd15", 512, 512, 1, 0).Components.First(c => c.Component == "vae decoder");
        double vaeSecs = Project(vae);
        Add("SD 1.5 VAE decode, 64² → 512²", "VAE decode", "the decoder alone", vae.Flops, vae.MatmulFlops, "counted", vaeSecs, "projected",
            watts * vaeSecs, watts is null ? noJ : "projected (measured UNet power × projected time)");
        var presets = new List<PresetRun>();
        foreach (var (name, shortName, model, size, steps, guidance) in LadderPresets)
        {
            var r = cost(model, size, size, steps, guidance);
            double secs = ProjectRun(r);
            Add(name, shortName, $"{model} {size}², whole run: UNet × steps{(r.UnetEvaluationsPerStep > 1 ? " × 2 (CFG)" : "")} + scheduler + VAE decode",
                r.Total.Flops, r.Total.MatmulFlops, "counted", secs, "projected", watts * secs,
                watts is null ? noJ : "projected (measured UNet power × projected time)");
            presets.Add(Preset(name, shortName, r, Project, secs));
        }
        ladder.Sort((a, b) => a.Flops.CompareTo(b.Flops));
        var audit = Tour.Audit.Run(Tour.Audit.Claims, cost, px);
        var spaces = PixelVsLatent();

        // 5. The report files.
        progress("tour [5/5] charts, report.html, report.json…");
        var report = new TourReport(KernelBench.MachineName(), acc.Name, s.Seed, dir, s.Quick,
            "random (deterministic Philox; cost and speed do not depend on weight values — pictures from a real model are not part of the tour)",
            buildSeconds, source, rates, ladder, audit, presets, spaces, pictures, meter.Name, meter.Unavailable, files, 0,
            "FLOPs counted from the ops' Specs (matmul = 2 per multiply-accumulate, bias adds excluded; FLOPs = matmul + other); " +
            "seconds measured (median of repeats, or one UNet evaluation) or projected (counted work per op kind ÷ the measured rate of that kind)");
        WriteCharts(dir, report, files);
        files.Add("report.html");
        files.Add("report.json");
        report = report with { Files = files.ToList(), TourSeconds = clock.Elapsed.TotalSeconds };
        WriteHtml(Path.Combine(dir, "report.html"), report);
        AtomicFile.WriteAllText(Path.Combine(dir, "report.json"), JsonSerializer.Serialize(report, KernelBench.JsonOptions));
        return report;
    }

    private static PresetRun Preset(string name, string shortName, CostCommand.CostReport r, Func<CostCommand.ComponentCost, double> project, double seconds)
    {
        var comps = r.Components.Where(c => c.Component != "unet pass")
            .Select(c => new ComponentShare(c.Component, c.Flops, project(c), c.Note)).ToList();
        // FLOPs and time are linear in steps: per-step = UNet × CFG + scheduler; fixed = VAE (+ text encoder).
        var perStep = r.Components.Where(c => c.Component is "unet × steps" or "scheduler × steps").ToList();
        long stepFlops = perStep.Sum(c => c.Flops) / r.Steps;
        double stepSecs = perStep.Sum(project) / r.Steps;
        var fixedParts = r.Components.Where(c => c.Component is not ("unet pass" or "unet × steps" or "scheduler × steps")).ToList();
        long fixedFlops = fixedParts.Sum(c => c.Flops);
        double fixedSecs = fixedParts.Sum(project);
        var bySteps = new[] { 1, 2, 4, 8, 10, 20, 30, 40, 50 }.Select(n => new StepPoint(n, fixedFlops + stepFlops * n, fixedSecs + stepSecs * n)).ToList();
        return new PresetRun(name, shortName, r.Model, r.Width, r.Height, r.Steps, r.Guidance, r.UnetEvaluationsPerStep, r.Total.Flops, r.Total.MatmulFlops,
            seconds, comps, bySteps);
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

    private static Pictures MakePictures(IAccelerator acc, Settings s, float[]? userImage, Func<string, RgbImage, string, string> save)
    {
        int n = s.PictureSize;
        var clean = userImage ?? ProceduralScene.Render(n, n);
        using var x0 = acc.FromArray(clean, 1, 3, n, n);
        var forward = new List<FramePicture>();
        foreach (var (schedule, file) in DiffusionPictures.Schedules.Zip(new[] { "forward_scaled_linear.png", "forward_linear.png" }))
        {
            var frames = DiffusionPictures.Forward(acc, x0, schedule, DiffusionPictures.DefaultTimesteps, s.Seed);
            save(file, ContactSheet.Compose(frames.Select(f => f.Picture).ToList(), frames.Count, frames.Select(f => $"t = {f.Timestep}, ᾱ = {f.AlphaBar:0.000}").ToList()),
                $"forward diffusion, {schedule.Name}: x_t = √ᾱ·x₀ + √(1 − ᾱ)·ε");
            forward.AddRange(frames.Select(f => new FramePicture(f.Schedule, f.Timestep, f.AlphaBar, Math.Sqrt(f.AlphaBar), Math.Sqrt(1 - f.AlphaBar))));
        }
        var chains = new List<ChainPicture>();
        foreach (var (scale, name, file) in new[] { (1f, "oracle", "oracle.png"), (0.5f, "half noise", "wrong_half_noise.png"), (0f, "zero noise", "wrong_zero_noise.png") })
        {
            var chain = DiffusionPictures.Reverse(acc, x0, 10, scale, s.Seed, name);
            var captions = chain.Timesteps.Select(t => $"after t = {t}").Prepend($"start: x_{chain.Timesteps[0]}").Append("x₀ (the picture)").ToList();
            save(file, ContactSheet.Compose(chain.Pictures.Append(RgbImage.FromTensor(x0)).ToList(), chain.Pictures.Count + 1, captions),
                $"reverse DDIM, 10 steps, fed {chain.NoiseEstimate}: max |x̂₀ − x₀| = {chain.MaxAbsError:G3}");
            chains.Add(new ChainPicture(chain.Name, chain.NoiseEstimate, chain.Timesteps, chain.MaxAbsError, chain.MeanAbsError, file));
        }
        var t = Enumerable.Range(0, 1000).ToArray();
        var schedules = DiffusionPictures.Schedules.Select(c => new ScheduleSeries(c.Name, c.BetaSchedule, c.BetaStart, c.BetaEnd, t, c.AlphaBar)).ToList();
        return new Pictures(userImage is null ? $"built-in scene {n}×{n}" : $"{Path.GetFullPath(s.Image!)} resized to {n}×{n}", n, forward, chains, schedules);
    }

    /// <summary>Any image ImageSharp reads → [3,n,n] in [−1,1], resized to n×n. Problems are one CliException naming the file.</summary>
    private static float[] LoadImage(string path, int n)
    {
        RgbImage img;
        try { img = RgbImage.Load(path).Resize(n, n); }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        { throw new CliException($"--image '{path}': {e.Message}"); }
        var chw = new float[3 * n * n];
        for (int p = 0; p < n * n; p++)
            for (int c = 0; c < 3; c++)
                chw[c * n * n + p] = img.Pixels[3 * p + c] / 127.5f - 1f;
        return chw;
    }

    // ---- charts and the HTML report ----

    private static void WriteCharts(string dir, TourReport r, List<string> files)
    {
        void Add(ChartFiles c) { files.Add(Path.GetFileName(c.Png)); files.Add(Path.GetFileName(c.Svg)); }
        string P(string name) => Path.Combine(dir, name);
        var series = new List<ChartSeries>();
        foreach (var sch in r.Pictures.Schedules)
        {
            double[] t = sch.T.Select(v => (double)v).ToArray();
            series.Add(new ChartSeries($"ᾱ_t, {sch.Name}", t, sch.AlphaBar));
            series.Add(new ChartSeries($"√ᾱ_t (signal), {sch.Name}", t, sch.AlphaBar.Select(Math.Sqrt).ToArray()));
            series.Add(new ChartSeries($"√(1 − ᾱ_t) (noise), {sch.Name}", t, sch.AlphaBar.Select(a => Math.Sqrt(1 - a)).ToArray()));
        }
        Add(Charts.Lines(P("chart_schedules"), "How much picture is left at step t", "timestep t", "coefficient", series));
        var names = r.Ladder.Select(l => l.Short).ToList();
        Add(Charts.Bar(P("chart_ladder_flops"), "The cost ladder: FLOPs (counted)", "FLOPs (log scale)", names, r.Ladder.Select(l => (double)l.Flops).ToList(), logY: true));
        Add(Charts.Bar(P("chart_ladder_seconds"), $"The cost ladder: seconds on {r.Accelerator} (measured or projected)", "seconds (log scale)", names,
            r.Ladder.Select(l => l.Seconds).ToList(), logY: true));
        Add(Charts.Lines(P("chart_steps_flops"), "FLOPs against steps (counted)", "steps", "FLOPs (log scale)",
            r.Presets.Select(p => new ChartSeries(p.Name, p.BySteps.Select(b => (double)b.Steps).ToArray(), p.BySteps.Select(b => (double)b.Flops).ToArray())).ToList(), logY: true));
        Add(Charts.Lines(P("chart_steps_seconds"), $"Seconds against steps (projected, {r.Accelerator})", "steps", "seconds (log scale)",
            r.Presets.Select(p => new ChartSeries(p.Name, p.BySteps.Select(b => (double)b.Steps).ToArray(), p.BySteps.Select(b => b.ProjectedSeconds).ToArray())).ToList(), logY: true));
        // Shares of each run: the UNet, scheduler and VAE rows, and every other row (the text encoder(s)) together.
        string[] denoise = ["unet × steps", "scheduler × steps", "vae decoder"];
        double Share(PresetRun p, Func<ComponentShare, bool> which) => 100.0 * p.Components.Where(which).Sum(c => (double)c.Flops) / p.Flops;
        Add(Charts.StackedBars(P("chart_components"), "Where the FLOPs go (share of each run, counted)", "% of the run's FLOPs",
            r.Presets.Select(p => p.Short).ToList(),
            [
                ("text encoder", r.Presets.Select(p => Share(p, c => !denoise.Contains(c.Component))).ToArray()),
                ("UNet × steps × CFG", r.Presets.Select(p => Share(p, c => c.Component == "unet × steps")).ToArray()),
                ("scheduler", r.Presets.Select(p => Share(p, c => c.Component == "scheduler × steps")).ToArray()),
                ("VAE decode", r.Presets.Select(p => Share(p, c => c.Component == "vae decoder")).ToArray()),
            ]));
        var sp = r.PixelVsLatent;
        Add(Charts.Bar(P("chart_pixel_vs_latent"), "One SD 1.5-shaped UNet pass: latent vs pixel space (matmul FLOPs, counted)", "matmul FLOPs (log scale)",
            sp.SelectMany(x => new[] { $"{x.Space}: conv+linear", $"{x.Space}: attention" }).ToList(),
            sp.SelectMany(x => new[] { (double)Math.Max(x.ConvLinearMatmulFlops, 1), (double)Math.Max(x.AttentionMatmulFlops, 1) }).ToList(), logY: true));
    }

    private static void WriteHtml(string path, TourReport r)
    {
        var h = new HtmlReport("pixelcost tour — why a coherent image costs so much more than random pixels");
        h.Paragraph($"Run on {r.Accelerator} ({r.Machine}), seed {r.Seed}, in {r.TourSeconds:F1} s. Weights: {r.Weights}. " +
            $"FLOPs are counted from the ops' specs; seconds are measured where the table says so and otherwise projected: {r.ThroughputSource}. " +
            $"Energy: {(r.EnergyNote is null ? r.EnergyMeter : "not measured: " + r.EnergyNote)}.");
        h.Heading("The cost ladder");
        h.Table("From a random pixel map to a coherent image", ["rung", "what", "FLOPs (counted)", "seconds", "how", "joules", "× random (FLOPs)", "× random (seconds)", "× random (joules)"],
            r.Ladder.Select(l => (IReadOnlyList<string>)[l.Name, l.What, Sci(l.Flops), Secs(l.Seconds), l.SecondsKind, l.Joules is { } j ? $"{j:G3} J" : "–", Ratio(l.FlopRatio),
                Ratio(l.SecondsRatio), l.JoulesRatio is { } jr ? Ratio(jr) : "–"]).ToList(),
            $"joules: {r.Ladder.Select(l => l.JoulesKind).Distinct().Aggregate((a, b) => a + "; " + b)}");
        h.Images([("chart_ladder_flops.png", "FLOPs, counted (log scale)"), ("chart_ladder_seconds.png", "seconds: the pixel maps and the UNet pass measured, the rest projected (log scale)")]);
        h.Heading("Where the cost goes");
        h.Paragraph("A whole run is the UNet once per step (twice with classifier-free guidance, batched), a tiny scheduler update per step and one VAE decode. " +
            "FLOPs and time grow linearly with steps; the VAE decode is the fixed part.");
        h.Table("Whole runs (counted; seconds projected)", ["run", "size", "steps", "UNet evaluations per step", "FLOPs", "matmul FLOPs", "projected seconds"],
            r.Presets.Select(p => (IReadOnlyList<string>)[p.Name, $"{p.Width}×{p.Height}", p.Steps.ToString(), p.UnetEvaluationsPerStep.ToString(), Sci(p.Flops), Sci(p.MatmulFlops),
                Secs(p.ProjectedSeconds)]).ToList());
        h.Images([("chart_components.png", "share of FLOPs per component"), ("chart_steps_flops.png", "FLOPs against steps"), ("chart_steps_seconds.png", "projected seconds against steps")]);
        h.Table("Throughput per op kind (what the projections use)", ["kind", "rate", "seconds", "work", "source"],
            r.Rates.Select(k => (IReadOnlyList<string>)[k.Kind, k.Unit == "FLOP/s" ? $"{k.Rate / 1e9:F1} GFLOP/s" : $"{k.Rate / 1e9:F1} GB/s", Secs(k.Seconds),
                k.Unit == "FLOP/s" ? $"{Sci(k.Work)} FLOP" : $"{Sci(k.Work)} B", k.Source]).ToList());
        h.Heading("The audit: popular claims beside our numbers");
        h.Table("Claims (src/Harness/Tour/claims.json)", ["claim", "implies", "heard", "ours", "how", "claim ÷ ours", "verdict"],
            r.Audit.Select(a => (IReadOnlyList<string>)[a.Claim.ClaimText, a.Claim.Implies, a.Claim.Heard, a.Ours is { } o ? Quantity(o, a.Claim.Unit) : "–", a.OursWhat,
                a.Ratio is { } q ? q.ToString("G3") : "–", a.Verdict]).ToList());
        h.Heading("How diffusion works (pixel space, no network)");
        h.Paragraph($"Forward diffusion: the picture ({r.Pictures.Source}) noised as x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε with one Philox ε, under SD's scaled-linear and DDPM's linear schedules.");
        h.Image("forward_scaled_linear.png", "scaled-linear schedule (Stable Diffusion): t = 0, 100, …, 900, 999");
        h.Image("forward_linear.png", "linear schedule (DDPM)");
        h.Image("chart_schedules.png", "ᾱ_t, √ᾱ_t (how much picture) and √(1 − ᾱ_t) (how much noise) against t");
        foreach (var c in r.Pictures.Reverse)
            h.Image(c.File, $"reverse DDIM, 10 steps, fed {c.NoiseEstimate}: max |x̂₀ − x₀| = {c.MaxAbsError:G3}, mean {c.MeanAbsError:G3}");
        h.Paragraph("Fed the true noise, the reverse chain lands back on the picture to float rounding. Fed a wrong estimate it does not: " +
            "predicting the noise of an image it has never seen is the network's whole job, and what the UNet's FLOPs pay for.");
        h.Heading("Pixel space vs latent space");
        h.Table("One SD 1.5-shaped UNet pass (counted on the shape-only accelerator)", ["space", "shape", "values", "matmul FLOPs", "of which attention", "conv + linear", "peak activations", "note"],
            r.PixelVsLatent.Select(x => (IReadOnlyList<string>)[x.Space, x.Shape, x.Values.ToString("N0"), Sci(x.MatmulFlops), Sci(x.AttentionMatmulFlops), Sci(x.ConvLinearMatmulFlops),
                $"{x.PeakActivationBytes / 1e9:F2} GB", x.Note]).ToList(),
            "attention's matmuls grow with the square of the tokens: 64× the pixels is 4,096× the attention work");
        h.Image("chart_pixel_vs_latent.png", "matmul FLOPs of one pass, conv + linear vs attention (log scale)");
        h.Heading("The pixel maps (the bottom of the ladder)");
        h.Images([("01_random_noise.png", "random (Philox) noise"), ("02_smooth_noise.png", "smooth value noise"), ("03_gradient.png", "gradient")]);
        h.Paragraph(r.Convention + ".");
        h.Save(path);
    }

    // ---- terminal ----

    private static void Write(TourReport r, TextWriter stdout)
    {
        var console = Terminal.Console(stdout, 160);
        console.WriteLine($"pixelcost tour — {r.Accelerator} on {r.Machine}, seed {r.Seed}; weights: random");
        var t = new Table().Border(TableBorder.Rounded).Title("The cost ladder: from random pixels to a coherent image");
        foreach (var c in new[] { "rung", "FLOPs (counted)", "seconds", "seconds are", "joules", "× random: FLOPs", "seconds", "joules" })
            t.AddColumn(new TableColumn(c) { Alignment = c is "rung" or "seconds are" ? Justify.Left : Justify.Right });
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
        console.WriteLine($"report: {Path.Combine(r.OutputFolder, "report.html")} (and report.json; {r.Files.Count} files in {r.OutputFolder}); tour took {r.TourSeconds:F1} s" +
            (r.WeightBuildSeconds is { } b ? $" (building random weights: {b:F1} s)" : ""));
    }

    private static string Sci(double v) => v == 0 ? "0" : v < 1e4 ? v.ToString("G4") : v.ToString("0.00e0");
    private static string Secs(double s) => s >= 1 ? $"{s:F2} s" : s >= 1e-3 ? $"{s * 1e3:F2} ms" : $"{s * 1e6:F1} µs";
    private static string Ratio(double r) => r < 100 ? $"{r:G3}×" : r < 1e4 ? $"{r:N0}×" : $"{r:0.0e0}×";
    private static string Quantity(double v, string unit) => unit switch { "s" => Secs(v), "W" => $"{v:G3} W", "×" => Ratio(v), _ => Sci(v) };
}
