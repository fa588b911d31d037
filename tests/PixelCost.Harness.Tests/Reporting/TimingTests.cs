using PixelCost.Harness.Reporting;
using Xunit;

namespace PixelCost.Harness.Tests.Reporting;

public class TimingTests
{
    [Fact]
    public void InterleavedSamplesAlternateAfterEachWarmUp()
    {
        // Records which launch ran, in order; with no synchronise action every sample is one launch, and with no
        // minimum time the sample count is exactly minRepeats (a time floor, however small, could be missed by a
        // launch faster than the clock tick).
        var order = new List<int>();
        var r = Timing.MeasureInterleaved([() => order.Add(0), () => order.Add(1)], null, minSeconds: 0, minRepeats: 7, gapSeconds: 0);
        Assert.Equal(2, r.Length);
        Assert.Equal(7, r[0].Repeats);
        Assert.Equal(7, r[1].Repeats);
        // Warm-up: launch 0 alone (≥ 2 calls), then launch 1 alone; then strictly 0, 1, 0, 1 … for 7 rounds (with no
        // minimum time a block is one sample).
        int firstOne = order.IndexOf(1);
        Assert.True(firstOne >= 2);
        Assert.All(order.Take(firstOne), l => Assert.Equal(0, l));
        var timed = order.TakeLast(14).ToList();
        Assert.Equal(Enumerable.Range(0, 14).Select(i => i % 2), timed);
        int warm1 = order.Count - 14 - firstOne;
        Assert.True(warm1 >= 2);
        Assert.All(order.Skip(firstOne).Take(warm1), l => Assert.Equal(1, l));
    }
}
