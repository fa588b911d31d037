using System.CommandLine;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using ILGPU;
using ILGPU.Runtime.Cuda;
using PixelCost.Harness.Reporting;
using PixelCost.Kernels;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Kernels.Verification;
using Spectre.Console;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost verify</c>: every op's kernels on an accelerator against the op's scalar reference (F64) over a sweep of
/// small shapes, each variant once, with a tolerance per op and precision; and the FLOP check — the reference run with a
/// counting scalar must execute exactly the Spec's FLOPs. <c>verify --ptx DIR</c> instead compiles every
/// <c>[IlgpuKernel]</c> method to PTX without a GPU.
/// </summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var accelerator = new Option<string>("--accelerator") { Description = "Where to run: " + Accelerators.Help + ".", DefaultValueFactory = _ => "cpu" };
        var op = new Option<string?>("--op") { Description = "Only ops whose name contains this text (case-insensitive); * and ? make it a glob over the whole name." };
        var json = new Option<bool>("--json") { Description = "Write JSON only to stdout." };
        var ptx = new Option<string?>("--ptx") { Description = "Instead of verifying: compile every [IlgpuKernel] method to PTX (no GPU needed) and write one .ptx file per kernel into this folder." };
        var arch = new Option<string>("--arch") { Description = "PTX target for --ptx: sm_80 or sm_90.", DefaultValueFactory = _ => "sm_80" };
        var threads = new Option<int>("--threads") { Description = "CPU worker threads (default: one per logical processor).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var simd = Cli.SimdOption();

        var cmd = new Command("verify", "Check every op's kernels against its scalar reference over a sweep of small shapes, and its Spec's FLOPs against a counted run of the reference; or (--ptx) compile the ILGPU kernels to PTX.");
        foreach (var o in new Option[] { accelerator, op, json, ptx, arch, threads, simd }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var cfg = pr.InvocationConfiguration;
            TextWriter stdout = cfg.Output, stderr = cfg.Error;
            if (pr.GetValue(ptx) is { } dir) return WritePtx(dir, pr.GetValue(arch), pr.GetValue(json), stdout, stderr);
            return Verify(pr.GetValue(accelerator), pr.GetValue(op), pr.GetValue(json), pr.GetValue(threads), stdout, stderr, Cli.ParseSimd(pr.GetValue(simd)));
        });
        return cmd;
    }

    /// <summary>Runs <c>pixelcost &lt;args&gt;</c> (e.g. <c>verify --json</c>) in process with the given writers.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        Cli.RunInProcess(args, stdout, stderr, Create(), CompareCommand.Create());

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        // A bitwise case that differs has an infinite err/tol ratio.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    // ---- verify ----

    /// <summary>A row of the report (JSON schema; names become snake_case).</summary>
    internal sealed record VerifyRow(string Accelerator, string Op, string Variant, int VariantNumber, string Status, int Passed, int Total,
        int Unsupported, double MaxAbsError, double WorstRatio, string? Tolerance, string? ToleranceSource, bool FlopCheck, string? Note,
        IReadOnlyList<VerifyCaseRow>? Failures);

    internal sealed record VerifyCaseRow(string Case, double MaxAbsError, double WorstRatio, int Mismatches, string? FirstMismatch, string? Error);

    internal sealed record FlopRow(string Op, int Cases, int Equal, bool Passed, string? FirstMismatch);

    internal sealed record VerifySummary(int Rows, int Passed, int Failed, int NoKernel, int FlopChecks, int FlopChecksFailed, double Seconds, bool Ok);

    internal sealed record VerifyReport(IReadOnlyList<string> Accelerators, IReadOnlyList<string> Ops, IReadOnlyList<FlopRow> FlopChecks,
        IReadOnlyList<VerifyRow> Rows, VerifySummary Summary, IReadOnlyList<string> Notes);

    /// <param name="verifyOp">The per-op check (default <see cref="Verifier.VerifyOp(IAccelerator, string)"/>); tests pass
    /// one with a wrong kernel to see the run fail.</param>
    internal static int Verify(string? accelerator, string? pattern, bool json, int threads, TextWriter stdout, TextWriter stderr, int vectorBits = 0,
        Func<IAccelerator, string, IReadOnlyList<VariantResult>>? verifyOp = null)
    {
        if (threads <= 0) throw new CliException($"--threads must be ≥ 1, got {threads}");
        var ops = Verifier.Ops.Where(o => KernelBench.Matches(o, pattern)).ToList();
        if (ops.Count == 0)
            throw new CliException($"--op '{pattern}' matches no op; ops are {string.Join(", ", Verifier.Ops)}");
        var notes = new List<string>();
        void Note(string line)
        {
            notes.Add(line);
            if (json) stderr.WriteLine(line); else stdout.WriteLine(line);
        }

        var sw = Stopwatch.StartNew();
        var accs = Accelerators.Open(accelerator, threads, vectorBits, Note);
        try
        {
            // The FLOP check is the reference against the Spec: one per op, whatever the accelerator.
            using var progress = ProgressLine.Start("verify", stderr, json);
            var flops = ops.ToDictionary(o => o, o =>
            {
                progress.Step($"FLOP check {o}");
                return Verifier.CheckFlops(o);
            });
            var rows = new List<VerifyRow>();
            foreach (var acc in accs)
            {
                if (acc.Kind == AcceleratorKind.IlgpuCpu && !json)
                    Note($"{acc.Id}: ILGPU's CPU accelerator simulates every GPU thread: slow, and only as good as the kernels it has.");
                for (int i = 0; i < ops.Count; i++)
                {
                    string o = ops[i];
                    progress.Step($"{acc.Id}: {o}", i + 1, ops.Count);
                    foreach (var r in (verifyOp ?? Verifier.VerifyOp)(acc, o))
                    {
                        var fails = r.Cases.Where(c => !c.Passed && !c.Unsupported)
                            .Select(c => new VerifyCaseRow(c.Case, c.MaxAbsError, c.WorstRatio, c.Mismatches, c.FirstMismatch, c.Error)).ToList();
                        rows.Add(new VerifyRow(r.Accelerator, r.Op, r.Variant, r.VariantNumber, Status(r.Status), r.Passed, r.Total, r.Unsupported,
                            r.MaxAbsError, r.WorstRatio, r.WorstTolerance?.ToString(), r.WorstTolerance?.Source, flops[o].Passed, r.Note,
                            fails.Count > 0 ? fails : null));
                    }
                    acc.Ledger.Clear();   // verification launches are not a cost report
                }
                acc.TrimPool();
            }
            int failed = rows.Count(r => r.Status == "fail");
            int flopFails = flops.Values.Count(f => !f.Passed);
            var summary = new VerifySummary(rows.Count, rows.Count(r => r.Status == "pass"), failed, rows.Count(r => r.Status == "no kernel"),
                flops.Count, flopFails, sw.Elapsed.TotalSeconds, failed == 0 && flopFails == 0);
            var report = new VerifyReport(accs.Select(a => a.Name).ToList(), ops,
                flops.Values.Select(f => new FlopRow(f.Op, f.Cases, f.Equal, f.Passed, f.FirstMismatch)).ToList(), rows, summary, notes);
            if (json)
            {
                stdout.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
                stdout.Flush();
            }
            else
            {
                progress.Clear();
                WriteTable(report, stdout);
            }
            return summary.Ok ? 0 : 1;
        }
        finally
        {
            foreach (var a in accs) a.Dispose();
        }
    }

    private static string Status(VerifyStatus s) => s switch
    {
        VerifyStatus.Pass => "pass",
        VerifyStatus.Fail => "fail",
        _ => "no kernel",
    };

    private static void WriteTable(VerifyReport r, TextWriter stdout)
    {
        var console = Terminal.Console(stdout, 200);
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var h in new[] { "accel", "op", "variant", "cases", "max |err|", "worst err/tol", "tolerance (worst case)", "FLOPs = spec", "result" })
            table.AddColumn(new TableColumn(h) { Alignment = h is "cases" or "max |err|" or "worst err/tol" ? Justify.Right : Justify.Left });
        foreach (var row in r.Rows)
        {
            bool nk = row.Status == "no kernel";
            table.AddRow(
                Markup.Escape(row.Accelerator), Markup.Escape(row.Op), Markup.Escape(row.Variant),
                nk ? "–" : $"{row.Passed}/{row.Total}{(row.Unsupported > 0 ? $" ({row.Unsupported} unsupported)" : "")}",
                nk ? "–" : row.MaxAbsError.ToString("G3"), nk ? "–" : row.WorstRatio.ToString("F3"),
                Markup.Escape(row.Tolerance ?? "–"), row.FlopCheck ? "equal" : "DIFFERS",
                Markup.Escape(row.Status == "fail" && row.Note is { } n ? $"FAIL: {n}" : row.Status));
        }
        console.Write(table);
        foreach (var row in r.Rows.Where(x => x.Failures is not null))
            foreach (var f in row.Failures!.Take(5))
                console.WriteLine($"FAIL {row.Accelerator} {row.Op} {row.Variant} {f.Case}: " +
                    (f.Error ?? $"{f.Mismatches} value(s) beyond tolerance, worst err/tol {f.WorstRatio:G3}, first {f.FirstMismatch}"));
        foreach (var f in r.FlopChecks.Where(f => !f.Passed))
            console.WriteLine($"FLOP check {f.Op}: {f.Cases - f.Equal} of {f.Cases} case(s) differ; first {f.FirstMismatch}");
        var s = r.Summary;
        console.WriteLine($"verify: {s.Rows} op/variant/accelerator rows: {s.Passed} passed, {s.Failed} failed, {s.NoKernel} no kernel; " +
            $"FLOP check: {s.FlopChecks - s.FlopChecksFailed}/{s.FlopChecks} ops equal to the Spec; {s.Seconds:F1} s — {(s.Ok ? "OK" : "FAILED")}");
        console.WriteLine("err/tol = |got − ref| / (atol + rtol·|ref|) against the F64 reference (the float reference for ops exact by definition: bitwise); ≤ 1 passes. \"no kernel\": the backend has no kernel for the op yet (not a failure).");
    }

    // ---- --ptx ----

    internal sealed record PtxFile(string Kernel, string File, bool Mma);

    internal sealed record PtxReport(string Arch, string Target, string Directory, int Kernels, int Files, int WithMma,
        IReadOnlyList<PtxFile> Written, IReadOnlyList<string> Failed);

    /// <param name="assembly">Where to look for kernels (default: the Kernels assembly; tests pass their own).</param>
    internal static int WritePtx(string dir, string? archText, bool json, TextWriter stdout, TextWriter stderr, Assembly? assembly = null)
    {
        var arch = (archText ?? "sm_80").Trim().ToLowerInvariant() switch
        {
            "sm_80" => new CudaArchitecture(8, 0),
            "sm_90" => new CudaArchitecture(9, 0),
            _ => throw new CliException($"--arch must be sm_80 or sm_90 (got '{archText}')"),
        };
        // Writability is probed before compiling anything.
        string full = Cli.WritableFolder(dir, "--ptx");

        var kernels = PtxCompiler.KernelTypes(assembly ?? typeof(Ops).Assembly)
            .SelectMany(t => PtxCompiler.FindKernels(t)).ToList();
        var written = new List<PtxFile>();
        var failed = new List<string>();
        using var progress = ProgressLine.Start("verify --ptx", stderr, json);
        using (var ctx = IlgpuContexts.CreateCpuContext())
        {
            foreach (var (method, grouping) in kernels)
            {
                progress.Step(PtxCompiler.KernelName(method), written.Count + failed.Count + 1, kernels.Count);
                // Generic kernels come instantiated (FindKernels: the attribute's type arguments, or float).
                var m = method;
                string name = PtxCompiler.KernelName(method);
                string ptx;
                try { ptx = PtxCompiler.Compile(ctx, m, arch, grouping); }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    failed.Add($"{name}: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");   // ILGPU's messages span lines
                    continue;
                }
                string file = FileName(method) + ".ptx";
                string path = Path.Combine(full, file);
                try { PixelCost.Runtime.IO.AtomicFile.WriteAllText(path, ptx); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new CliException($"--ptx: cannot write {path}: {e.Message}");
                }
                written.Add(new PtxFile(name, path, ptx.Contains("mma.sync", StringComparison.Ordinal)));
            }
        }
        var report = new PtxReport($"sm_{arch.Major}{arch.Minor}", PtxCompiler.TargetOf(arch), full, kernels.Count, written.Count,
            written.Count(w => w.Mma), written, failed);
        progress.Clear();
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
            stdout.Flush();
        }
        else
        {
            foreach (var w in written) stdout.WriteLine($"  {w.Kernel} → {w.File}{(w.Mma ? " (mma.sync)" : "")}");
            stdout.WriteLine($"verify --ptx: {report.Kernels} [IlgpuKernel] kernel(s), {report.Files} PTX file(s) for {report.Arch} (.target {report.Target}) in {full}, {report.WithMma} with mma.sync" +
                (failed.Count > 0 ? $"; {failed.Count} failed to compile" : ""));
        }
        foreach (var f in failed) stderr.WriteLine($"pixelcost: error: PTX compile failed: {f}");
        return failed.Count == 0 ? 0 : 1;
    }

    /// <summary>"Namespace-free type.method", with nested types joined by '.', safe as a file name.</summary>
    private static string FileName(MethodInfo m)
    {
        // A generic kernel's instantiation is part of the name (Kernel_F32Source_F16Source): each gets its own file.
        var parts = new List<string> { m.Name + (m.IsGenericMethod ? "_" + string.Join("_", m.GetGenericArguments().Select(t => t.Name)) : "") };
        for (var t = m.DeclaringType; t is not null; t = t.DeclaringType) parts.Insert(0, t.Name.Split('`')[0]);
        return string.Concat(string.Join(".", parts).Select(c => char.IsLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '_'));
    }
}
