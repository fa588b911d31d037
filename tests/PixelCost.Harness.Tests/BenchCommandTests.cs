using System.Text.Json;
using PixelCost.Harness.Commands;
using Xunit;

namespace PixelCost.Harness.Tests;

public class BenchCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args, BenchCommand.Create());

    private static void AssertOneLineError((int Code, string Out, string Err) r, params string[] mentions) => CliRun.AssertOneLineError(r, mentions);

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    public void ThreadsMustBePositive(string n) =>
        AssertOneLineError(Run("bench", "kernels", "--threads", n), "--threads");

    [Fact]
    public void VariantMustNotBeNegative() =>
        AssertOneLineError(Run("bench", "kernels", "--variant", "-1"), "--variant");

    [Theory]
    [InlineData("0")]
    [InlineData("-0.5")]
    [InlineData("NaN")]
    public void MinTimeMustBePositive(string s) =>
        AssertOneLineError(Run("bench", "kernels", "--min-time", s), "--min-time");

    [Fact]
    public void FilterThatMatchesNothingSaysSo() =>
        AssertOneLineError(Run("bench", "kernels", "--filter", "no-such-kernel-xyz"), "matches no benchmark");

    [Fact]
    public void OpenBlasRowsExistOnlyWithTheBaselineOption() =>
        AssertOneLineError(Run("bench", "kernels", "--filter", "gemm openblas*"), "matches no benchmark");

    [Fact]
    public void UnknownSimdWidthIsRejected() =>
        AssertOneLineError(Run("bench", "kernels", "--simd", "1024"), "--simd must be auto, 256 or 512");

    [Fact]
    public void UnknownBaselineIsRejected() =>
        AssertOneLineError(Run("bench", "kernels", "--baseline", "mkl"), "openblas");

    [Fact]
    public void UnknownAcceleratorIsRejected() =>
        AssertOneLineError(Run("bench", "kernels", "--accelerator", "tpu"), "--accelerator 'tpu' is not known");

    [SkippableFact]
    public void CudaWithoutADriverSaysWhy()
    {
        Skip.If(PixelCost.Kernels.Ilgpu.CudaDevices.Probe().Devices.Count > 0, "this machine has a CUDA device");
        AssertOneLineError(Run("bench", "kernels", "--accelerator", "cuda"), "no CUDA device");
    }

    [Fact]
    public void CublasBaselineNeedsCuda() =>
        AssertOneLineError(Run("bench", "kernels", "--baseline", "cublas", "--filter", "silu"), "cublas needs a CUDA accelerator");

    [Fact]
    public void UnparsableOptionIsOneLineAndNonZero()
    {
        var r = Run("bench", "kernels", "--threads", "many");
        Assert.NotEqual(0, r.Code);
        Assert.StartsWith("pixelcost: error:", r.Err);
    }

    [Theory]
    [InlineData("attention cpu.v2-tiled-online self 8h×4096×40", "ATTENTION", true)]
    [InlineData("attention cpu.v2-tiled-online self 8h×4096×40", "v2-tiled-online self", true)]
    [InlineData("attention cpu.v2-tiled-online self 8h×4096×40", "cross", false)]
    [InlineData("attention cpu.v2-tiled-online self 8h×4096×40", "att*self*", true)]
    [InlineData("attention cpu.v2-tiled-online self 8h×4096×40", "self*", false)]       // a glob matches the whole name
    [InlineData("conv2d cpu.v2-implicit-gemm 3x3 320→320 @64²", "conv2d cpu.v? 3x3*", false)]
    [InlineData("conv2d cpu.v2-implicit-gemm 3x3 320→320 @64²", "conv2d cpu.v2* 3x3*", true)]
    [InlineData("gemm cpu.v2-packed 4096x4096x4096", null, true)]
    public void FilterIsSubstringOrGlob(string name, string? pattern, bool expected) =>
        Assert.Equal(expected, KernelBench.Matches(name, pattern));

    [Fact]
    public void CasesCoverTheSd15ShapesWithUniqueNames()
    {
        var keys = KernelBench.Cases.SelectMany(c => c.Variants.Select(v => c.Key($"v{v}"))).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        string[] required =
        [
            "gemm v0 4096x4096x4096",
            "linear v0 attn proj [4096,320]→320", "linear v0 geglu proj [4096,320]→2560", "linear v0 ff out [4096,1280]→320",
            "conv2d v0 3x3 320→320 @64²", "conv2d v0 3x3 640→640 @32²", "conv2d v0 3x3 1280→1280 @16²", "conv2d v0 3x3 1280→1280 @8²",
            "conv2d v0 3x3 s2 320→320 @64²→32²", "conv2d v0 3x3 512→512 @64²", "conv2d v0 3x3 512→512 @128²",
            "conv2d v0 3x3 256→256 @256²", "conv2d v0 3x3 128→128 @512²", "conv2d v0 3x3 128→3 @512²",
            "group_norm v0 320ch @64² 32 groups",
            "attention v1 self 8h×4096×40", "attention v2 self 8h×4096×40",
            "attention v1 cross 8h×4096×77×40 (ctx 768)", "attention v2 cross 8h×4096×77×40 (ctx 768)",
            "softmax v0 [8,4096,4096] in place", "silu v0 [4096,1280]", "gelu v0 erf [4096,1280]", "geglu v0 [4096,2560]→1280",
        ];
        Assert.Equal(Array.Empty<string>(), required.Where(r => !keys.Contains(r)).ToArray());
        Assert.Equal(["gemm", "gemm", "linear", "linear", "linear"], KernelBench.Cases.Where(c => c.Baseline).Select(c => c.Op));
        Assert.Equal(["gemm"], KernelBench.Cases.Where(c => c.GpuOnly).Select(c => c.Op));
    }

    [Fact]
    public void FillIsDeterministicAndInRange()
    {
        float[] a = new float[1000], b = new float[1000], c = new float[1000];
        KernelBench.Fill(a, 7);
        KernelBench.Fill(b, 7);
        KernelBench.Fill(c, 8);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.All(a, x => Assert.InRange(x, -1f, 1f));
        Assert.InRange(a.Average(), -0.1, 0.1);
    }

    // Needs the real ops and CpuPeak (other branches): runs one tiny row end to end and checks the JSON contract.
    [Fact]
    public void JsonRunOfATinyFilterParses()
    {
        var r = Run("bench", "kernels", "--json", "--filter", "silu cpu.v2-simd-threads*", "--min-time", "0.01", "--threads", "1");
        Assert.True(r.Code == 0, $"exit {r.Code}; stderr: {r.Err}");
        using var doc = JsonDocument.Parse(r.Out);   // stdout must be JSON only
        var root = doc.RootElement;
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("machine").GetString()));
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        Assert.True(root.GetProperty("measured_peak_gflops").GetDouble() > 0);
        Assert.True(root.GetProperty("triad_gbps").GetDouble() > 0);
        var rows = root.GetProperty("rows").EnumerateArray().ToList();
        Assert.NotEmpty(rows);
        foreach (var row in rows)
        {
            Assert.Equal("silu", row.GetProperty("op").GetString());
            Assert.Equal("cpu", row.GetProperty("accelerator").GetString());
            Assert.StartsWith("cpu.v2-simd-threads", row.GetProperty("variant").GetString());
            Assert.False(string.IsNullOrEmpty(row.GetProperty("variant").GetString()));
            Assert.False(string.IsNullOrEmpty(row.GetProperty("shape").GetString()));
            long flops = row.GetProperty("flops").GetInt64();
            double seconds = row.GetProperty("seconds").GetDouble();
            Assert.True(flops > 0);
            Assert.True(seconds > 0);
            Assert.Equal(flops, row.GetProperty("matmul_flops").GetInt64() + row.GetProperty("other_flops").GetInt64());
            Assert.True(row.GetProperty("transcendentals").GetInt64() >= 0);
            Assert.True(row.GetProperty("bytes").GetInt64() > 0);
            double gflops = row.GetProperty("gflops").GetDouble();
            Assert.Equal(flops / seconds / 1e9, gflops, 6);
            Assert.Equal(100 * gflops / root.GetProperty("measured_peak_gflops").GetDouble(), row.GetProperty("percent_of_peak").GetDouble(), 6);
            Assert.True(row.GetProperty("gbps").GetDouble() > 0);
        }
    }
}
