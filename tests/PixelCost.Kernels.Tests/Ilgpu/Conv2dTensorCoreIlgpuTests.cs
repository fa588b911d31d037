using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// Conv2dTensorCoreIlgpu (implicit GEMM on the mma tiles) on ILGPU's CPU accelerator vs the fp64 reference: 3×3 with
/// padding 1, stride 2, no padding, 1×1, channel counts off the 16/32/128 tiles, K = Cin·kh·kw across several 32-wide k
/// tiles, bias on/off, fp16 weights. Tolerance: Conv2dTensorCoreIlgpu.Atol (fp16 rounding of x and w over K taps).
/// </summary>
public class Conv2dTensorCoreIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private Conv2dTensorCoreIlgpu Conv
    {
        get
        {
            if (!ReferenceEquals(_acc, fx.Accelerator)) { _conv = new Conv2dTensorCoreIlgpu(fx.Accelerator); _acc = fx.Accelerator; }
            return _conv!;
        }
    }
    private static Conv2dTensorCoreIlgpu? _conv;
    private static Accelerator? _acc;

    [Theory]
    [InlineData(2, 3, 7, 7, 5, 3, 1, 1, true, false)]
    [InlineData(1, 4, 9, 6, 17, 3, 2, 1, false, false)]
    [InlineData(1, 16, 5, 5, 33, 1, 1, 0, true, false)]
    [InlineData(1, 1, 6, 8, 2, 3, 1, 0, true, false)]
    [InlineData(1, 20, 6, 5, 7, 3, 1, 1, true, true)]
    [InlineData(2, 5, 12, 13, 130, 3, 1, 1, false, true)]
    public void MatchesTheReference(int n, int cin, int h, int w, int cout, int k, int stride, int pad, bool bias, bool halfWeights)
    {
        var acc = fx.Accelerator;
        int[] xS = [n, cin, h, w], wS = [cout, cin, k, k];
        int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
        int[] yS = [n, cout, ho, wo];
        var d = Conv2dSpec.Validate(xS, wS, bias ? new[] { cout } : default, bias, yS, stride, pad);
        var xv = TestData.Uniform(Tensor.ElementCount(xS), 31 + h);
        var wv = TestData.Uniform(Tensor.ElementCount(wS), 32 + cout);
        var bv = TestData.Uniform(cout, 33);
        using var xb = acc.Allocate1D(xv);
        using var bb = acc.Allocate1D(bv);
        using var yb = acc.Allocate1D(Enumerable.Repeat(float.NaN, (int)Tensor.ElementCount(yS)).ToArray());
        if (halfWeights)
        {
            using var wb = acc.Allocate1D(Array.ConvertAll(wv, v => (ILGPU.Half)v));
            Conv.Run(acc.DefaultStream, xb.View, wb.View, bias ? bb.View : default, yb.View, d, 0);
        }
        else
        {
            using var wb = acc.Allocate1D(wv);
            Conv.Run(acc.DefaultStream, xb.View, wb.View, bias ? bb.View : default, yb.View, d, 1);
        }
        acc.Synchronize();
        var expected = new F64[Tensor.ElementCount(yS)];
        Conv2dReference.Conv2d<F64>(TestData.ToF64(xv), TestData.ToF64(wv), bias ? TestData.ToF64(bv) : [], expected, d);
        Close.All(TestData.ToFloat(expected), yb.GetAsArray1D(), Conv2dTensorCoreIlgpu.Atol(0, d, 0.5, 0.5, 0.5), 0, yS,
            $"conv tc n{n} cin{cin} {h}x{w} cout{cout} k{k} s{stride} p{pad} bias {bias} fp16 w {halfWeights}");
    }

    [Fact]
    public void VariantNames()
    {
        Assert.Equal("ilgpu.tc-f16", Conv2dTensorCoreIlgpu.VariantName(0, fx.Accelerator));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Conv2dTensorCoreIlgpu.VariantName(3, fx.Accelerator));
        Assert.Contains("conv2d", ex.Message);
    }
}
