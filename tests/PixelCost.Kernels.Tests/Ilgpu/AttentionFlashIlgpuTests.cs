using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// AttentionFlashIlgpu on ILGPU's CPU accelerator (mma emulated with the PTX fragment layout) vs the fp64 reference:
/// 2 heads, batch 2 where cheap, query lengths 1/17/40 (inside one 64-row tile and across the 16-row warp tiles), key
/// lengths 7/77 (tails of the 32-key tile), head dims 8/40/64 (zero-padded to 16/48/64), causal on/off, a custom scale.
/// Tolerance: AttentionFlashIlgpu.Atol (fp16 rounding of q, k, p, v).
/// </summary>
public class AttentionFlashIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private AttentionFlashIlgpu Flash
    {
        get
        {
            if (!ReferenceEquals(_acc, fx.Accelerator)) { _flash = new AttentionFlashIlgpu(fx.Accelerator); _acc = fx.Accelerator; }
            return _flash!;
        }
    }
    private static AttentionFlashIlgpu? _flash;
    private static Accelerator? _acc;

    private void Check(int b, int lq, int lk, int heads, int d, bool causal, float? scaleArg = null)
    {
        var acc = fx.Accelerator;
        int c = heads * d;
        var qv = TestData.Uniform((long)b * lq * c, 21 + lq);
        var kv = TestData.Uniform((long)b * lk * c, 22 + lk);
        var vv = TestData.Uniform((long)b * lk * c, 23 + d);
        float scale = scaleArg ?? 1f / MathF.Sqrt(d);
        using var qb = acc.Allocate1D(qv);
        using var kb = acc.Allocate1D(kv);
        using var vb = acc.Allocate1D(vv);
        using var ob = acc.Allocate1D(Enumerable.Repeat(float.NaN, b * lq * c).ToArray());
        Flash.Run(acc.DefaultStream, qb.View, kb.View, vb.View, ob.View, b, lq, lk, heads, d, scale, causal, 0);
        acc.Synchronize();
        var expected = new F64[b * lq * c];
        AttentionReference.Run<F64>(TestData.ToF64(qv), TestData.ToF64(kv), TestData.ToF64(vv), expected, b, lq, lk, heads, d,
            new F64(scale), causal);
        // Uniform data: |q|, |k|, |v| ≤ 0.5.
        double atol = AttentionFlashIlgpu.Atol(0, d, scale, 0.5, 0.5);
        Close.All(TestData.ToFloat(expected), ob.GetAsArray1D(), atol, 0, new[] { b, lq, c },
            $"flash b{b} lq{lq} lk{lk} h{heads} d{d} causal {causal} scale {scale}");
    }

    // Every lq, lk and d value appears with several partners (the full 3×2×3 product costs ~30 s on the simulator).
    [Theory]
    [InlineData(1, 7, 8)]
    [InlineData(1, 77, 64)]
    [InlineData(17, 7, 40)]
    [InlineData(17, 77, 8)]
    [InlineData(40, 7, 64)]
    [InlineData(40, 77, 40)]
    public void CrossAttentionShapes(int lq, int lk, int d) => Check(1, lq, lk, 2, d, false);

    [Theory]
    [InlineData(1, 8)]
    [InlineData(17, 40)]
    [InlineData(40, 64)]
    [InlineData(77, 8)]
    public void CausalSelfAttention(int l, int d) => Check(1, l, l, 2, d, true);

    [Fact]
    public void BatchTwoSelfAttentionAndCustomScale()
    {
        Check(2, 40, 40, 2, 40, false);
        Check(2, 17, 7, 2, 8, false, 0.7f);
    }

    [Fact]
    public void VariantNamesAndLimits()
    {
        Assert.Equal("ilgpu.flash-tc-f16", AttentionFlashIlgpu.VariantName(0, fx.Accelerator));
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionFlashIlgpu.VariantName(2, fx.Accelerator));
        Assert.True(AttentionFlashIlgpu.IsSupported(fx.Accelerator, 160));
        Assert.False(AttentionFlashIlgpu.IsSupported(fx.Accelerator, 161));
    }
}
