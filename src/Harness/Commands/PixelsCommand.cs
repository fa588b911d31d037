using System.CommandLine;
using System.Text.Json;
using PixelCost.Harness.Energy;
using PixelCost.Harness.Reporting;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Runtime.Imaging;
using Spectre.Console;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost pixels</c>: makes four synthetic RGB images (Philox noise, smooth value noise, gradient, checkerboard),
/// quantises them to 8 bits, writes PNGs and reports each launch's spec cost (from the accelerator's ledger), median
/// time, rates and energy.
/// </summary>
public static class PixelsCommand
{
    /// <param name="Scale">Null: not given (64, at most half the image's smaller side).</param>
    /// <param name="Cell">Null: not given (as Scale).</param>
    private sealed record Settings(int Width, int Height, string Out, ulong Seed, int Threads, bool Json, int? Scale, int? Cell,
        double MinSeconds, string Simd);

    /// <summary>In-process entry for tests: the same parsing and error lines as <c>pixelcost pixels …</c>.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Cli.RunInProcess(["pixels", .. args], stdout, stderr, Create());

    public static Command Create()
    {
        var width = new Option<int>("--width") { Description = "Image width in pixels", DefaultValueFactory = _ => 1024 };
        var height = new Option<int>("--height") { Description = "Image height in pixels", DefaultValueFactory = _ => 1024 };
        var output = new Option<string>("--out") { Description = "Folder for the PNG files (created if missing)", DefaultValueFactory = _ => "output" };
        var seed = new Option<ulong>("--seed") { Description = "Philox seed (64-bit)", DefaultValueFactory = _ => 42UL };
        var threads = new Option<int>("--threads") { Description = "CPU worker threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON on stdout (and nothing else)" };
        var scale = new Option<int?>("--scale") { Description = "Smooth noise: pixels per lattice cell, 1 … the image's smaller side (default 64, at most half the smaller side)" };
        var cell = new Option<int?>("--cell") { Description = "Checkerboard: cell size in pixels, 1 … the image's smaller side (default 64, at most half the smaller side)" };
        var minSeconds = new Option<double>("--min-seconds") { Description = "Timed work per launch kind (median over repeats)", DefaultValueFactory = _ => 1.0 };
        var simd = Cli.SimdOption();

        var cmd = new Command("pixels", "Random noise, smooth noise, gradient and checkerboard images: counted FLOPs, time, bandwidth, energy, PNGs.");
        foreach (var o in new Option[] { width, height, output, seed, threads, json, scale, cell, minSeconds, simd }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var s = new Settings(pr.GetValue(width), pr.GetValue(height), pr.GetValue(output)!, pr.GetValue(seed), pr.GetValue(threads),
                pr.GetValue(json), pr.GetValue(scale), pr.GetValue(cell), pr.GetValue(minSeconds), pr.GetValue(simd)!);
            return Execute(s, pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error);
        });
        return cmd;
    }

    /// <summary>Bytes the run holds at once: the float image, its 8-bit copy, the PNG (≈ raw size), smooth noise's row table.</summary>
    private static long PeakBytes(long w, long h, int scale) => w * h * 3 * (4 + 1 + 1) + ((h - 1) / scale + 2) * w * 3 * 4;

    private static int Execute(Settings s, TextWriter stdout, TextWriter stderr)
    {
        // Every check before any work or file: no half-written output.
        if (s.Threads <= 0) throw new CliException($"--threads must be ≥ 1 (got {s.Threads})");
        if (s.Width <= 0) throw new CliException($"--width must be ≥ 1 pixel (got {s.Width})");
        if (s.Height <= 0) throw new CliException($"--height must be ≥ 1 pixel (got {s.Height})");
        const int maxSide = 1 << 28; // the pixel ops' limit (PixelsSpec): keeps 2W + 1 and x + y + 1 inside int
        if (s.Width > maxSide) throw new CliException($"--width {s.Width} is too large (at most {maxSide:N0} pixels)");
        if (s.Height > maxSide) throw new CliException($"--height {s.Height} is too large (at most {maxSide:N0} pixels)");
        // A lattice cell or checker cell larger than the image would make a blank (one-colour) image.
        int side = Math.Min(s.Width, s.Height), byDefault = Math.Clamp(side / 2, 1, 64);
        int scale = s.Scale ?? byDefault, cell = s.Cell ?? byDefault;
        if (scale < 1 || scale > side)
            throw new CliException($"--scale must be between 1 and the image's smaller side {side} (--width {s.Width}, --height {s.Height}), got {scale}");
        if (cell < 1 || cell > side)
            throw new CliException($"--cell must be between 1 and the image's smaller side {side} (--width {s.Width}, --height {s.Height}), got {cell}");
        if (!(s.MinSeconds >= 0) || s.MinSeconds > 3600) throw new CliException($"--min-seconds must be between 0 and 3600 (got {s.MinSeconds})");
        int vectorBits = Cli.ParseSimd(s.Simd);

        long values = (long)s.Width * s.Height * 3;
        long floatBytes = values * 4;
        if (values > int.MaxValue)
            throw new CliException($"--width {s.Width} × --height {s.Height} is too large: the RGB float image needs {floatBytes:N0} bytes " +
                $"and at most {int.MaxValue:N0} values ({int.MaxValue / 3:N0} pixels) fit one buffer");
        long need = PeakBytes(s.Width, s.Height, scale);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (need > available * 0.8)
            throw new CliException($"--width {s.Width} × --height {s.Height} needs about {need:N0} bytes ({floatBytes:N0} for the RGB float image); " +
                $"only {available:N0} bytes of memory are available");

        string dir = Cli.WritableFolder(s.Out, "--out");

        using var acc = new CpuAccelerator(s.Threads, vectorBits);
        if (acc.IsVectorPathEmulated)
            stderr.WriteLine($"pixelcost: note: --simd {acc.VectorBits}: this CPU has no native {acc.VectorBits}-bit SIMD; kernels run emulated in software (slow; times are not hardware figures).");
        var (meter, meterNote) = CpuMeter();
        var w = s.Width; var h = s.Height;
        using var img = acc.Allocate(DType.F32, h, w, 3);
        using var q = acc.Allocate(DType.U8, h, w, 3);

        var maps = new (string File, string Title, Action Launch)[]
        {
            ("01_random_noise.png", "Uniform random noise (Philox-4x32-10)", () => Ops.PixelsNoise(acc, img, s.Seed)),
            ("02_smooth_noise.png", $"Smooth value noise (scale {scale} px)", () => Ops.PixelsSmoothNoise(acc, img, s.Seed, scale)),
            ("03_gradient.png", "Gradient (R along x, G along y, B diagonal)", () => Ops.PixelsGradient(acc, img)),
            ("04_checkerboard.png", $"Checkerboard (cell {cell} px)", () => Ops.PixelsCheckerboard(acc, img, cell)),
        };

        var report = new PixelsReport(acc.Name, w, h, s.Seed, s.Threads, dir, meter?.Name ?? "none", meter?.Unavailable ?? meterNote, []);
        var console = s.Json ? null : Terminal.Console(stdout, 160);
        using var progress = ProgressLine.Start("pixels", stderr, s.Json);
        console?.MarkupLine($"[bold]pixelcost pixels[/] — {w}×{h} RGB on {Markup.Escape(acc.Name)}, seed {s.Seed}, output {Markup.Escape(dir)}");

        for (int m = 0; m < maps.Length; m++)
        {
            var (file, title, launch) = maps[m];
            progress.Step($"{file}: timing the map", m + 1, maps.Length);
            var rows = new List<LaunchRow> { Measure(acc, launch, meter, s.MinSeconds) };
            progress.Step($"{file}: timing quantize_u8", m + 1, maps.Length);
            rows.Add(Measure(acc, () => Ops.QuantizeU8(acc, img, q), meter, s.MinSeconds));
            progress.Step($"{file}: writing the PNG", m + 1, maps.Length);
            string path = Path.Combine(dir, file);
            // PNG encoding is not an op on the accelerator: timed once, no FLOPs counted.
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            Png.Write(path, q.AsSpan<byte>(), w, h, PngColor.Rgb);
            double pngSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
            var image = new ImageReport(file, title, path, rows, pngSeconds);
            report.Images.Add(image);
            progress.Clear();
            if (console != null) Print(console, image);
        }

        if (s.Json) stdout.WriteLine(JsonSerializer.Serialize(report, KernelBench.JsonOptions));
        else console!.MarkupLine("[grey]FLOPs are the ops' spec counts (validated in tests against the counting reference); bytes are the spec's " +
            "minimum traffic; rates are spec figures ÷ median time. Transcendentals are listed apart, not folded into FLOPs.[/]");
        return 0;
    }

    private static (IEnergyMeter? Meter, string? Note) CpuMeter() => (EnergyMeters.ForCpu(), null);

    /// <summary>One recorded launch gives the ledger's (op, cost); then repeats are timed with the ledger off.</summary>
    private static LaunchRow Measure(CpuAccelerator acc, Action launch, IEnergyMeter? meter, double minSeconds)
    {
        int before = acc.Ledger.Count;
        launch();
        var entry = acc.Ledger.Entries[before];
        acc.Ledger.Enabled = false;
        try
        {
            int launches = 0;
            var window = meter is { Unavailable: null } ? meter.Start() : null;
            var t = Timing.Measure(() => { launch(); launches++; }, minSeconds);
            var energy = window?.Stop();
            string? note = window is null ? $"not measured: {meter?.Unavailable ?? "no CPU energy meter implemented in this build"}"
                : energy!.Value.Joules is null ? $"not measured: {energy.Value.NotMeasuredReason}" : null;
            double? joules = energy?.Joules is { } j ? j / launches : null;
            var c = entry.Cost;
            return new LaunchRow(entry.Op, entry.Variant, entry.Shape, c.MatmulFlops, c.OtherFlops, c.Transcendentals, c.BytesRead,
                c.BytesWritten, t.Median, t.Min, t.Repeats, Rates.PerSecond(c.Flops, t.Median), Rates.PerSecond(c.Bytes, t.Median), joules, note);
        }
        finally { acc.Ledger.Enabled = true; }
    }

    private static void Print(IAnsiConsole console, ImageReport image)
    {
        var table = new Table().Title($"[bold]{Markup.Escape(image.File)}[/] — {Markup.Escape(image.Title)}");
        foreach (var col in new[] { "op", "variant", "matmul FLOP", "other FLOP", "transcend.", "bytes moved", "median (repeats)", "GFLOP/s", "GB/s", "energy/launch" })
            table.AddColumn(new TableColumn(col).RightAligned());
        table.Columns[0].LeftAligned();
        table.Columns[1].LeftAligned();
        var notes = new SortedSet<string>();
        foreach (var r in image.Launches)
        {
            if (r.EnergyNote != null) notes.Add(r.EnergyNote);
            table.AddRow(Markup.Escape(r.Op), Markup.Escape(r.Variant), $"{r.MatmulFlops:N0}", $"{r.OtherFlops:N0}", $"{r.Transcendentals:N0}",
                $"{r.BytesRead + r.BytesWritten:N0}", $"{FormatTime(r.MedianSeconds)} ({r.Repeats})", Rates.Format(r.GflopPerSecond, "F2"), Rates.Format(r.GbPerSecond, "F2"),
                r.EnergyJoules is { } j ? $"{j * 1e3:F3} mJ" : "not measured");
        }
        table.AddRow("[grey]PNG encode + write[/]", "[grey](not an op)[/]", Rates.NotApplicable, Rates.NotApplicable, Rates.NotApplicable, Rates.NotApplicable,
            $"{FormatTime(image.PngSeconds)} (1)", Rates.NotApplicable, Rates.NotApplicable, Rates.NotApplicable);
        if (notes.Count > 0) table.Caption("[grey]energy " + Markup.Escape(string.Join("; ", notes)) + "[/]");
        console.Write(table);
    }

    private static string FormatTime(double s) => s >= 1 ? $"{s:F3} s" : s >= 1e-3 ? $"{s * 1e3:F3} ms" : $"{s * 1e6:F1} µs";


    private sealed record PixelsReport(string Device, int Width, int Height, ulong Seed, int Threads, string OutputFolder,
        string EnergyMeter, string? EnergyUnavailable, List<ImageReport> Images);

    private sealed record ImageReport(string File, string Title, string Path, List<LaunchRow> Launches, double PngSeconds);

    private sealed record LaunchRow(string Op, string Variant, string Shape, long MatmulFlops, long OtherFlops, long Transcendentals,
        long BytesRead, long BytesWritten, double MedianSeconds, double MinSeconds, int Repeats, double? GflopPerSecond,
        double? GbPerSecond, double? EnergyJoules, string? EnergyNote);
}
