using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
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
    private sealed record Settings(int Width, int Height, string Out, ulong Seed, int Threads, bool Json, int Scale, int Cell,
        double MinSeconds, string Simd);

    public static Command Create() => Build(Console.Out, Console.Error);

    /// <summary>In-process entry for tests: the same parsing and error lines as <c>pixelcost pixels …</c>.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Cli.RunInProcess(["pixels", .. args], stdout, stderr, Build(stdout, stderr));

    private static Command Build(TextWriter stdout, TextWriter stderr)
    {
        var width = new Option<int>("--width") { Description = "Image width in pixels", DefaultValueFactory = _ => 1024 };
        var height = new Option<int>("--height") { Description = "Image height in pixels", DefaultValueFactory = _ => 1024 };
        var output = new Option<string>("--out") { Description = "Folder for the PNG files (created if missing)", DefaultValueFactory = _ => "output" };
        var seed = new Option<ulong>("--seed") { Description = "Philox seed (64-bit)", DefaultValueFactory = _ => 42UL };
        var threads = new Option<int>("--threads") { Description = "CPU worker threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON on stdout (and nothing else)" };
        var scale = new Option<int>("--scale") { Description = "Smooth noise: pixels per lattice cell", DefaultValueFactory = _ => 64 };
        var cell = new Option<int>("--cell") { Description = "Checkerboard: cell size in pixels", DefaultValueFactory = _ => 64 };
        var minSeconds = new Option<double>("--min-seconds") { Description = "Timed work per launch kind (median over repeats)", DefaultValueFactory = _ => 1.0 };
        var simd = Cli.SimdOption();

        var cmd = new Command("pixels", "Random noise, smooth noise, gradient and checkerboard images: counted FLOPs, time, bandwidth, energy, PNGs.");
        foreach (var o in new Option[] { width, height, output, seed, threads, json, scale, cell, minSeconds, simd }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var s = new Settings(pr.GetValue(width), pr.GetValue(height), pr.GetValue(output)!, pr.GetValue(seed), pr.GetValue(threads),
                pr.GetValue(json), pr.GetValue(scale), pr.GetValue(cell), pr.GetValue(minSeconds), pr.GetValue(simd)!);
            try
            {
                return Execute(s, stdout, stderr);
            }
            catch (Exception e) when (Cli.IsUserError(e))
            {
                stderr.WriteLine($"pixelcost: error: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"pixelcost: error: {message}");
        return 1;
    }

    /// <summary>Bytes the run holds at once: the float image, its 8-bit copy, the PNG (≈ raw size), smooth noise's row table.</summary>
    private static long PeakBytes(long w, long h, int scale) => w * h * 3 * (4 + 1 + 1) + ((h - 1) / scale + 2) * w * 3 * 4;

    private static int Execute(Settings s, TextWriter stdout, TextWriter stderr)
    {
        // Every check before any work or file: no half-written output.
        if (s.Threads <= 0) return Fail(stderr, $"--threads must be ≥ 1 (got {s.Threads})");
        if (s.Width <= 0) return Fail(stderr, $"--width must be ≥ 1 pixel (got {s.Width})");
        if (s.Height <= 0) return Fail(stderr, $"--height must be ≥ 1 pixel (got {s.Height})");
        const int maxSide = 1 << 28; // the pixel ops' limit (PixelsSpec): keeps 2W + 1 and x + y + 1 inside int
        if (s.Width > maxSide) return Fail(stderr, $"--width {s.Width} is too large (at most {maxSide:N0} pixels)");
        if (s.Height > maxSide) return Fail(stderr, $"--height {s.Height} is too large (at most {maxSide:N0} pixels)");
        if (s.Scale <= 0) return Fail(stderr, $"--scale must be ≥ 1 pixel per lattice cell (got {s.Scale})");
        if (s.Cell <= 0) return Fail(stderr, $"--cell must be ≥ 1 pixel (got {s.Cell})");
        if (!(s.MinSeconds >= 0) || s.MinSeconds > 3600) return Fail(stderr, $"--min-seconds must be between 0 and 3600 (got {s.MinSeconds})");
        int vectorBits = Cli.ParseSimd(s.Simd);

        long values = (long)s.Width * s.Height * 3;
        long floatBytes = values * 4;
        if (values > int.MaxValue)
            return Fail(stderr, $"--width {s.Width} × --height {s.Height} is too large: the RGB float image needs {floatBytes:N0} bytes " +
                $"and at most {int.MaxValue:N0} values ({int.MaxValue / 3:N0} pixels) fit one buffer");
        long need = PeakBytes(s.Width, s.Height, s.Scale);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (need > available * 0.8)
            return Fail(stderr, $"--width {s.Width} × --height {s.Height} needs about {need:N0} bytes ({floatBytes:N0} for the RGB float image); " +
                $"only {available:N0} bytes of memory are available");

        string dir = Path.GetFullPath(s.Out);
        if (ProbeWritable(dir) is { } why) return Fail(stderr, $"--out '{s.Out}': {why}");

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
            ("02_smooth_noise.png", $"Smooth value noise (scale {s.Scale} px)", () => Ops.PixelsSmoothNoise(acc, img, s.Seed, s.Scale)),
            ("03_gradient.png", "Gradient (R along x, G along y, B diagonal)", () => Ops.PixelsGradient(acc, img)),
            ("04_checkerboard.png", $"Checkerboard (cell {s.Cell} px)", () => Ops.PixelsCheckerboard(acc, img, s.Cell)),
        };

        var report = new PixelsReport(acc.Name, w, h, s.Seed, s.Threads, dir, meter?.Name ?? "none", meter?.Unavailable ?? meterNote, []);
        var console = s.Json ? null : MakeConsole(stdout);
        console?.MarkupLine($"[bold]pixelcost pixels[/] — {w}×{h} RGB on {Markup.Escape(acc.Name)}, seed {s.Seed}, output {Markup.Escape(dir)}");

        foreach (var (file, title, launch) in maps)
        {
            var rows = new List<LaunchRow>
            {
                Measure(acc, launch, meter, s.MinSeconds),
                Measure(acc, () => Ops.QuantizeU8(acc, img, q), meter, s.MinSeconds),
            };
            string path = Path.Combine(dir, file);
            // PNG encoding is not an op on the accelerator: timed once, no FLOPs counted.
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            Png.Write(path, q.AsSpan<byte>(), w, h, PngColor.Rgb);
            double pngSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
            var image = new ImageReport(file, title, path, rows, pngSeconds);
            report.Images.Add(image);
            if (console != null) Print(console, image);
        }

        if (s.Json) stdout.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
        else console!.MarkupLine("[grey]FLOPs are the ops' spec counts (validated in tests against the counting reference); bytes are the spec's " +
            "minimum traffic; rates are spec figures ÷ median time. Transcendentals are listed apart, not folded into FLOPs.[/]");
        return 0;
    }

    /// <summary>Null when the folder can be created and a file written in it; otherwise why not.</summary>
    internal static string? ProbeWritable(string dir)
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
                c.BytesWritten, t.Median, t.Min, t.Repeats, c.Flops / t.Median / 1e9, c.Bytes / t.Median / 1e9, joules, note);
        }
        finally { acc.Ledger.Enabled = true; }
    }

    /// <summary>Colours only on a terminal; redirected output (files, tests) gets plain text wide enough for the table.</summary>
    internal static IAnsiConsole MakeConsole(TextWriter stdout)
    {
        bool terminal = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!terminal) console.Profile.Width = 160;
        return console;
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
                $"{r.BytesRead + r.BytesWritten:N0}", $"{FormatTime(r.MedianSeconds)} ({r.Repeats})", $"{r.GflopPerSecond:F2}", $"{r.GbPerSecond:F2}",
                r.EnergyJoules is { } j ? $"{j * 1e3:F3} mJ" : "not measured");
        }
        table.AddRow("[grey]PNG encode + write[/]", "[grey](not an op)[/]", "–", "–", "–", "–", $"{FormatTime(image.PngSeconds)} (1)", "–", "–", "–");
        if (notes.Count > 0) table.Caption("[grey]energy " + Markup.Escape(string.Join("; ", notes)) + "[/]");
        console.Write(table);
    }

    private static string FormatTime(double s) => s >= 1 ? $"{s:F3} s" : s >= 1e-3 ? $"{s * 1e3:F3} ms" : $"{s * 1e6:F1} µs";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    private sealed record PixelsReport(string Device, int Width, int Height, ulong Seed, int Threads, string OutputFolder,
        string EnergyMeter, string? EnergyUnavailable, List<ImageReport> Images);

    private sealed record ImageReport(string File, string Title, string Path, List<LaunchRow> Launches, double PngSeconds);

    private sealed record LaunchRow(string Op, string Variant, string Shape, long MatmulFlops, long OtherFlops, long Transcendentals,
        long BytesRead, long BytesWritten, double MedianSeconds, double MinSeconds, int Repeats, double GflopPerSecond,
        double GbPerSecond, double? EnergyJoules, string? EnergyNote);
}
