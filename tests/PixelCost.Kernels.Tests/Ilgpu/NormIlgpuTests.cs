using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;
using static PixelCost.Kernels.Tests.TestData;

namespace PixelCost.Kernels.Tests.Ilgpu;

public class NormIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private static readonly Dictionary<Accelerator, (GroupNormIlgpu G, LayerNormIlgpu L)> Cache = [];

    private (GroupNormIlgpu G, LayerNormIlgpu L) K
    {
        get
        {
            lock (Cache)
            {
                if (!Cache.TryGetValue(fx.Accelerator, out var k))
                    Cache[fx.Accelerator] = k = (new GroupNormIlgpu(fx.Accelerator) { MaxGroups = 4, MinChunk = 24 }, new LayerNormIlgpu(fx.Accelerator) { MaxGroups = 2 });
                return k;
            }
        }
    }

    // (N, C, S, groups): 1×1, a spatial size of 1, m = cpg·S with tails of the 32 lanes and of the 64-thread groups of
    // the CPU device (33, 65, 7·37 = 259), groups of one channel; the grid is capped at 4 groups so items (N·G up to 6)
    // and v2's chunks take the grid-stride loop; v2's chunks of ≥ 24 values (MinChunk) split m = 33, 65·2, 7·37 into 2, 6 and 8 chunks
    // (the CPU device's fill of 32 groups over 4, 1 and 4 items), the last one shorter. (Few items: ILGPU's CPU device pays a rendezvous of OS threads per barrier/shuffle.)
    [Theory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(2, 6, 5, 3)]
    [InlineData(1, 4, 33, 4)]
    [InlineData(1, 2, 65, 1)]
    [InlineData(2, 14, 37, 2)]
    public void GroupNormMatchesTheF64Reference(int n, int c, int s, int groups)
    {
        var x = Normal(n * c * s, seed: n * 1000 + c * 10 + s, mean: 3, std: 2); // an offset mean: two-pass matters
        var gamma = Normal(c, 7);
        var beta = Normal(c, 8);
        var (atol, rtol) = GroupNormIlgpu.Tolerance(0);
        var acc = fx.Accelerator;
        using var xb = acc.Allocate1D(x);
        using var yb = acc.Allocate1D<float>(x.Length);
        using var gb = acc.Allocate1D(gamma);
        using var bb = acc.Allocate1D(beta);
        // Every flag combination on v1; on v2 (the same normalise code after another statistics path) two of them.
        foreach (var (variant, affine, silu, eps, inPlace) in new[] { (1, true, false, 1e-5f, false), (1, false, true, 1e-6f, true),
            (1, true, true, 1e-5f, true), (2, true, false, 1e-5f, false), (2, false, true, 1e-6f, true) })
        {
            var expected = new F64[x.Length];
            GroupNormReference.Run<F64>(D(x), expected, n, c, s, groups, affine ? D(gamma) : default, affine ? D(beta) : default, eps, silu);
            ArrayView<float> g = affine ? gb.View : default, b = affine ? bb.View : default;
            ArrayView<float> y = yb.View;
            xb.CopyFromCPU(x); // an in-place run before overwrote it
            if (inPlace) y = xb.View;
            K.G.Run(acc.DefaultStream, xb.View, y, n, c, s, groups, g, b, eps, silu, variant);
            acc.Synchronize();
            var got = inPlace ? xb.GetAsArray1D() : yb.GetAsArray1D();
            Close.All(F(expected), got, atol, rtol, new[] { n, c, s }, $"group_norm v{variant} affine={affine} silu={silu} inPlace={inPlace}");
        }
    }

    // (rows, D): D = 1, tails of the 32 lanes (31, 33, 65); the grid is capped at 2 groups (4 warps on the CPU device),
    // so 9 and 11 rows take the grid-stride loop.
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 31)]
    [InlineData(9, 33)]
    [InlineData(5, 65)]
    [InlineData(11, 40)]
    public void LayerNormMatchesTheF64Reference(int rows, int d)
    {
        var x = Normal(rows * d, seed: rows * 100 + d, mean: -2, std: 3);
        var gamma = Normal(d, 17);
        var beta = Normal(d, 18);
        var (atol, rtol) = LayerNormIlgpu.Tolerance(0);
        var acc = fx.Accelerator;
        using var xb = acc.Allocate1D(x);
        using var yb = acc.Allocate1D<float>(x.Length);
        using var gb = acc.Allocate1D(gamma);
        using var bb = acc.Allocate1D(beta);
        foreach (var (withGamma, withBeta, inPlace) in new[] { (true, true, false), (false, false, true), (true, false, true) })
        {
            var expected = new F64[x.Length];
            LayerNormReference.Run<F64>(D(x), expected, d, withGamma ? D(gamma) : default, withBeta ? D(beta) : default, 1e-5f);
            ArrayView<float> y = yb.View;
            xb.CopyFromCPU(x); // an in-place run before overwrote it
            if (inPlace) y = xb.View;
            K.L.Run(acc.DefaultStream, xb.View, y, rows, d, withGamma ? gb.View : default, withBeta ? bb.View : default, 1e-5f, variant: 0);
            acc.Synchronize();
            var got = inPlace ? xb.GetAsArray1D() : yb.GetAsArray1D();
            Close.All(F(expected), got, atol, rtol, new[] { rows, d }, $"layer_norm gamma={withGamma} beta={withBeta} inPlace={inPlace}");
        }
    }
}
