using System.Text.Json;
using PixelCost.Harness.Commands;
using Xunit;

namespace PixelCost.Harness.Tests.Commands;

public sealed class DevicesCommandTests
{
    [Fact]
    public void JsonRunPrintsOnlyJsonWithPositiveMeasuredFigures()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = DevicesCommand.Run(["--json", "--threads", "1", "--seconds", "0.05"], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        Assert.Equal("", stderr.ToString());

        using var doc = JsonDocument.Parse(stdout.ToString()); // throws if anything but JSON is on stdout
        var cpu = doc.RootElement.GetProperty("cpu");
        Assert.False(string.IsNullOrWhiteSpace(cpu.GetProperty("name").GetString()));
        Assert.True(cpu.GetProperty("cores").GetInt32() >= 1);
        Assert.Equal(Environment.ProcessorCount, cpu.GetProperty("logical_processors").GetInt32());
        Assert.Contains(cpu.GetProperty("simd_width_bits").GetInt32(), new[] { 32, 128, 256, 512 });
        Assert.Equal(1, cpu.GetProperty("measured_threads").GetInt32());
        Assert.True(cpu.GetProperty("measured_fp32_flops_per_second").GetDouble() > 0);
        Assert.True(cpu.GetProperty("measured_triad_bytes_per_second").GetDouble() > 0);
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
            Assert.Contains("AVX2", cpu.GetProperty("isa").EnumerateArray().Select(e => e.GetString()));

        Assert.StartsWith("CUDA: ", doc.RootElement.GetProperty("cuda").GetProperty("status").GetString());

        var meters = doc.RootElement.GetProperty("energy_meters").EnumerateArray().ToList();
        Assert.Contains(meters, m => m.GetProperty("name").GetString()!.StartsWith("RAPL", StringComparison.Ordinal));
        Assert.Contains(meters, m => m.GetProperty("name").GetString()!.StartsWith("NVML", StringComparison.Ordinal));
        foreach (var m in meters)
        {
            // Each meter is either readable or says why not.
            bool readable = m.GetProperty("readable").GetBoolean();
            var reason = m.GetProperty("reason");
            Assert.True(readable ? reason.ValueKind == JsonValueKind.Null : reason.GetString()!.Length > 0, m.ToString());
        }
    }

    [Fact]
    public void TableRunNamesTheMeasuredFiguresAndMeters()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = DevicesCommand.Run(["--threads", "1", "--seconds", "0.05"], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        string text = stdout.ToString();
        Assert.Contains("measured", text);
        Assert.Contains("GFLOP/s", text);
        Assert.Contains("GB/s", text);
        Assert.Contains("NVML", text);
        Assert.Contains("CUDA", text);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    public void NonPositiveThreadsIsAOneLineError(string threads)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = DevicesCommand.Run(["--threads", threads], stdout, stderr);
        Assert.NotEqual(0, code);
        Assert.Equal("", stdout.ToString());
        Assert.Equal($"pixelcost: error: --threads must be ≥ 1, got {threads}", stderr.ToString().TrimEnd());
    }

    [Fact]
    public void UnparsableOptionIsAnErrorNotAStackTrace()
    {
        var stderr = new StringWriter();
        int code = DevicesCommand.Run(["--threads", "many"], new StringWriter(), stderr);
        Assert.NotEqual(0, code);
        Assert.StartsWith("pixelcost: error: ", stderr.ToString());
        Assert.DoesNotContain("   at ", stderr.ToString());
    }

    [Fact]
    public void CpuIdentityReadsModelNameAndPhysicalCores()
    {
        string f = Path.GetTempFileName();
        try
        {
            // Two sockets × 2 cores × 2 SMT threads: 4 physical cores, 8 processor entries.
            var lines = new List<string>();
            foreach (var (phys, core) in new[] { (0, 0), (0, 1), (1, 0), (1, 1), (0, 0), (0, 1), (1, 0), (1, 1) })
                lines.AddRange(["processor\t: x", "model name\t: Test CPU 9000", $"physical id\t: {phys}", $"core id\t\t: {core}", ""]);
            File.WriteAllLines(f, lines);
            Assert.Equal(("Test CPU 9000", 4), DevicesCommand.CpuIdentity(f));
        }
        finally { File.Delete(f); }
    }
}
