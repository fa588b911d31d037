using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ops;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;
using static PixelCost.Kernels.Tests.TestData;

namespace PixelCost.Kernels.Tests;

public class NormTests
{
    private static readonly CpuAccelerator Cpu = new();

    public static IEnumerable<object[]> GroupShapes()
    {
        // (N, C, spatial…, groups): groups 1/2/32, channels per group 1, 3, 5 (not multiples of 8), 1×1, 3×5, 8×8 and
        // vector-tail spatial lengths.
        int[][] spatial = [[1, 1], [3, 5], [8, 8], [1, 7], [17], [31], [33]];
        foreach (var sp in spatial)
            foreach (var (c, g) in new[] { (32, 32), (6, 2), (5, 1), (96, 32), (10, 2), (160, 32) })
                foreach (int n in new[] { 1, 2 })
                    yield return [new[] { n, c }.Concat(sp).ToArray(), g];
    }

    private static float[] RunGroupNormRef64(float[] x, int[] shape, int groups, float[]? gamma, float[]? beta, float eps, bool silu)
    {
        var y = new F64[x.Length];
        int n = shape[0], c = shape[1], s = x.Length / (n * c);
        GroupNormReference.Run<F64>(D(x), y, n, c, s, groups, gamma is null ? default : D(gamma), beta is null ? default : D(beta), eps, silu);
        return F(y);
    }

    // Tolerance: the kernel's statistics are within ~1e-7 relative of exact (double block sums), the normalised values
    // are O(1..5) after fp32 rounding of (x − mean), rstd and the affine (a few ulp: ~1e-6 absolute), and SiLU adds our
    // exp's 2e-7 relative. 1e-5 absolute + 1e-5 relative leaves room for gamma up to ~3.
    private const double NormAtol = 1e-5, NormRtol = 1e-5;

    [Theory]
    [MemberData(nameof(GroupShapes))]
    public void GroupNormMatchesReference(int[] shape, int groups)
    {
        int c = shape[1];
        var x = Normal((int)Tensor.ElementCount(shape), shape.Sum() * 31 + groups, mean: 0.7, std: 2.0);
        var gamma = Normal(c, 5, 1, 0.5); var beta = Normal(c, 6, 0, 0.5);
        int combo = 0;
        foreach (var (withGamma, withBeta, silu) in new[] { (true, true, false), (false, false, false), (true, false, true), (false, true, true), (true, true, true) })
        {
            combo++;
            var g = withGamma ? gamma : null; var b = withBeta ? beta : null;
            var expected = RunGroupNormRef64(x, shape, groups, g, b, 1e-5f, silu);
            using var tx = Cpu.T(x, shape); using var ty = Cpu.Allocate(shape);
            using var tg = Cpu.T(gamma, c); using var tb = Cpu.T(beta, c);
            foreach (int variant in new[] { 0, 1 })
            {
                Ops.Ops.GroupNorm(Cpu, tx, groups, g is null ? null : tg, b is null ? null : tb, ty, 1e-5f, silu, variant);
                Close.All(expected, ty.ToArray(), NormAtol, NormRtol, shape, $"group_norm v{variant} combo {combo}");
            }
            // In place: y is x.
            using var inplace = Cpu.T(x, shape);
            Ops.Ops.GroupNorm(Cpu, inplace, groups, g is null ? null : tg, b is null ? null : tb, inplace, 1e-5f, silu);
            Close.All(expected, inplace.ToArray(), NormAtol, NormRtol, shape, $"group_norm in place combo {combo}");
        }
    }

    [Theory]
    [InlineData(1, 3, 150, 150, 1)]   // one group of 67500 values: split over the threads inside the group
    [InlineData(1, 6, 120, 97, 3)]    // channels per group 2, parts start and end inside channels
    public void GroupNormSplitsBigGroupsOverThreads(int n, int c, int h, int w, int groups)
    {
        using var cpu4 = new CpuAccelerator(threads: 4);
        int[] shape = [n, c, h, w];
        var x = Normal(n * c * h * w, 11, mean: -1.5, std: 0.3);
        var gamma = Normal(c, 12, 1, 0.5); var beta = Normal(c, 13);
        var expected = RunGroupNormRef64(x, shape, groups, gamma, beta, 1e-6f, true);
        using var tx = cpu4.T(x, shape); using var tg = cpu4.T(gamma, c); using var tb = cpu4.T(beta, c);
        Ops.Ops.GroupNorm(cpu4, tx, groups, tg, tb, tx, 1e-6f, fuseSilu: true);
        Close.All(expected, tx.ToArray(), NormAtol, NormRtol, shape, "group_norm split group");
    }

    /// <summary>
    /// The SD shape: 40960 values per group with a mean far from 0 (the case where a plain fp32 sum loses digits).
    /// Against the double reference the kernel's error is bounded by fp32 output rounding: its statistics are nearly exact.
    /// </summary>
    [Fact]
    public void GroupNormSdGroupIsAccurate()
    {
        int[] shape = [1, 320, 64, 64];
        var x = Normal(320 * 64 * 64, 21, mean: 4.0, std: 0.5);
        var expected = RunGroupNormRef64(x, shape, 32, null, null, 1e-5f, false);
        using var tx = Cpu.T(x, shape); using var ty = Cpu.Allocate(shape);
        Ops.Ops.GroupNorm(Cpu, tx, 32, null, null, ty, 1e-5f);
        var got = ty.ToArray();
        double worst = 0;
        for (int i = 0; i < got.Length; i++) worst = Math.Max(worst, Math.Abs(got[i] - expected[i]));
        // |y| ≤ ~5 here; (x − mean) is exact-ish in fp32 (Sterbenz for x near mean) and the product rounds once: a few
        // ulp of 5 ≈ 2e-6 absolute. A sequential fp32 sum of 40960 values near 4 would be off by ~1e-4 relative in the
        // mean, i.e. ~1e-3 here.
        Assert.True(worst < 3e-6, $"max |kernel − f64 reference| = {worst:G3}");
    }

    public static IEnumerable<object[]> LayerShapes()
    {
        foreach (int d in Enumerable.Range(1, 17).Concat([31, 33, 320, 1000]))
            foreach (int rows in new[] { 1, 3 })
                yield return [new[] { rows, d }];
        yield return [new[] { 2, 77, 768 }];
    }

    [Theory]
    [MemberData(nameof(LayerShapes))]
    public void LayerNormMatchesReference(int[] shape)
    {
        int d = shape[^1];
        var x = Normal((int)Tensor.ElementCount(shape), d * 7 + shape.Length, mean: -0.3, std: 3.0);
        var gamma = Normal(d, 2, 1, 0.5); var beta = Normal(d, 3);
        foreach (var (withGamma, withBeta) in new[] { (true, true), (false, false), (true, false), (false, true) })
        {
            var g = withGamma ? gamma : null; var b = withBeta ? beta : null;
            var y64 = new F64[x.Length];
            LayerNormReference.Run<F64>(D(x), y64, d, g is null ? default : D(g), b is null ? default : D(b), 1e-5f);
            var expected = F(y64);
            using var tx = Cpu.T(x, shape); using var ty = Cpu.Allocate(shape);
            using var tg = Cpu.T(gamma, d); using var tb = Cpu.T(beta, d);
            foreach (int variant in new[] { 0, 1 })
            {
                Ops.Ops.LayerNorm(Cpu, tx, g is null ? null : tg, b is null ? null : tb, ty, 1e-5f, variant);
                Close.All(expected, ty.ToArray(), NormAtol, NormRtol, shape, $"layer_norm v{variant} gamma {withGamma} beta {withBeta}");
            }
            Ops.Ops.LayerNorm(Cpu, tx, g is null ? null : tg, b is null ? null : tb, tx, 1e-5f);
            Close.All(expected, tx.ToArray(), NormAtol, NormRtol, shape, "layer_norm in place");
        }
    }

    [Theory]
    [InlineData(1, 32, 1, 1, 32)]
    [InlineData(2, 6, 3, 5, 2)]
    [InlineData(2, 10, 8, 8, 1)]
    [InlineData(1, 64, 4, 3, 32)]
    public void GroupNormCountsMatchSpec(int n, int c, int h, int w, int groups)
    {
        int[] shape = [n, c, h, w];
        var x = Normal(n * c * h * w, 1);
        var gb = Normal(c, 2);
        foreach (bool withGamma in new[] { false, true })
            foreach (bool withBeta in new[] { false, true })
                foreach (bool silu in new[] { false, true })
                {
                    var y = new Counted[x.Length];
                    using var s = Counted.Begin();
                    GroupNormReference.Run<Counted>(C(x), y, n, c, h * w, groups, withGamma ? C(gb) : default, withBeta ? C(gb) : default, 1e-5f, silu);
                    Assert.Equal(GroupNormSpec.Cost(shape, groups, withGamma, withBeta, silu).ArithmeticOnly, s.Counts.ToCost());
                }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 17)]
    [InlineData(77, 768)]
    public void LayerNormCountsMatchSpec(int rows, int d)
    {
        var x = Normal(rows * d, 1);
        var gb = Normal(d, 2);
        foreach (bool withGamma in new[] { false, true })
            foreach (bool withBeta in new[] { false, true })
            {
                var y = new Counted[x.Length];
                using var s = Counted.Begin();
                LayerNormReference.Run<Counted>(C(x), y, d, withGamma ? C(gb) : default, withBeta ? C(gb) : default, 1e-5f);
                Assert.Equal(LayerNormSpec.Cost([rows, d], withGamma, withBeta).ArithmeticOnly, s.Counts.ToCost());
            }
    }

    [Fact]
    public void GroupNormCostCountsBytesOnce()
    {
        var cost = GroupNormSpec.Cost([2, 320, 64, 64], 32, true, true, true);
        long elems = 2L * 320 * 64 * 64;
        Assert.Equal(4 * (elems + 640), cost.BytesRead);
        Assert.Equal(4 * elems, cost.BytesWritten);
    }

    private static void Throws(Action a, params string[] parts)
    {
        var e = Assert.ThrowsAny<ArgumentException>(a);
        foreach (var p in parts) Assert.Contains(p, e.Message);
    }

    [Fact]
    public void GroupNormRejectsBadInput()
    {
        using var x = Cpu.Allocate(2, 30, 4, 4); using var y = Cpu.Allocate(2, 30, 4, 4);
        using var g30 = Cpu.Allocate(30); using var g31 = Cpu.Allocate(31);
        using var yBad = Cpu.Allocate(2, 30, 4, 5); using var empty = Cpu.Allocate(2, 30, 0, 4);
        Throws(() => Ops.Ops.GroupNorm(Cpu, x, 32, null, null, y), "group_norm", "32 groups", "[2,30,4,4]");
        Throws(() => Ops.Ops.GroupNorm(Cpu, x, 0, null, null, y), "group_norm", "0 groups");
        Throws(() => Ops.Ops.GroupNorm(Cpu, x, 3, g31, null, y), "group_norm", "gamma [31]", "[2,30,4,4]");
        Throws(() => Ops.Ops.GroupNorm(Cpu, x, 3, g30, g31, y), "group_norm", "beta [31]");
        Throws(() => Ops.Ops.GroupNorm(Cpu, x, 3, g30, g30, yBad), "group_norm", "y [2,30,4,5]", "x [2,30,4,4]");
        Throws(() => Ops.Ops.GroupNorm(Cpu, empty, 3, null, null, empty), "group_norm", "[2,30,0,4]", "zero-size");
        using var flat = Cpu.Allocate(30);
        Throws(() => Ops.Ops.GroupNorm(Cpu, flat, 3, null, null, flat), "group_norm", "[30]", "[N, C, *]");
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Ops.GroupNorm(Cpu, x, 3, null, null, y, variant: 9));
    }

    [Fact]
    public void LayerNormRejectsBadInput()
    {
        using var x = Cpu.Allocate(3, 10); using var y = Cpu.Allocate(3, 10);
        using var g9 = Cpu.Allocate(9); using var y2 = Cpu.Allocate(3, 11); using var empty = Cpu.Allocate(DType.F32, 0, 10);
        Throws(() => Ops.Ops.LayerNorm(Cpu, x, g9, null, y), "layer_norm", "gamma [9]", "[3,10]");
        Throws(() => Ops.Ops.LayerNorm(Cpu, x, null, g9, y), "layer_norm", "beta [9]");
        Throws(() => Ops.Ops.LayerNorm(Cpu, x, null, null, y2), "layer_norm", "y [3,11]", "x [3,10]");
        Throws(() => Ops.Ops.LayerNorm(Cpu, empty, null, null, empty), "layer_norm", "[0,10]");
    }
}
