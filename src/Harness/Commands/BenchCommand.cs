using System.CommandLine;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using PixelCost.Harness.Reporting;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using ILGPU.Runtime.Cuda;
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
        bench.Subcommands.Add(BenchUnet.Create());
        return bench;
    }

    /// <summary>Runs <c>pixelcost &lt;args&gt;</c> (e.g. <c>bench kernels --json</c>) in process with the given writers.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Cli.RunInProcess(args, stdout, stderr, Create());

    private static Command CreateKernels()
    {
        var filter = new Option<string?>("--filter")
        {
            Description = "Only rows whose \"op variant case\" as the table shows it (e.g. \"attention cpu.v2-tiled-online self 8h×4096×40\") contains this text, case-insensitively; * and ? make it a glob over the whole name. Vendor rows are named \"gemm openblas <case>\" / \"gemm cublas <case>\".",
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
            Description = "\"openblas\" (cpu) or \"cublas\" (cuda): also time the GEMM/linear shapes with the vendor's sgemm on the same tensors, in the same run, beside ours.",
        };
        var minTime = new Option<double>("--min-time")
        {
            Description = "Seconds of timed work per row (the median is over at least 5 launches, 3 for launches longer than this).",
            DefaultValueFactory = _ => 1.0,
        };

        var simd = Cli.SimdOption();
        var accelerator = new Option<string>("--accelerator") { Description = "Where to run: " + Accelerators.Help + ".", DefaultValueFactory = _ => "cpu" };
        var sync = new Option<bool>("--sync") { Description = "GPU: synchronise and wall-time every launch (no overlap) instead of timing batches on the stream." };

        var cmd = new Command("kernels", "Time every op on SD 1.5 512² shapes on each accelerator: median time, GFLOP/s, % of measured peak, GB/s, % of measured bandwidth, joules where measured.");
        foreach (var o in new Option[] { filter, threads, variant, json, baseline, minTime, simd, accelerator, sync }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var cfg = pr.InvocationConfiguration;
            TextWriter stdout = cfg.Output, stderr = cfg.Error;
            var opts = new KernelBenchOptions(pr.GetValue(filter), pr.GetValue(threads), pr.GetValue(variant),
                pr.GetValue(json), pr.GetValue(baseline), pr.GetValue(minTime), pr.GetValue(simd), pr.GetValue(accelerator), pr.GetValue(sync));
            return KernelBench.Run(opts, stdout, stderr);
        });
        return cmd;
    }
}

internal sealed record KernelBenchOptions(string? Filter, int Threads, int? Variant, bool Json, string? Baseline, double MinTime,
    string? Simd = null, string? Accelerator = "cpu", bool Sync = false);

/// <summary>One benchmark: an op on one shape. <see cref="Setup"/> allocates its tensors once per row (on any
/// accelerator); <see cref="BenchSetup.Fill"/> uploads deterministic data into them.</summary>
/// <param name="Baseline">True when a vendor GEMM (OpenBLAS on the CPU, cuBLAS on CUDA) can do the row's matmul.</param>
/// <param name="GpuVariants">The variants timed on ILGPU accelerators (their numbering differs from the CPU's); null: <paramref name="Variants"/>.</param>
/// <param name="GpuOnly">Too large for a CPU row in a default run (e.g. the 8192³ tensor-core GEMM).</param>
internal sealed record BenchCase(string Op, string Label, int[] Variants, bool Baseline, Func<IAccelerator, BenchSetup> Setup,
    int[]? GpuVariants = null, bool GpuOnly = false)
{
    public int[] VariantsFor(IAccelerator acc) => acc.Kind == AcceleratorKind.Cpu ? Variants : GpuVariants ?? Variants;

    /// <summary>The name a row shows and <c>--filter</c> matches: op, the variant's ledger name, case.</summary>
    public string Key(string variantName) => $"{Op} {variantName} {Label}";

    public string BaselineKey(string library) => $"gemm {library} {Label}";
}

/// <summary>The tensors of one row, how to fill them and how to launch on them. Disposing frees the tensors.</summary>
internal sealed class BenchSetup(List<Tensor> tensors, Action<int> launch, Func<IAccelerator, Action?>? baseline = null) : IDisposable
{
    public Action<int> Launch { get; } = launch;

    /// <summary>The vendor GEMM on the same tensors for this accelerator, or null when there is none.</summary>
    public Func<IAccelerator, Action?>? Baseline { get; } = baseline;

    public void Fill()
    {
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            var data = new float[t.Length];
            KernelBench.Fill(data, (uint)((i + 1) * 0x9E3779B9u));
            if (t.DType == DType.F32) t.Accelerator.Upload(t, data);
            else if (t.DType == DType.F16) t.Accelerator.Upload<Half>(t, Array.ConvertAll(data, v => (Half)v));
        }
    }

    public void Dispose()
    {
        foreach (var t in tensors) t.Dispose();
    }
}

/// <summary>A result row (also the JSON schema; names become snake_case).</summary>
internal sealed record BenchRow(
    string Accelerator, string Op, string Variant, string Case, string Shape, long Flops, long MatmulFlops, long OtherFlops,
    long Transcendentals, long Bytes, double Seconds, int Repeats, double? Gflops, double? PercentOfPeak, double? Gbps,
    bool MemoryBound, double? PercentOfTriad, bool CacheResident, double? Joules, string? EnergyNote, double? VsBaseline);

/// <summary>One accelerator's measured yardsticks in this run.</summary>
internal sealed record BenchDevice(string Id, string Name, double? MeasuredPeakGflops, double? BandwidthGbps, long? CacheBytes, string? Note);

internal sealed record BenchReport(
    string Machine, string Os, string Runtime, int LogicalProcessors, int Threads, int SimdBits, bool OptimizedBuild,
    double MeasuredPeakGflops, double TriadGbps, double MinTime, int? ForcedVariant, string? Filter,
    IReadOnlyList<BenchDevice> Devices, IReadOnlyList<BenchRow> Rows);

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
                return new BenchSetup(ts, v => Ops.Gemm(acc, a, b, c, variant: v), Vendor(a, b, c, 4096, 4096, 4096, false));
            }, GpuVariants: [4, 2]),
            // The tensor-core target: 8192³ fp16 inputs, fp32 accumulation. Ours reads fp32 operands and rounds them to
            // fp16 while staging; the vendor row is cublasGemmEx on fp16 copies of the same data (fp32 compute).
            new("gemm", "8192x8192x8192 (fp16 in, fp32 acc)", [0], true, acc =>
            {
                var (ts, T) = Alloc(acc);
                Tensor a = T([8192, 8192]), b = T([8192, 8192]), c = T([8192, 8192]);
                var a16 = acc.Allocate(DType.F16, 8192, 8192);
                var b16 = acc.Allocate(DType.F16, 8192, 8192);
                ts.Add(a16); ts.Add(b16);
                return new BenchSetup(ts, v => Ops.Gemm(acc, a, b, c, variant: v), VendorF16(a16, b16, c, 8192, 8192, 8192));
            }, GpuVariants: [4], GpuOnly: true),
        };

        // The linear layers of a 64² transformer block: attention projections, GEGLU's input projection, the FF output.
        foreach (var (k, n, what) in new[] { (320, 320, "attn proj"), (320, 2560, "geglu proj"), (1280, 320, "ff out") })
        {
            list.Add(new("linear", $"{what} [{Tokens},{k}]→{n}", [0], true, acc =>
            {
                var (ts, T) = Alloc(acc);
                Tensor x = T([Tokens, k]), w = T([n, k]), bias = T([n]), y = T([Tokens, n]);
                return new BenchSetup(ts, v => Ops.Linear(acc, x, w, bias, y, v), Vendor(x, w, y, Tokens, n, k, true));
            }));
        }

        // The UNet's 3×3 convolutions, then the SD 1.5 VAE decoder's (its 512²-level convs have 128 output channels;
        // conv_out has 3).
        foreach (var (c, co, hw, stride) in new[] { (320, 320, 64, 1), (640, 640, 32, 1), (1280, 1280, 16, 1), (1280, 1280, 8, 1),
                     (320, 320, 64, 2), (512, 512, 64, 1), (512, 512, 128, 1), (256, 256, 256, 1), (128, 128, 512, 1), (128, 3, 512, 1) })
        {
            string label = stride == 1 ? $"3x3 {c}→{co} @{hw}²" : $"3x3 s{stride} {c}→{co} @{hw}²→{hw / stride}²";
            list.Add(new("conv2d", label, [0], false, acc =>
            {
                var (ts, T) = Alloc(acc);
                int ho = (hw + 2 - 3) / stride + 1;
                Tensor x = T([1, c, hw, hw]), w = T([co, c, 3, 3]), bias = T([co]), y = T([1, co, ho, ho]);
                return new BenchSetup(ts, v => Ops.Conv2d(acc, x, w, bias, y, stride, 1, v));
            }, GpuVariants: [3, 2]));
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
        }, GpuVariants: [3, 2, 1]));
        // Cross-attention: the 77 text tokens (context 768) projected to k, v of [1, 77, 320] for 8 heads × 40.
        list.Add(new("attention", $"cross {Heads}h×{Tokens}×{TextTokens}×{HeadDim} (ctx 768)", [1, 2], false, acc =>
        {
            var (ts, T) = Alloc(acc);
            Tensor q = T([1, Tokens, Heads * HeadDim]), k = T([1, TextTokens, Heads * HeadDim]), vv = T([1, TextTokens, Heads * HeadDim]), o = T([1, Tokens, Heads * HeadDim]);
            return new BenchSetup(ts, v => Ops.Attention(acc, q, k, vv, o, Heads, variant: v));
        }, GpuVariants: [3, 2, 1]));

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

    /// <summary>A list that owns the row's tensors and an allocator for them (filled later by <see cref="BenchSetup.Fill"/>).</summary>
    private static (List<Tensor>, Func<int[], Tensor>) Alloc(IAccelerator acc)
    {
        var list = new List<Tensor>();
        return (list, shape =>
        {
            var t = acc.Allocate(shape);
            list.Add(t);
            return t;
        });
    }

    /// <summary>The vendor GEMM for C = A·B (B transposed for a linear layer) on the row's own tensors: OpenBLAS sgemm on
    /// our CPU accelerator, cuBLAS sgemm on CUDA (same stream, same fp32 data); none elsewhere.</summary>
    private static Func<IAccelerator, Action?> Vendor(Tensor a, Tensor b, Tensor c, int m, int n, int k, bool transB) => acc => acc switch
    {
        CpuAccelerator => () => OpenBlas.Gemm(a, b, c, transB: transB),
        IlgpuAccelerator { Kind: AcceleratorKind.Cuda } g when CuBlasNative.IsAvailable(out _) =>
            CublasFor(g) is { } h ? () => h.Sgemm((CudaStream)g.Stream, a.F32View(), b.F32View(), c.F32View(), m, n, k, transB: transB) : null,
        _ => null,
    };

    /// <summary>cuBLAS GemmEx (fp16 A, B; fp32 C and compute) on fp16 tensors the setup fills itself.</summary>
    private static Func<IAccelerator, Action?> VendorF16(Tensor a16, Tensor b16, Tensor c, int m, int n, int k) => acc => acc switch
    {
        IlgpuAccelerator { Kind: AcceleratorKind.Cuda } g when CuBlasNative.IsAvailable(out _) && CublasFor(g) is { } h => () =>
            h.GemmF16((CudaStream)g.Stream, a16.View<ILGPU.Half>(), b16.View<ILGPU.Half>(), c.F32View(), m, n, k),
        _ => null,
    };

    private static readonly Dictionary<IAccelerator, CuBlasHandle> s_cublas = new();

    private static CuBlasHandle? CublasFor(IlgpuAccelerator g)
    {
        lock (s_cublas)
        {
            if (!s_cublas.TryGetValue(g, out var h)) s_cublas[g] = h = new CuBlasHandle((CudaAccelerator)g.Device);
            return h;
        }
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

    public static int Run(KernelBenchOptions o, TextWriter stdout, TextWriter stderr)
    {
        var (report, skipped) = Collect(o, stdout, stderr);
        if (o.Json) WriteJson(report, stdout);
        else if (report.Rows.Count > 0) WriteTable(report, stdout);
        if (report.Rows.Count == 0)
        {
            stderr.WriteLine($"pixelcost: error: all {skipped} selected benchmark(s) were skipped");
            return 1;
        }
        return 0;
    }

    /// <summary>
    /// Plans, measures and times the selected rows on each accelerator and returns them (with the devices' yardsticks)
    /// without printing a table: what <c>bench kernels</c> prints and <c>compare</c> lays out per accelerator. Notes go
    /// to <paramref name="stdout"/> (to <paramref name="stderr"/> with --json); bad options are CliExceptions.
    /// </summary>
    /// <param name="progress">The caller's progress line (compare runs several collections under one); null: one on
    /// <paramref name="stderr"/>.</param>
    internal static (BenchReport Report, int Skipped) Collect(KernelBenchOptions o, TextWriter stdout, TextWriter stderr, ProgressLine? progress = null)
    {
        // Validate everything before the (slow) peak measurements.
        if (o.Threads <= 0) throw new CliException($"--threads must be ≥ 1, got {o.Threads}");
        if (o.Variant is < 0) throw new CliException($"--variant must be ≥ 0, got {o.Variant}");
        if (!(o.MinTime > 0) || double.IsInfinity(o.MinTime)) throw new CliException($"--min-time must be a positive number of seconds, got {o.MinTime}");
        int vectorBits = Cli.ParseSimd(o.Simd);
        string? baseline = o.Baseline?.Trim().ToLowerInvariant();
        if (baseline is not (null or "openblas" or "cublas"))
            throw new CliException($"--baseline '{o.Baseline}' is not known; use openblas (CPU) or cublas (CUDA)");

        void Note(string line)
        {
            // JSON mode keeps stdout pure; notes go to stderr there.
            if (o.Json) stderr.WriteLine(line); else stdout.WriteLine(line);
        }

        var accs = Accelerators.Open(o.Accelerator, o.Threads, vectorBits, Note);
        try
        {
            if (baseline == "openblas" && !accs.Any(a => a is CpuAccelerator)) throw new CliException("--baseline openblas needs --accelerator cpu (or all)");
            if (baseline == "cublas" && !accs.Any(a => a.Kind == AcceleratorKind.Cuda)) throw new CliException("--baseline cublas needs a CUDA accelerator (--accelerator cuda or all)");
            if (baseline == "openblas" && OpenBlas.Unavailable is { } noBlas) Note($"OpenBLAS unavailable ({noBlas}); no baseline rows.");
            else if (baseline == "openblas")
            {
                if (OpenBlas.CoreTypeWarning() is { } warn) Note(warn);
                // Same thread count as ours, or the comparison is not like for like.
                if (!OpenBlas.SetThreads(o.Threads)) Note($"OpenBLAS: could not set its thread count to {o.Threads}; it uses its own default.");
            }
            if (baseline == "cublas" && !CuBlasNative.IsAvailable(out var noCublas)) Note($"cuBLAS unavailable ({noCublas}); no baseline rows.");

            // Plan first (dry runs name every variant: what the table shows and --filter matches), so a filter that
            // matches nothing fails before the slow peak measurements.
            var plan = new List<(IAccelerator Acc, BenchCase Case, int Variant, string Name, string? Baseline)>();
            foreach (var acc in accs)
                foreach (var c in Cases)
                {
                    if (c.GpuOnly && acc.Kind != AcceleratorKind.Cuda) continue;
                    var variants = o.Variant is { } forced ? [forced] : c.VariantsFor(acc);
                    var seen = new HashSet<string>();
                    for (int i = 0; i < variants.Length; i++)
                    {
                        bool canBaseline = baseline != null && c.Baseline && i == 0 &&
                            (baseline == "openblas" ? acc is CpuAccelerator : acc.Kind == AcceleratorKind.Cuda);
                        string? name = VariantName(acc, c, variants[i]);
                        // A listed variant this backend lacks is left out; a forced one is tried, to say why it is skipped.
                        if (name is null && o.Variant is null || name is not null && !seen.Add(name)) continue;
                        string shown = name ?? $"v{variants[i]}";
                        bool ours = Matches(c.Key(shown), o.Filter);
                        bool vendor = canBaseline && (ours || Matches(c.BaselineKey(baseline!), o.Filter));
                        if (ours || vendor) plan.Add((acc, c, variants[i], shown, vendor ? baseline : null));
                    }
                }
            if (plan.Count == 0)
                throw new CliException($"--filter '{o.Filter}' matches no benchmark on {string.Join(", ", accs.Select(a => a.Id))}; names look like '{Cases[0].Key("cpu.v2-packed")}' or '{Cases[^1].Key("cpu.v2-simd-threads")}'");

            var rows = new List<BenchRow>();
            var devices = new List<BenchDevice>();
            int skipped = 0, done = 0;
            using var own = progress is null ? ProgressLine.Start("bench kernels", stderr, o.Json) : null;
            progress ??= own!;
            foreach (var acc in accs)
            {
                if (!plan.Any(p => p.Acc == acc)) continue;
                acc.SyncEachLaunch = o.Sync;
                progress.Step($"{acc.Id}: measuring peak and bandwidth", done, plan.Count);
                var dev = Measure(acc, o, Note);
                devices.Add(dev);
                var meter = EnergyMeterFor(acc);
                try
                {
                    foreach (var p in plan.Where(p => p.Acc == acc))
                        rows.AddRange(RunRow(acc, p.Case, p.Variant, p.Baseline, dev, meter, o, stderr, ref skipped, progress, ++done, plan.Count));
                }
                finally { (meter as IDisposable)?.Dispose(); }
                acc.TrimPool();
            }
            var cpuDev = devices.FirstOrDefault(d => d.Id == "cpu");
            var cpu = accs.OfType<CpuAccelerator>().FirstOrDefault();
            var report = new BenchReport(MachineName(), RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription,
                Environment.ProcessorCount, o.Threads, cpu?.VectorBits ?? 0, IsOptimizedBuild(),
                cpuDev?.MeasuredPeakGflops ?? devices[0].MeasuredPeakGflops ?? 0, cpuDev?.BandwidthGbps ?? devices[0].BandwidthGbps ?? 0,
                o.MinTime, o.Variant, o.Filter, devices, rows);
            return (report, skipped);
        }
        finally
        {
            lock (s_cublas)
            {
                foreach (var h in s_cublas.Values) h.Dispose();
                s_cublas.Clear();
            }
            foreach (var a in accs) a.Dispose();
        }
    }

    /// <summary>The yardsticks of one accelerator, measured in this run at the width its kernels run.</summary>
    internal static BenchDevice Measure(IAccelerator acc, KernelBenchOptions o, Action<string> note)
    {
        switch (acc)
        {
            case CpuAccelerator cpu:
                if (cpu.IsVectorPathEmulated)
                    note($"--simd {cpu.VectorBits}: this CPU has no native {cpu.VectorBits}-bit SIMD; the kernels run emulated in software, so these times say nothing about hardware speed.");
                double peak = CpuPeak.MeasureFmaFlops(o.Threads, vectorBits: cpu.VectorBits);
                double triad = CpuPeak.MeasureTriadBytesPerSecond(o.Threads);
                return new BenchDevice(acc.Id, acc.Name, peak / 1e9, triad / 1e9, CacheBytes(), null);
            case IlgpuAccelerator { Kind: AcceleratorKind.Cuda } g:
                var r = GpuPeak.Measure(g.Device, TimeSpan.FromSeconds(0.5));
                long? l2 = CudaDevices.Probe().Devices.FirstOrDefault(d => $"cuda:{d.Ordinal}" == g.Id)?.L2CacheBytes;
                return new BenchDevice(acc.Id, acc.Name, r.Gflops, r.TriadGBps, l2, null);
            default:
                note($"{acc.Id}: ILGPU's CPU accelerator simulates a GPU thread by thread; its times check that kernels run, they are not a performance figure.");
                return new BenchDevice(acc.Id, acc.Name, null, null, null, "simulated: not a performance figure");
        }
    }

    /// <summary>The last-level cache of this CPU (bytes), from sysfs; null when unknown.</summary>
    internal static long? CacheBytes()
    {
        try
        {
            for (int i = 3; i >= 2; i--)
            {
                string p = $"/sys/devices/system/cpu/cpu0/cache/index{i}/size";
                if (!File.Exists(p)) continue;
                string v = File.ReadAllText(p).Trim();
                long mult = v.EndsWith('K') ? 1024 : v.EndsWith('M') ? 1 << 20 : 1;
                if (long.TryParse(v.TrimEnd('K', 'M'), out long n)) return n * mult;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    internal static Energy.IEnergyMeter EnergyMeterFor(IAccelerator acc) => acc switch
    {
        CpuAccelerator => Energy.EnergyMeters.ForCpu(),
        IlgpuAccelerator { Kind: AcceleratorKind.Cuda } g => new Energy.NvmlMeter(uint.Parse(g.Id[5..])),
        _ => new Energy.NoEnergyMeter("ILGPU's CPU accelerator is a simulation"),
    };

    /// <summary>The ledger name variant <paramref name="variant"/> of the case would run under on <paramref name="acc"/>
    /// (a dry run: tensors allocated, nothing run or filled); null when the backend has no such variant.</summary>
    private static string? VariantName(IAccelerator acc, BenchCase c, int variant)
    {
        try
        {
            using var setup = c.Setup(acc);
            acc.Ledger.Clear();
            acc.DryRun = true;
            setup.Launch(variant);
            return acc.Ledger.Entries.LastOrDefault()?.Variant;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or OutOfMemoryException or InvalidOperationException or AcceleratorUnavailableException)
        {
            return null;
        }
        finally
        {
            acc.DryRun = false;
            acc.Ledger.Clear();
            acc.TrimPool();
        }
    }

    private static List<BenchRow> RunRow(IAccelerator acc, BenchCase c, int variant, string? baseline,
        BenchDevice dev, Energy.IEnergyMeter meter, KernelBenchOptions o, TextWriter stderr, ref int skipped, ProgressLine? progress, int index, int total)
    {
        var rows = new List<BenchRow>();
        string key = $"{c.Op} v{variant} {c.Label} on {acc.Id}";
        try
        {
            using var setup = c.Setup(acc);
            acc.Ledger.Clear();
            acc.DryRun = true;
            try { setup.Launch(variant); }
            finally { acc.DryRun = false; }
            var entry = acc.Ledger.Entries.LastOrDefault() ?? throw new InvalidOperationException($"{key}: the op recorded no ledger entry");
            acc.Ledger.Clear();
            if (acc.Kind == AcceleratorKind.IlgpuCpu && entry.Cost.Flops + entry.Cost.Bytes > 2e9)
            {
                stderr.WriteLine($"pixelcost: skipped {c.Key(entry.Variant)} on {acc.Id}: too large for the simulated accelerator (it checks kernels; bench shapes belong on cuda)");
                skipped++;
                return rows;
            }
            progress?.Step($"{acc.Id}: {c.Key(entry.Variant)}", index, total);
            setup.Fill();
            acc.Ledger.Enabled = false;
            Action? sync = acc.Kind == AcceleratorKind.Cpu ? null : acc.Synchronize;

            // A vendor row always sits beside one of ours: ours is timed whenever the vendor's is. Without an energy
            // meter the two are timed interleaved (Timing.MeasureInterleaved), so drifting load on a shared machine
            // hits both alike; with one, each needs its own energy window and they are timed one after the other.
            Action ours = () => setup.Launch(variant);
            Action? blas = baseline != null ? setup.Baseline?.Invoke(acc) : null;
            (TimingResult Timing, Energy.EnergyReading Energy) t, tb = default;
            if (blas != null && meter.Unavailable is { } noMeter)
            {
                var both = Timing.MeasureInterleaved([ours, blas], sync, o.MinTime, 5);
                t = (both[0], new Energy.EnergyReading(null, noMeter));
                tb = (both[1], new Energy.EnergyReading(null, noMeter));
            }
            else
            {
                t = TimeWithEnergy(ours, sync, meter, o);
                if (blas != null) tb = TimeWithEnergy(blas, sync, meter, o);
            }
            var ourRow = MakeRow(acc.Id, entry.Op, entry.Variant, c.Label, entry.Shape, entry.Cost, t.Timing, dev, t.Energy, null);
            rows.Add(ourRow);
            if (blas != null && baseline != null)
            {
                // The vendor GEMM computes only the matmul part of the op; it is credited with the ledger's matmul FLOPs.
                var cost = new Cost(entry.Cost.MatmulFlops, 0, 0, entry.Cost.BytesRead, entry.Cost.BytesWritten);
                var row = MakeRow(acc.Id, "gemm", baseline, c.Label, entry.Shape, cost, tb.Timing, dev, tb.Energy, null);
                rows[0] = ourRow with { VsBaseline = row.Seconds / ourRow.Seconds };
                rows.Add(row);
            }
            return rows;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or OutOfMemoryException or InvalidOperationException or AcceleratorUnavailableException)
        {
            // e.g. --variant 3 for an op that has no variant 3: say so and go on with the other rows.
            stderr.WriteLine($"pixelcost: skipped {key}: {e.Message}");
            skipped++;
            return rows;
        }
        finally
        {
            acc.Ledger.Enabled = true;
            acc.Ledger.Clear();
        }
    }

    /// <summary>Times a launch (median over ≥ min-time) and, where the accelerator has a readable meter, the joules of
    /// the timed window divided by its launches (windows shorter than 1 s are extended by repeating, DESIGN §4).</summary>
    private static (TimingResult Timing, Energy.EnergyReading Energy) TimeWithEnergy(Action launch, Action? sync, Energy.IEnergyMeter meter, KernelBenchOptions o)
    {
        int minRepeats = 5;
        if (meter.Unavailable is { } why) return (Timing.Measure(launch, sync, o.MinTime, minRepeats), new Energy.EnergyReading(null, why));
        sync?.Invoke();
        var window = meter.Start();
        var t = Timing.Measure(launch, sync, Math.Max(o.MinTime, 1.0), minRepeats);
        var reading = window.Stop();
        return (t, reading.Joules is { } j ? new Energy.EnergyReading(j / Math.Max(1, t.Repeats), null) : reading);
    }

    private static BenchRow MakeRow(string acc, string op, string variant, string label, string shape, Cost cost, TimingResult t,
        BenchDevice dev, Energy.EnergyReading energy, double? vs)
    {
        double? gflops = Rates.PerSecond(cost.Flops, t.Median), gbps = Rates.PerSecond(cost.Bytes, t.Median);
        double? balance = dev.MeasuredPeakGflops / dev.BandwidthGbps;
        bool memoryBound = balance is { } bal && cost.Bytes > 0 && (double)cost.Flops / cost.Bytes < bal;
        // A working set that fits the last-level cache is re-read from cache between repeats: rating it against DRAM
        // bandwidth would be meaningless, so it is flagged instead.
        bool cached = dev.CacheBytes is { } cb && cost.Bytes <= cb;
        return new BenchRow(acc, op, variant, label, shape, cost.Flops, cost.MatmulFlops, cost.OtherFlops, cost.Transcendentals,
            cost.Bytes, t.Median, t.Repeats, gflops, Rates.PercentOf(gflops, dev.MeasuredPeakGflops),
            gbps, memoryBound, memoryBound && !cached ? Rates.PercentOf(gbps, dev.BandwidthGbps) : null,
            cached, energy.Joules, energy.NotMeasuredReason, vs);
    }

    /// <summary>The one JSON setting of every command's <c>--json</c>: snake_case names, indented, and no \uXXXX escaping of
    /// characters such as &lt; &gt; &amp; ² × (the output is data for a terminal or a script, never embedded in HTML).</summary>
    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static void WriteJson(BenchReport report, TextWriter stdout)
    {
        stdout.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
        stdout.Flush();
    }

    private static void WriteTable(BenchReport r, TextWriter stdout)
    {
        var console = Terminal.Console(stdout, 200);
        console.WriteLine($"machine: {r.Machine} ({r.LogicalProcessors} logical processors), {r.Os}, {r.Runtime}; min time/row {r.MinTime:G3} s");
        foreach (var d in r.Devices)
            console.WriteLine(d.MeasuredPeakGflops is { } pk
                ? $"{d.Name}: measured peak {pk:F1} GFLOP/s (fp32 FMA), measured bandwidth {d.BandwidthGbps:F1} GB/s (triad){(d.CacheBytes is { } cb ? $", last-level cache {cb / (1 << 20)} MiB" : "")}"
                : $"{d.Name}: {d.Note}");
        if (!r.OptimizedBuild) console.WriteLine("warning: this is a Debug build; build with -c Release for meaningful numbers");

        var table = new Table().Border(TableBorder.Rounded);
        foreach (var h in new[] { "accel", "op", "variant", "case", "GFLOP", "median ms", "GFLOP/s", "% peak", "GB/s", "% bw", "J/launch", "vs vendor" })
            table.AddColumn(new TableColumn(h) { Alignment = h is "accel" or "op" or "variant" or "case" ? Justify.Left : Justify.Right });
        foreach (var row in r.Rows)
        {
            table.AddRow(
                Markup.Escape(row.Accelerator), Markup.Escape(row.Op), Markup.Escape(row.Variant), Markup.Escape(row.Case),
                (row.Flops / 1e9).ToString("F3"), (row.Seconds * 1e3).ToString("F3"), Rates.Format(row.Gflops),
                Rates.Format(row.PercentOfPeak), Rates.Format(row.Gbps),
                row.CacheResident && row.MemoryBound ? "in cache" : row.PercentOfTriad is { } pt ? pt.ToString("F0") : "",
                row.Joules is { } j ? j < 1 ? $"{j * 1e3:F2} mJ" : $"{j:F2} J" : "–",
                row.VsBaseline is { } vs ? $"{vs:F2}×" : "");
        }
        console.Write(table);
        console.WriteLine("FLOPs are the ledger's (Spec) matmul + other FLOPs; transcendentals are not in them. \"% bw\" rates memory-bound rows (FLOPs/byte below peak/bandwidth) against the measured bandwidth; \"in cache\": the working set fits the last-level cache, so it is not rated against DRAM. J/launch: measured energy of the timed window ÷ launches (– where no meter: see `pixelcost devices`). \"vs vendor\" = vendor (OpenBLAS/cuBLAS) time ÷ ours (> 1: ours is faster). \"% peak\" is against the measured fp32 FMA peak for every row: tensor-core rows (variant names with \"tc\") are not bounded by it, so for them the vendor row beside them is the yardstick.");
    }

    internal static string MachineName()
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
