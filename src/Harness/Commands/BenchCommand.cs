using System.CommandLine;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using PixelCost.Harness.Reporting;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using Spectre.Console;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost bench kernels</c>: times each op on the shapes Stable Diffusion 1.5 runs at 512² (64² latent) and reports
/// the rate against the peak measured on this machine. FLOPs and bytes come from the ledger entry the op's launch
/// recorded (its Spec's Cost); the harness never re-derives them (DESIGN §1).
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Time kernels on real model shapes against this machine's measured peak.");
        bench.Subcommands.Add(CreateKernels());
        return bench;
    }

    /// <summary>Runs <c>pixelcost &lt;args&gt;</c> (e.g. <c>bench kernels --json</c>) in process with the given writers.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("pixelcost");
        root.Subcommands.Add(Create());
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) stderr.WriteLine($"pixelcost: error: {e.Message}");
            return 2;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
    }

    private static Command CreateKernels()
    {
        var filter = new Option<string?>("--filter")
        {
            Description = "Only rows whose \"op variant case\" (e.g. \"attention v2 self 8h×4096×40\") contains this text, case-insensitively; * and ? make it a glob over the whole name. OpenBLAS rows are named \"gemm openblas <case>\".",
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Worker threads (default: one per logical processor).",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var variant = new Option<int?>("--variant")
        {
            Description = "Force kernel variant N for every op (0 = each op's default). Without it each row uses its listed variant.",
        };
        var json = new Option<bool>("--json") { Description = "Write JSON only (header + rows) to stdout." };
        var baseline = new Option<string?>("--baseline")
        {
            Description = "\"openblas\": also time the GEMM/linear shapes with OpenBLAS sgemm in the same run.",
        };
        var minTime = new Option<double>("--min-time")
        {
            Description = "Seconds of timed work per row (the median is over at least 5 launches, 3 for launches longer than this).",
            DefaultValueFactory = _ => 1.0,
        };

        var simd = Cli.SimdOption();

        var cmd = new Command("kernels", "Time every op on SD 1.5 512² shapes: median time, GFLOP/s, % of measured FMA peak, GB/s, % of measured triad.");
        foreach (var o in new Option[] { filter, threads, variant, json, baseline, minTime, simd }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var cfg = pr.InvocationConfiguration;
            TextWriter stdout = cfg.Output, stderr = cfg.Error;
            try
            {
                var opts = new KernelBenchOptions(pr.GetValue(filter), pr.GetValue(threads), pr.GetValue(variant),
                    pr.GetValue(json), pr.GetValue(baseline), pr.GetValue(minTime), pr.GetValue(simd));
                return KernelBench.Run(opts, stdout, stderr);
            }
            catch (Exception e) when (Cli.IsUserError(e))
            {
                stderr.WriteLine($"pixelcost: error: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}

internal sealed record KernelBenchOptions(string? Filter, int Threads, int? Variant, bool Json, string? Baseline, double MinTime, string? Simd = null);

/// <summary>One benchmark: an op on one shape. <see cref="Setup"/> allocates and fills its tensors once per row.</summary>
internal sealed record BenchCase(string Op, string Label, int[] Variants, bool OpenBlasBaseline, Func<CpuAccelerator, BenchSetup> Setup)
{
    public string Key(int variant) => $"{Op} v{variant} {Label}";
    public string BaselineKey => $"gemm openblas {Label}";
}

/// <summary>The tensors of one row and how to launch on them. Disposing frees the tensors.</summary>
internal sealed class BenchSetup(List<Tensor> tensors, Action<int> launch, Action? openBlas = null) : IDisposable
{
    public Action<int> Launch { get; } = launch;
    public Action? OpenBlas { get; } = openBlas;

    public void Dispose()
    {
        foreach (var t in tensors) t.Dispose();
    }
}

/// <summary>A result row (also the JSON schema; names become snake_case).</summary>
internal sealed record BenchRow(
    string Op, string Variant, string Case, string Shape, long Flops, long MatmulFlops, long OtherFlops, long Transcendentals,
    long Bytes, double Seconds, int Repeats, double Gflops, double PercentOfPeak, double Gbps, bool MemoryBound,
    double? PercentOfTriad, double? VsOpenblas);

internal sealed record BenchReport(
    string Machine, string Os, string Runtime, int LogicalProcessors, int Threads, int SimdBits, bool OptimizedBuild,
    double MeasuredPeakGflops, double TriadGbps, double MinTime, int? ForcedVariant, string? Filter, IReadOnlyList<BenchRow> Rows);

internal static class KernelBench
{
    // SD 1.5 at 512²: the UNet's latent is 64²; its first level has 320 channels and 4096 tokens, 8 heads of 40.
    private const int Tokens = 4096, Heads = 8, HeadDim = 40, TextTokens = 77;

    internal static IReadOnlyList<BenchCase> Cases { get; } = BuildCases();

    private static IReadOnlyList<BenchCase> BuildCases()
    {
        var list = new List<BenchCase>
        {
            new("gemm", "4096x4096x4096", [0], true, acc =>
            {
                var (ts, T) = Alloc(acc);
                Tensor a = T([4096, 4096]), b = T([4096, 4096]), c = T([4096, 4096]);
                return new BenchSetup(ts, v => Ops.Gemm(acc, a, b, c, variant: v), () => OpenBlas.Gemm(a, b, c));
            }),
        };

        // The linear layers of a 64² transformer block: attention projections, GEGLU's input projection, the FF output.
        foreach (var (k, n, what) in new[] { (320, 320, "attn proj"), (320, 2560, "geglu proj"), (1280, 320, "ff out") })
        {
            list.Add(new("linear", $"{what} [{Tokens},{k}]→{n}", [0], true, acc =>
            {
                var (ts, T) = Alloc(acc);
                Tensor x = T([Tokens, k]), w = T([n, k]), bias = T([n]), y = T([Tokens, n]);
                return new BenchSetup(ts, v => Ops.Linear(acc, x, w, bias, y, v), () => OpenBlas.Gemm(x, w, y, transB: true));
            }));
        }

        foreach (var (c, hw, stride) in new[] { (320, 64, 1), (640, 32, 1), (1280, 16, 1), (1280, 8, 1), (320, 64, 2) })
        {
            string label = stride == 1 ? $"3x3 {c}→{c} @{hw}²" : $"3x3 s{stride} {c}→{c} @{hw}²→{hw / stride}²";
            list.Add(new("conv2d", label, [0], false, acc =>
            {
                var (ts, T) = Alloc(acc);
                int ho = (hw + 2 - 3) / stride + 1;
                Tensor x = T([1, c, hw, hw]), w = T([c, c, 3, 3]), bias = T([c]), y = T([1, c, ho, ho]);
                return new BenchSetup(ts, v => Ops.Conv2d(acc, x, w, bias, y, stride, 1, v));
            }));
        }

        foreach (bool silu in new[] { false, true })
        {
            list.Add(new("group_norm", $"320ch @64² 32 groups{(silu ? " +silu" : "")}", [0], false, acc =>
            {
                var (ts, T) = Alloc(acc);
                Tensor x = T([1, 320, 64, 64]), g = T([320]), b = T([320]), y = T([1, 320, 64, 64]);
                return new BenchSetup(ts, v => Ops.GroupNorm(acc, x, 32, g, b, y, 1e-5f, silu, v));
            }));
        }

        list.Add(new("layer_norm", $"[{Tokens},320]", [0], false, acc =>
        {
            var (ts, T) = Alloc(acc);
            Tensor x = T([1, Tokens, 320]), g = T([320]), b = T([320]), y = T([1, Tokens, 320]);
            return new BenchSetup(ts, v => Ops.LayerNorm(acc, x, g, b, y, 1e-5f, v));
        }));

        // Self-attention at 64²: variant 1 materialises the 4096×4096 scores per head, variant 2 tiles with an online softmax.
        list.Add(new("attention", $"self {Heads}h×{Tokens}×{HeadDim}", [1, 2], false, acc =>
        {
            var (ts, T) = Alloc(acc);
            Tensor q = T([1, Tokens, Heads * HeadDim]), k = T([1, Tokens, Heads * HeadDim]), vv = T([1, Tokens, Heads * HeadDim]), o = T([1, Tokens, Heads * HeadDim]);
            return new BenchSetup(ts, v => Ops.Attention(acc, q, k, vv, o, Heads, variant: v));
        }));
        // Cross-attention: the 77 text tokens (context 768) projected to k, v of [1, 77, 320] for 8 heads × 40.
        list.Add(new("attention", $"cross {Heads}h×{Tokens}×{TextTokens}×{HeadDim} (ctx 768)", [1, 2], false, acc =>
        {
            var (ts, T) = Alloc(acc);
            Tensor q = T([1, Tokens, Heads * HeadDim]), k = T([1, TextTokens, Heads * HeadDim]), vv = T([1, TextTokens, Heads * HeadDim]), o = T([1, Tokens, Heads * HeadDim]);
            return new BenchSetup(ts, v => Ops.Attention(acc, q, k, vv, o, Heads, variant: v));
        }));

        // The naive attention's score matrices: 8 heads × 4096 × 4096 floats = 512 MB, in place (y = x) to keep it at that.
        list.Add(new("softmax", $"[{Heads},{Tokens},{Tokens}] in place", [0], false, acc =>
        {
            var (ts, T) = Alloc(acc);
            Tensor x = T([Heads, Tokens, Tokens]);
            return new BenchSetup(ts, v => Ops.Softmax(acc, x, x, v));
        }));

        list.Add(new("silu", $"[{Tokens},1280]", [0], false, acc =>
        {
            var (ts, T) = Alloc(acc);
            Tensor x = T([Tokens, 1280]), y = T([Tokens, 1280]);
            return new BenchSetup(ts, v => Ops.Silu(acc, x, y, v));
        }));
        foreach (var approx in new[] { GeluApproximation.Erf, GeluApproximation.Tanh })
        {
            list.Add(new("gelu", $"{approx.ToString().ToLowerInvariant()} [{Tokens},1280]", [0], false, acc =>
            {
                var (ts, T) = Alloc(acc);
                Tensor x = T([Tokens, 1280]), y = T([Tokens, 1280]);
                return new BenchSetup(ts, v => Ops.Gelu(acc, x, y, approx, v));
            }));
        }
        list.Add(new("geglu", $"[{Tokens},2560]→1280", [0], false, acc =>
        {
            var (ts, T) = Alloc(acc);
            Tensor x = T([Tokens, 2560]), y = T([Tokens, 1280]);
            return new BenchSetup(ts, v => Ops.Geglu(acc, x, y, v));
        }));
        list.Add(new("add", "[1,320,64,64]", [0], false, acc =>
        {
            var (ts, T) = Alloc(acc);
            Tensor a = T([1, 320, 64, 64]), b = T([1, 320, 64, 64]), y = T([1, 320, 64, 64]);
            return new BenchSetup(ts, v => Ops.Add(acc, a, b, y, v));
        }));
        return list;
    }

    /// <summary>A list that owns the row's tensors and an allocator that fills each with deterministic data.</summary>
    private static (List<Tensor>, Func<int[], Tensor>) Alloc(CpuAccelerator acc)
    {
        var list = new List<Tensor>();
        return (list, shape =>
        {
            var t = acc.Allocate(shape);
            list.Add(t);
            Fill(t.AsSpan(), (uint)(list.Count * 0x9E3779B9u));
            return t;
        });
    }

    /// <summary>Uniform values in [−1, 1) from a 32-bit LCG (Numerical Recipes' constants): deterministic and cheap.</summary>
    internal static void Fill(Span<float> data, uint seed)
    {
        uint s = seed | 1;
        for (int i = 0; i < data.Length; i++)
        {
            s = s * 1664525u + 1013904223u;
            data[i] = (s >> 8) * (2f / (1 << 24)) - 1f;
        }
    }

    /// <summary>Case-insensitive substring, or a glob over the whole name when the pattern has * or ?.</summary>
    internal static bool Matches(string name, string? pattern)
    {
        if (string.IsNullOrEmpty(pattern)) return true;
        if (pattern.IndexOfAny(['*', '?']) < 0) return name.Contains(pattern, StringComparison.OrdinalIgnoreCase);
        string rx = "^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$";
        return Regex.IsMatch(name, rx, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    private sealed record Planned(BenchCase Case, int Variant, bool Ours, bool Baseline);

    public static int Run(KernelBenchOptions o, TextWriter stdout, TextWriter stderr)
    {
        // Validate everything before the (slow) peak measurements.
        if (o.Threads <= 0) throw new CliException($"--threads must be ≥ 1, got {o.Threads}");
        if (o.Variant is < 0) throw new CliException($"--variant must be ≥ 0, got {o.Variant}");
        if (!(o.MinTime > 0) || double.IsInfinity(o.MinTime)) throw new CliException($"--min-time must be a positive number of seconds, got {o.MinTime}");
        int vectorBits = Cli.ParseSimd(o.Simd);
        bool wantBaseline = false;
        if (o.Baseline is { } bl)
        {
            if (!bl.Equals("openblas", StringComparison.OrdinalIgnoreCase))
                throw new CliException($"--baseline '{bl}' is not known; the only baseline is 'openblas'");
            wantBaseline = true;
        }

        var plan = new List<Planned>();
        foreach (var c in Cases)
        {
            var variants = o.Variant is { } forced ? [forced] : c.Variants;
            for (int i = 0; i < variants.Length; i++)
            {
                bool ours = Matches(c.Key(variants[i]), o.Filter);
                // A baseline row comes with its own row (for the ratio) or when its own name matches.
                bool baseline = wantBaseline && c.OpenBlasBaseline && i == 0 && (ours || Matches(c.BaselineKey, o.Filter));
                if (ours || baseline) plan.Add(new Planned(c, variants[i], ours, baseline));
            }
        }
        if (plan.Count == 0)
            throw new CliException($"--filter '{o.Filter}' matches no benchmark; names look like '{Cases[0].Key(Cases[0].Variants[0])}' or '{Cases[^1].Key(Cases[^1].Variants[0])}'");

        void Note(string line)
        {
            // JSON mode keeps stdout pure; notes go to stderr there.
            if (o.Json) stderr.WriteLine(line); else stdout.WriteLine(line);
        }

        string? blasProblem = null;
        if (plan.Any(p => p.Baseline))
        {
            blasProblem = OpenBlas.Unavailable;
            if (blasProblem != null) Note($"OpenBLAS unavailable ({blasProblem}); no baseline rows.");
            else
            {
                if (OpenBlas.CoreTypeWarning() is { } warn) Note(warn);
                // Same thread count as ours, or the comparison is not like for like.
                if (!OpenBlas.SetThreads(o.Threads)) Note($"OpenBLAS: could not set its thread count to {o.Threads}; it uses its own default.");
            }
        }

        if (!o.Json) stderr.WriteLine($"measuring peak FMA rate and triad bandwidth on {o.Threads} thread(s)…");
        double peak = CpuPeak.MeasureFmaFlops(o.Threads);
        double triad = CpuPeak.MeasureTriadBytesPerSecond(o.Threads);
        // Roofline balance point: ops with fewer FLOPs per byte than this cannot reach the FMA peak; they are rated by bandwidth.
        double balance = peak / triad;

        var rows = new List<BenchRow>();
        int skipped = 0;
        using var acc = new CpuAccelerator(o.Threads, vectorBits);
        if (acc.IsVectorPathEmulated)
            Note($"--simd {acc.VectorBits}: this CPU has no native {acc.VectorBits}-bit SIMD; the kernels run emulated in software, so these times say nothing about hardware speed.");
        foreach (var p in plan)
        {
            string key = p.Case.Key(p.Variant);
            if (!o.Json) stderr.WriteLine($"  {key} …");
            try
            {
                using var setup = p.Case.Setup(acc);
                acc.Ledger.Clear();
                acc.Ledger.Enabled = true;
                long t0 = Stopwatch.GetTimestamp();
                setup.Launch(p.Variant);
                double first = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                // The outermost launch finishes last, so its entry is the last one (an op may launch others inside).
                var entry = acc.Ledger.Entries.LastOrDefault()
                    ?? throw new InvalidOperationException($"{key}: the op recorded no ledger entry");
                acc.Ledger.Enabled = false;
                int minRepeats = first >= o.MinTime ? 3 : 5;

                BenchRow? ours = null;
                if (p.Ours)
                {
                    var t = Timing.Measure(() => setup.Launch(p.Variant), o.MinTime, minRepeats);
                    ours = MakeRow(entry.Op, entry.Variant, p.Case.Label, entry.Shape, entry.Cost, t, peak, triad, balance, null);
                    rows.Add(ours);
                }
                if (p.Baseline && blasProblem == null && setup.OpenBlas is { } blas)
                {
                    // OpenBLAS computes only the matmul part of the op; it is credited with the ledger's matmul FLOPs.
                    var cost = new Cost(entry.Cost.MatmulFlops, 0, 0, entry.Cost.BytesRead, entry.Cost.BytesWritten);
                    var t = Timing.Measure(blas, o.MinTime, minRepeats);
                    var row = MakeRow("gemm", "openblas", p.Case.Label, entry.Shape, cost, t, peak, triad, balance, null);
                    rows.Add(row);
                    if (ours != null) rows[rows.IndexOf(ours)] = ours with { VsOpenblas = row.Seconds / ours.Seconds };
                }
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or OutOfMemoryException)
            {
                // e.g. --variant 3 for an op that has no variant 3: say so and go on with the other rows.
                stderr.WriteLine($"pixelcost: skipped {key}: {e.Message}");
                skipped++;
            }
            finally
            {
                acc.Ledger.Enabled = true;
                acc.Ledger.Clear();
            }
        }

        var report = new BenchReport(MachineName(), RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription,
            Environment.ProcessorCount, o.Threads, acc.VectorBits, IsOptimizedBuild(), peak / 1e9, triad / 1e9,
            o.MinTime, o.Variant, o.Filter, rows);
        if (o.Json) WriteJson(report, stdout);
        else if (rows.Count > 0) WriteTable(report, stdout);
        if (rows.Count == 0)
        {
            stderr.WriteLine($"pixelcost: error: all {skipped} selected benchmark(s) were skipped");
            return 1;
        }
        return 0;
    }

    private static BenchRow MakeRow(string op, string variant, string label, string shape, Cost cost, TimingResult t,
        double peak, double triad, double balance, double? vs)
    {
        double flopRate = cost.Flops / t.Median;
        double byteRate = cost.Bytes / t.Median;
        bool memoryBound = cost.Bytes > 0 && (double)cost.Flops / cost.Bytes < balance;
        return new BenchRow(op, variant, label, shape, cost.Flops, cost.MatmulFlops, cost.OtherFlops, cost.Transcendentals,
            cost.Bytes, t.Median, t.Repeats, flopRate / 1e9, 100 * flopRate / peak, byteRate / 1e9, memoryBound,
            memoryBound ? 100 * byteRate / triad : null, vs);
    }

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    private static void WriteJson(BenchReport report, TextWriter stdout)
    {
        stdout.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
        stdout.Flush();
    }

    private static void WriteTable(BenchReport r, TextWriter stdout)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = ReferenceEquals(stdout, Console.Out) ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ReferenceEquals(stdout, Console.Out) ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!ReferenceEquals(stdout, Console.Out) || Console.IsOutputRedirected) console.Profile.Width = 180;

        console.WriteLine($"machine: {r.Machine} ({r.LogicalProcessors} logical processors, kernels on the {r.SimdBits}-bit SIMD path, hardware widest {CpuAccelerator.SimdWidthBits}-bit), {r.Os}, {r.Runtime}");
        console.WriteLine($"threads: {r.Threads}   measured peak: {r.MeasuredPeakGflops:F1} GFLOP/s (FMA)   measured triad: {r.TriadGbps:F1} GB/s   min time/row: {r.MinTime:G3} s");
        if (!r.OptimizedBuild) console.WriteLine("warning: this is a Debug build; build with -c Release for meaningful numbers");

        var table = new Table().Border(TableBorder.Rounded);
        foreach (var h in new[] { "op", "variant", "case", "shape", "GFLOP", "median ms", "GFLOP/s", "% peak", "GB/s", "% triad", "vs openblas" })
            table.AddColumn(new TableColumn(h) { Alignment = h is "op" or "variant" or "case" or "shape" ? Justify.Left : Justify.Right });
        foreach (var row in r.Rows)
        {
            table.AddRow(
                Markup.Escape(row.Op), Markup.Escape(row.Variant), Markup.Escape(row.Case), Markup.Escape(row.Shape),
                (row.Flops / 1e9).ToString("F3"), (row.Seconds * 1e3).ToString("F3"), row.Gflops.ToString("F1"),
                row.PercentOfPeak.ToString("F1"), row.Gbps.ToString("F1"),
                row.PercentOfTriad is { } pt ? pt.ToString("F0") : "",
                row.VsOpenblas is { } vs ? $"{vs:F2}×" : "");
        }
        console.Write(table);
        console.WriteLine("FLOPs are the ledger's (Spec) matmul + other FLOPs; transcendentals are not in them. \"% triad\" is shown for memory-bound rows (FLOPs/byte below peak/triad). \"vs openblas\" = OpenBLAS time ÷ ours (> 1: ours is faster).");
    }

    private static string MachineName()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is var i and > 0)
                        return line[(i + 1)..].Trim();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return $"{RuntimeInformation.ProcessArchitecture} CPU";
    }

    private static bool IsOptimizedBuild() =>
        typeof(CpuAccelerator).Assembly.GetCustomAttribute<DebuggableAttribute>() is not { IsJITOptimizerDisabled: true };
}
