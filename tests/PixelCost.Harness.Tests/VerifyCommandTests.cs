using System.Text.Json;
using ILGPU;
using ILGPU.Runtime;
using PixelCost.Harness.Commands;
using PixelCost.Kernels;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Kernels.Verification;
using Xunit;

namespace PixelCost.Harness.Tests;

public class VerifyCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args, VerifyCommand.Create(), CompareCommand.Create());

    private static void AssertOneLineError((int Code, string Out, string Err) r, params string[] mentions) => CliRun.AssertOneLineError(r, mentions);

    [Fact]
    public void CpuJsonPassesForEveryOpAndListsEveryOp()
    {
        var r = Run("verify", "--accelerator", "cpu", "--json");
        Assert.True(r.Code == 0, r.Err + r.Out);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        var rows = root.GetProperty("rows").EnumerateArray().ToList();
        var ops = rows.Select(x => x.GetProperty("op").GetString()!).Distinct().Order().ToList();
        Assert.Equal(Verifier.Ops.Order(), ops);
        Assert.All(rows, x =>
        {
            Assert.Equal("pass", x.GetProperty("status").GetString());
            Assert.Equal(x.GetProperty("total").GetInt32(), x.GetProperty("passed").GetInt32());
            Assert.True(x.GetProperty("flop_check").GetBoolean());
            Assert.InRange(x.GetProperty("worst_ratio").GetDouble(), 0, 1);
            Assert.StartsWith("cpu.", x.GetProperty("variant").GetString());
        });
        // Each op with numbered variants shows more than its default (variant 0 is an alias, listed once).
        Assert.True(rows.Count(x => x.GetProperty("op").GetString() == "gemm") >= 2);
        Assert.All(root.GetProperty("flop_checks").EnumerateArray(), f => Assert.True(f.GetProperty("passed").GetBoolean()));
        var s = root.GetProperty("summary");
        Assert.True(s.GetProperty("ok").GetBoolean());
        Assert.Equal(0, s.GetProperty("failed").GetInt32());
        Assert.Equal(Verifier.Ops.Count, s.GetProperty("flop_checks").GetInt32());
    }

    [Fact]
    public void TableHasARowPerVariantAndASummary()
    {
        var r = Run("verify", "--op", "gelu*");
        Assert.Equal(0, r.Code);
        Assert.Contains("gelu_tanh", r.Out);
        Assert.DoesNotContain("quick_gelu", r.Out);   // a glob matches the whole name
        Assert.Contains("verify: ", r.Out);
        Assert.Contains("OK", r.Out);
    }

    [Fact]
    public void AWrongKernelFailsTheRunAndIsNamed()
    {
        // The add cases, with the output nudged by 1e-4 relative after the real kernel: far beyond one fp32 rounding.
        IReadOnlyList<VariantResult> Wrong(IAccelerator acc, string op)
        {
            var cases = Verifier.CasesOf(op).Select(c => new VerifyCase
            {
                Op = c.Op, Label = c.Label, Inputs = c.Inputs, OutputShape = c.OutputShape, OutputInit = c.OutputInit,
                Launch = (a, i, y, v) => { c.Launch(a, i, y, v); Ops.Scale(a, y, 1.0001f, y); },
                Reference = c.Reference, Count = c.Count, SpecCost = c.SpecCost, Tolerance = c.Tolerance,
            }).ToList();
            return Verifier.VerifyOp(acc, op, cases);
        }
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = VerifyCommand.Verify("cpu", "add", json: false, threads: 1, stdout, stderr, verifyOp: Wrong);
        Assert.NotEqual(0, code);
        string o = stdout.ToString();
        Assert.Contains("FAIL cpu add", o);
        Assert.Contains("FAILED", o);
        Assert.Matches(@"at \[\d", o);   // coordinates of the first mismatches
    }

    [Theory]
    [InlineData("--op", "nothing", "--op 'nothing'")]
    [InlineData("--accelerator", "tpu", "--accelerator 'tpu'")]
    [InlineData("--threads", "0", "--threads")]
    public void BadInputIsOneErrorLine(string option, string value, string mention) =>
        AssertOneLineError(Run("verify", option, value), mention);

    /// <summary>What CI checks of the GPU kernels: every ILGPU kernel, SIMT and tensor-core (emulated mma with the GPU's
    /// fragment layout), on ILGPU's CPU accelerator against the F64 reference, and every op's counted FLOPs.</summary>
    [Fact]
    public void IlgpuCpuPassesEveryOpAndEveryVariantIncludingTensorCores()
    {
        var r = Run("verify", "--accelerator", "ilgpu-cpu", "--json");
        Assert.True(r.Code == 0, r.Err + r.Out);
        using var doc = JsonDocument.Parse(r.Out);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(Verifier.Ops.Order(), rows.Select(x => x.GetProperty("op").GetString()!).Distinct().Order());
        Assert.All(rows, x =>
        {
            Assert.Equal("ilgpu-cpu", x.GetProperty("accelerator").GetString());
            Assert.Equal("pass", x.GetProperty("status").GetString());
            Assert.StartsWith("ilgpu.", x.GetProperty("variant").GetString());
        });
        var variants = rows.Select(x => $"{x.GetProperty("op").GetString()} {x.GetProperty("variant").GetString()}").ToList();
        foreach (var tc in new[] { "gemm ilgpu.tc-f16", "linear ilgpu.tc-f16", "conv2d ilgpu.tc-f16", "attention ilgpu.flash-tc-f16", "attention ilgpu.v2-tiled-online", "gemm ilgpu.v2-simt-128" })
            Assert.Contains(tc, variants);
    }

    [Fact]
    public void PtxWritesOneFilePerMarkedKernel()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"pixelcost-ptx-{Guid.NewGuid():N}", "nested");
        try
        {
            var r = Run("verify", "--ptx", dir, "--arch", "sm_90");
            Assert.True(r.Code == 0, r.Err);
            int marked = PtxCompiler.KernelTypes(typeof(Ops).Assembly).Sum(t => PtxCompiler.FindKernels(t).Count);
            // Every kernel an ILGPU kernel class loads is marked: one per loaded kernel (generic ones per instantiation).
            Assert.True(marked >= 39, $"{marked} marked kernels");
            var files = Directory.GetFiles(dir);
            Assert.Equal(marked, files.Length);
            Assert.All(files, f =>
            {
                Assert.EndsWith(".ptx", f);
                string ptx = File.ReadAllText(f);
                Assert.Contains(".entry", ptx);
                Assert.Contains(".target sm_", ptx);
            });
            Assert.Contains(files, f => Path.GetFileName(f) == "GpuPeak.FmaKernel.ptx");
            // The tensor-core kernels became mma.sync instructions (the guarded inline PTX), the SIMT ones did not.
            string[] tensorCore = ["GemmTensorCoreIlgpu.Kernel_F32Source_F32Source.ptx", "GemmTensorCoreIlgpu.Kernel_F32Source_F16Source.ptx",
                "Conv2dTensorCoreIlgpu.Kernel_F32Source.ptx", "AttentionFlashIlgpu.Kernel_FlashO48.ptx", "AttentionFlashIlgpu.Kernel_FlashO64.ptx"];
            foreach (var f in tensorCore) Assert.Contains("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", File.ReadAllText(Path.Combine(dir, f)));
            Assert.DoesNotContain("mma.sync", File.ReadAllText(Path.Combine(dir, "SimtGemmKernels.GemmT128.ptx")));
            Assert.Contains("5 with mma.sync", r.Out);
            Assert.Contains($"{marked} [IlgpuKernel] kernel(s), {marked} PTX file(s)", r.Out);
            Assert.Contains("mma.sync", r.Out);
        }
        finally
        {
            try { Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void PtxCompilesGenericKernelsAndNamesOneThatFails()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"pixelcost-ptx-{Guid.NewGuid():N}");
        try
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code = VerifyCommand.WritePtx(dir, "sm_80", false, stdout, stderr, typeof(PtxVerifyKernels).Assembly);
            Assert.NotEqual(0, code);
            var err = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var line = Assert.Single(err);
            Assert.StartsWith("pixelcost: error:", line);
            Assert.Contains("PtxVerifyKernels.Broken", line);
            string ptx = File.ReadAllText(Path.Combine(dir, "PtxVerifyKernels.Fill_Single.ptx"));   // generic: compiled for float
            Assert.Contains(".entry", ptx);
            Assert.Contains("1 failed to compile", stdout.ToString());
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void PtxIntoAnUnwritableFolderIsOneErrorLine()
    {
        string file = Path.GetTempFileName();
        try { AssertOneLineError(Run("verify", "--ptx", Path.Combine(file, "sub")), "--ptx"); }
        finally { File.Delete(file); }
    }

    [Fact]
    public void PtxArchMustBeKnown() => AssertOneLineError(Run("verify", "--ptx", Path.GetTempPath(), "--arch", "sm_70"), "--arch");

    [Fact]
    public void CompareJsonOnATinyFilterRunsTheCpuColumn()
    {
        var r = Run("compare", "--ops", "add cpu*", "--accelerators", "cpu", "--min-time", "0.01", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal(new[] { "cpu" }, root.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToArray());
        var row = Assert.Single(root.GetProperty("rows").EnumerateArray().ToList());
        Assert.Equal("add", row.GetProperty("op").GetString());
        var cell = Assert.Single(row.GetProperty("accelerators").EnumerateArray().ToList());
        Assert.Equal("cpu", cell.GetProperty("accelerator").GetString());
        Assert.True(cell.GetProperty("seconds").GetDouble() > 0);
        Assert.True(cell.GetProperty("gflops").GetDouble() > 0);
        Assert.True(cell.GetProperty("percent_of_peak").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, row.GetProperty("cpu_over_gpu").ValueKind);
        // Why there is no cuda column.
        Assert.Contains(root.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("cuda", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void CompareWithAFilterMatchingNothingIsOneErrorLine() =>
        AssertOneLineError(Run("compare", "--ops", "no-such-op", "--accelerators", "cpu"), "no-such-op");
}

/// <summary>Kernels for <see cref="VerifyCommandTests.PtxCompilesGenericKernelsAndNamesOneThatFails"/>: a generic one
/// (compiled for float) and one ILGPU cannot compile (it allocates a managed object).</summary>
internal static class PtxVerifyKernels
{
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Fill<T>(Index1D i, ArrayView<T> x, T v) where T : unmanaged => x[i] = v;

    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Broken(Index1D i, ArrayView<float> x) => x[i] = new object().GetHashCode();
}
