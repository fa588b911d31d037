using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>The ILGPU attention variants on ILGPU's CPU accelerator vs the fp64 reference: heads, cross lengths, causal,
/// head dims of the SD models (40, 64, 80, 160) and of each tiled-kernel capacity (≤ 64, ≤ 128, ≤ 256, ≤ 512).</summary>
public class AttentionIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private void Check(AttentionIlgpu kern, int variant, int b, int lq, int lk, int heads, int d, bool causal = false, float? scale = null)
    {
        var acc = fx.Accelerator;
        int c = heads * d;
        float sc = scale ?? 1f / MathF.Sqrt(d);
        // Values in [-1, 1): the tolerance's assumption.
        var qv = TestData.Uniform((long)b * lq * c, lq + 3 * d).Select(x => 2 * x).ToArray();
        var kv = TestData.Uniform((long)b * lk * c, lk + 5 * d).Select(x => 2 * x).ToArray();
        var vv = TestData.Uniform((long)b * lk * c, lk + 7 * d).Select(x => 2 * x).ToArray();
        using var q = acc.Allocate1D(qv);
        using var k = acc.Allocate1D(kv);
        using var v = acc.Allocate1D(vv);
        using var o = acc.Allocate1D(Enumerable.Repeat(float.NaN, qv.Length).ToArray());
        kern.Run(acc.DefaultStream, q.View, k.View, v.View, o.View, b, lq, lk, heads, d, sc, causal, variant);
        acc.Synchronize();
        var expected = new F64[qv.Length];
        AttentionReference.Run<F64>(TestData.ToF64(qv), TestData.ToF64(kv), TestData.ToF64(vv), expected, b, lq, lk, heads, d, new F64(sc), causal);
        var (atol, rtol) = AttentionIlgpu.Tolerance(variant);
        Close.All(TestData.ToFloat(expected), o.GetAsArray1D(), atol, rtol, new[] { b, lq, c },
            $"{AttentionIlgpu.VariantName(variant, acc, d)} b{b} lq{lq} lk{lk} h{heads} d{d} causal {causal}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ShapesHeadsCausal(int variant)
    {
        using var kern = new AttentionIlgpu(fx.Accelerator);
        Check(kern, variant, 1, 1, 1, 1, 1);
        Check(kern, variant, 1, 17, 33, 2, 40);                 // cross-attention, tails of the 16-query and 32-key tiles
        Check(kern, variant, 1, 18, 18, 2, 64, causal: true);   // causal across two query tiles
        Check(kern, variant, 1, 9, 7, 3, 80);                   // fewer keys than one tile
        Check(kern, variant, 1, 5, 40, 1, 160, scale: 0.3f);    // two 128-dim chunks
        Check(kern, variant, 1, 3, 6, 1, 300);                  // four 128-dim chunks
    }

    [Fact]
    public void VariantNames()
    {
        Assert.Equal("ilgpu.v2-tiled-online", AttentionIlgpu.VariantName(0, fx.Accelerator));
        Assert.Equal("ilgpu.v1-naive", AttentionIlgpu.VariantName(1, fx.Accelerator));
        Assert.Equal("ilgpu.v1-naive", AttentionIlgpu.VariantName(2, fx.Accelerator, 513));
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionIlgpu.VariantName(3, fx.Accelerator));
    }
}
