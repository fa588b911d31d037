using PixelCost.Kernels.Cpu;
using Xunit;

namespace PixelCost.Kernels.Tests.Cpu;

public sealed class CpuPeakTests
{
    // No figure is asserted beyond "measured something": timings depend on the machine and its load.
    [Fact]
    public void FmaAndTriadMeasurePositiveFiniteRates()
    {
        double f = CpuPeak.MeasureFmaFlops(1, 0.05);
        double b = CpuPeak.MeasureTriadBytesPerSecond(1, 0.05);
        Assert.True(double.IsFinite(f) && f > 0, $"FMA {f}");
        Assert.True(double.IsFinite(b) && b > 0, $"triad {b}");
    }

    [Fact]
    public void RunTeamRunsEveryThreadEveryRound()
    {
        int calls = 0;
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<(int, int), bool>();
        var times = CpuPeak.RunTeam(3, 4, (t, r) => { Interlocked.Increment(ref calls); seen[(t, r)] = true; return 0; });
        Assert.Equal(4, times.Length);
        Assert.Equal(12, calls);
        Assert.Equal(12, seen.Count);
        Assert.All(times, t => Assert.True(t > 0));
    }

    [Fact]
    public void RunTeamSurfacesAThreadFailure()
    {
        var e = Assert.Throws<InvalidOperationException>(() =>
            CpuPeak.RunTeam(2, 3, (t, r) => t == 1 && r == 1 ? throw new InvalidDataException("boom") : 0));
        Assert.Contains("boom", e.Message);
    }

    [Theory]
    [InlineData(0, 0.1)]
    [InlineData(-1, 0.1)]
    [InlineData(1, 0.0)]
    [InlineData(1, double.NaN)]
    public void BadArgumentsThrow(int threads, double seconds)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuPeak.MeasureFmaFlops(threads, seconds));
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuPeak.MeasureTriadBytesPerSecond(threads, seconds));
    }

    [Fact]
    public void AllowedCpusListsAtLeastOneOnLinux()
    {
        if (OperatingSystem.IsLinux()) Assert.NotEmpty(CpuPeak.AllowedCpus());
    }
}
