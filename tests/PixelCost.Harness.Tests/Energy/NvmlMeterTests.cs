using System.Runtime.InteropServices;
using PixelCost.Harness.Energy;
using Xunit;

namespace PixelCost.Harness.Tests.Energy;

public class NvmlMeterTests
{
    [Fact]
    public void WithoutTheLibraryTheReasonNamesIt()
    {
        using var meter = new NvmlMeter();
        if (NativeLibrary.TryLoad("libnvidia-ml.so.1", out nint h))
        {
            // A driver is installed: either it measures (GPU machine) or it says why, naming NVML.
            NativeLibrary.Free(h);
            Assert.True(meter.Unavailable is null || meter.Unavailable.StartsWith("NVML", StringComparison.Ordinal), meter.Unavailable);
            return;
        }
        Assert.Equal("NVML", meter.Name);
        Assert.Equal(NvmlMode.None, meter.Mode);
        Assert.StartsWith("NVML: libnvidia-ml.so.1", meter.Unavailable, StringComparison.Ordinal);
        Assert.Contains("not found", meter.Unavailable, StringComparison.Ordinal);
        var reading = meter.Start().Stop();
        Assert.Null(reading.Joules);
        Assert.Equal("not measured: " + meter.Unavailable, reading.ToString());
    }

    [Fact]
    public void ConstantPowerIntegratesToPowerTimesTime()
    {
        // 250 W for 2 s = 500 J, however the samples fall.
        PowerSample[] s = [new(0, 250_000), new(0.02, 250_000), new(0.5, 250_000), new(2, 250_000)];
        Assert.Equal(500, NvmlMeter.IntegratePowerJoules(s), 9);
    }

    [Fact]
    public void RampIntegratesAsTrapezoids()
    {
        // 100 W → 300 W linearly over 1 s (200 J), then 300 W → 0 W over 0.5 s (75 J): 275 J.
        PowerSample[] s = [new(0, 100_000), new(1, 300_000), new(1.5, 0)];
        Assert.Equal(275, NvmlMeter.IntegratePowerJoules(s), 9);
        // Uneven 20 ms-ish samples of a step: 0.02·(100+100)/2 + 0.03·(100+200)/2 W·s = 2 + 4.5 = 6.5 J.
        PowerSample[] step = [new(0, 100_000), new(0.02, 100_000), new(0.05, 200_000)];
        Assert.Equal(6.5, NvmlMeter.IntegratePowerJoules(step), 9);
    }

    [Fact]
    public void FewerThanTwoSamplesSpanNoTime()
    {
        Assert.Equal(0, NvmlMeter.IntegratePowerJoules([]));
        Assert.Equal(0, NvmlMeter.IntegratePowerJoules([new PowerSample(0.3, 123_000)]));
    }

    [Fact]
    public void SamplesOutOfOrderAreRefused() =>
        Assert.Throws<ArgumentException>(() => NvmlMeter.IntegratePowerJoules([new(1, 5), new(0.5, 5)]));
}
