using PixelCost.Kernels.Reference;
using Xunit;

namespace PixelCost.Kernels.Tests;

public class ScalarTests
{
    // Values of erf from Abramowitz & Stegun table 7.1 / any CAS, to 16 digits.
    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.1, 0.1124629160182849)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(2.5, 0.9995930479825550)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(-1.5, -0.9661051464753108)]
    [InlineData(4.5, 0.9999999998033839)]
    public void ErfMatchesTable(double x, double expected) =>
        Assert.Equal(expected, ScalarMath.Erf(x), 14);

    [Fact]
    public void CountedCountsEachClass()
    {
        using var scope = Counted.Begin();
        var a = Counted.From(2.0); var b = Counted.From(3.0);
        var acc = Counted.From(0.0);
        acc = Counted.Mac(acc, a, b);                 // 2 matmul
        var c = a + b; c = c * a; c = -c;            // 3 other
        bool gt = a > b;                              // 1 other
        var e = Counted.Exp(c) + Counted.Erf(a);      // 2 transcendental, 1 other
        Assert.False(gt);
        Assert.Equal(6f, acc.V);
        Assert.Equal(new OpCounts(2, 5, 2), scope.Counts);
        Assert.True(float.IsFinite(e.V));
    }
}
