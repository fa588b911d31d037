using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;
using static PixelCost.Kernels.Tests.TestData;

namespace PixelCost.Kernels.Tests;

public class NormTests
{
    private static readonly CpuAccelerator Cpu = new();
    // The 512-bit path forced: on AVX2-only machines .NET runs its Vector512 operations in software (slow but real).
    private static readonly CpuAccelerator Cpu512 = new(2, 512);

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
    public void GroupNormMatchesReference(int[] shape, int groups) => CheckGroupNorm(Cpu, shape, groups);

    // Same tolerances as the 256-bit path: the same algorithm, only the fp32 block sums add 16 lanes instead of 8 (each
    // lane sums ≤ 16 values instead of ≤ 32), which changes the statistics by far less than the output rounding.
    [Theory]
    [MemberData(nameof(GroupShapes))]
    public void GroupNormV512MatchesReference(int[] shape, int groups) => CheckGroupNorm(Cpu512, shape, groups);

    private static void CheckGroupNorm(CpuAccelerator cpu, int[] shape, int groups)
    {
        var Cpu = cpu;
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
                Ops.GroupNorm(Cpu, tx, groups, g is null ? null : tg, b is null ? null : tb, ty, 1e-5f, silu, variant);
                Close.All(expected, ty.ToArray(), NormAtol, NormRtol, shape, $"group_norm v{variant} combo {combo} {cpu.VectorBits}-bit");
            }
            // The ledger names the path that ran.
            Assert.Equal(cpu.UseVector512 ? "cpu.v2-simd-l2-passes-v512" : "cpu.v2-simd-l2-passes", cpu.Ledger.Entries[^2].Variant);
            // In place: y is x.
            using var inplace = Cpu.T(x, shape);
            Ops.GroupNorm(Cpu, inplace, groups, g is null ? null : tg, b is null ? null : tb, inplace, 1e-5f, silu);
            Close.All(expected, inplace.ToArray(), NormAtol, NormRtol, shape, $"group_norm in place combo {combo}");
        }
    }

    [Theory]
    [InlineData(1, 3, 150, 150, 1, 256)]   // one group of 67500 values: split over the threads inside the group
    [InlineData(1, 6, 120, 97, 3, 256)]    // channels per group 2, parts start and end inside channels
    [InlineData(1, 3, 150, 150, 1, 512)]
    [InlineData(1, 6, 120, 97, 3, 512)]
    public void GroupNormSplitsBigGroupsOverThreads(int n, int c, int h, int w, int groups, int bits)
    {
        using var cpu4 = new CpuAccelerator(threads: 4, vectorBits: bits);
        int[] shape = [n, c, h, w];
        var x = Normal(n * c * h * w, 11, mean: -1.5, std: 0.3);
        var gamma = Normal(c, 12, 1, 0.5); var beta = Normal(c, 13);
        var expected = RunGroupNormRef64(x, shape, groups, gamma, beta, 1e-6f, true);
        using var tx = cpu4.T(x, shape); using var tg = cpu4.T(gamma, c); using var tb = cpu4.T(beta, c);
        Ops.GroupNorm(cpu4, tx, groups, tg, tb, tx, 1e-6f, fuseSilu: true);
        Close.All(expected, tx.ToArray(), NormAtol, NormRtol, shape, "group_norm split group");
    }

    /// <summary>
    /// The SD shape: 40960 values per group with a mean far from 0 (the case where a plain fp32 sum loses digits).
    /// Against the double reference the kernel's error is bounded by fp32 output rounding: its statistics are nearly exact.
    /// </summary>
    [Theory]
    [InlineData(256)]
    [InlineData(512)]
    public void GroupNormSdGroupIsAccurate(int bits)
    {
        using var Cpu = new CpuAccelerator(2, bits);
        int[] shape = [1, 320, 64, 64];
        var x = Normal(320 * 64 * 64, 21, mean: 4.0, std: 0.5);
        var expected = RunGroupNormRef64(x, shape, 32, null, null, 1e-5f, false);
        using var tx = Cpu.T(x, shape); using var ty = Cpu.Allocate(shape);
        Ops.GroupNorm(Cpu, tx, 32, null, null, ty, 1e-5f);
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
    public void LayerNormMatchesReference(int[] shape) => CheckLayerNorm(Cpu, shape);

    // Same tolerances as the 256-bit path (see GroupNormV512MatchesReference).
    [Theory]
    [MemberData(nameof(LayerShapes))]
    public void LayerNormV512MatchesReference(int[] shape) => CheckLayerNorm(Cpu512, shape);

    private static void CheckLayerNorm(CpuAccelerator cpu, int[] shape)
    {
        var Cpu = cpu;
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
                Ops.LayerNorm(Cpu, tx, g is null ? null : tg, b is null ? null : tb, ty, 1e-5f, variant);
                Close.All(expected, ty.ToArray(), NormAtol, NormRtol, shape, $"layer_norm v{variant} gamma {withGamma} beta {withBeta} {cpu.VectorBits}-bit");
            }
            Assert.Equal(cpu.UseVector512 ? "cpu.v2-simd-rows-v512" : "cpu.v2-simd-rows", cpu.Ledger.Entries[^2].Variant);
            Ops.LayerNorm(Cpu, tx, g is null ? null : tg, b is null ? null : tb, tx, 1e-5f);
            Close.All(expected, tx.ToArray(), NormAtol, NormRtol, shape, "layer_norm in place");
        }
    }

    /// <summary>
    /// 256 vs 512 bits on the same input. The paths differ only in how the fp32 block sums are split into lanes, so the
    /// mean and rstd differ by ~1e-7 relative and each output by a few ulp of its magnitude (|y| ≤ ~15 here with gamma
    /// up to ~2.5: ulp 1e-6): 4e-6 absolute + 1e-6 relative. The SiLU and affine steps are lane-wise identical.
    /// </summary>
    [Theory]
    [InlineData(1, 32, 1, 1, 32)] [InlineData(2, 6, 3, 5, 2)] [InlineData(1, 5, 1, 33, 1)] [InlineData(2, 96, 17, 1, 32)]
    [InlineData(1, 10, 64, 31, 2)]
    public void GroupNorm256And512Agree(int n, int c, int h, int w, int groups)
    {
        int[] shape = [n, c, h, w];
        var x = Normal(n * c * h * w, 41 + c, mean: 0.7, std: 2.0);
        var gamma = Normal(c, 5, 1, 0.5); var beta = Normal(c, 6, 0, 0.5);
        foreach (bool silu in new[] { false, true })
        {
            using var x1 = Cpu.T(x, shape); using var y1 = Cpu.Allocate(shape); using var g1 = Cpu.T(gamma, c); using var b1 = Cpu.T(beta, c);
            using var x2 = Cpu512.T(x, shape); using var y2 = Cpu512.Allocate(shape); using var g2 = Cpu512.T(gamma, c); using var b2 = Cpu512.T(beta, c);
            Ops.GroupNorm(Cpu, x1, groups, g1, b1, y1, 1e-5f, silu);
            Ops.GroupNorm(Cpu512, x2, groups, g2, b2, y2, 1e-5f, silu);
            Close.All(y1.ToArray(), y2.ToArray(), 4e-6, 1e-6, shape, $"group_norm 256 vs 512 silu {silu}");
        }
    }

    [Theory]
    [InlineData(1, 1)] [InlineData(3, 16)] [InlineData(2, 33)] [InlineData(5, 320)] [InlineData(2, 1000)]
    public void LayerNorm256And512Agree(int rows, int d)
    {
        // Tolerance as in GroupNorm256And512Agree.
        var x = Normal(rows * d, 43 + d, mean: -0.3, std: 3.0);
        var gamma = Normal(d, 2, 1, 0.5); var beta = Normal(d, 3);
        using var x1 = Cpu.T(x, rows, d); using var y1 = Cpu.Allocate(rows, d); using var g1 = Cpu.T(gamma, d); using var b1 = Cpu.T(beta, d);
        using var x2 = Cpu512.T(x, rows, d); using var y2 = Cpu512.Allocate(rows, d); using var g2 = Cpu512.T(gamma, d); using var b2 = Cpu512.T(beta, d);
        Ops.LayerNorm(Cpu, x1, g1, b1, y1);
        Ops.LayerNorm(Cpu512, x2, g2, b2, y2);
        Close.All(y1.ToArray(), y2.ToArray(), 4e-6, 1e-6, new[] { rows, d }, "layer_norm 256 vs 512");
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
        Throws(() => Ops.GroupNorm(Cpu, x, 32, null, null, y), "group_norm", "32 groups", "[2,30,4,4]");
        Throws(() => Ops.GroupNorm(Cpu, x, 0, null, null, y), "group_norm", "0 groups");
        Throws(() => Ops.GroupNorm(Cpu, x, 3, g31, null, y), "group_norm", "gamma [31]", "[2,30,4,4]");
        Throws(() => Ops.GroupNorm(Cpu, x, 3, g30, g31, y), "group_norm", "beta [31]");
        Throws(() => Ops.GroupNorm(Cpu, x, 3, g30, g30, yBad), "group_norm", "y [2,30,4,5]", "x [2,30,4,4]");
        Throws(() => Ops.GroupNorm(Cpu, empty, 3, null, null, empty), "group_norm", "[2,30,0,4]", "zero-size");
        using var flat = Cpu.Allocate(30);
        Throws(() => Ops.GroupNorm(Cpu, flat, 3, null, null, flat), "group_norm", "[30]", "[N, C, *]");
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.GroupNorm(Cpu, x, 3, null, null, y, variant: 9));
    }

    [Fact]
    public void LayerNormRejectsBadInput()
    {
        using var x = Cpu.Allocate(3, 10); using var y = Cpu.Allocate(3, 10);
        using var g9 = Cpu.Allocate(9); using var y2 = Cpu.Allocate(3, 11); using var empty = Cpu.Allocate(DType.F32, 0, 10);
        Throws(() => Ops.LayerNorm(Cpu, x, g9, null, y), "layer_norm", "gamma [9]", "[3,10]");
        Throws(() => Ops.LayerNorm(Cpu, x, null, g9, y), "layer_norm", "beta [9]");
        Throws(() => Ops.LayerNorm(Cpu, x, null, null, y2), "layer_norm", "y [3,11]", "x [3,10]");
        Throws(() => Ops.LayerNorm(Cpu, empty, null, null, empty), "layer_norm", "[0,10]");
    }
}
