using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>The ILGPU implicit-GEMM conv2d on ILGPU's CPU accelerator vs the fp64 reference.</summary>
public class Conv2dIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private void Check(int variant, int n, int cin, int h, int w, int cout, int k, int stride, int pad, bool hasBias)
    {
        var acc = fx.Accelerator;
        var kern = new Conv2dIlgpu(acc);
        int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
        var d = Conv2dSpec.Validate([n, cin, h, w], [cout, cin, k, k], hasBias ? [cout] : default, hasBias, [n, cout, ho, wo], stride, pad);
        var xv = TestData.Uniform((long)n * cin * h * w, h * 13 + cin);
        var wv = TestData.Uniform((long)cout * cin * k * k, cout + k);
        var bv = TestData.Uniform(cout, 9 + cout);
        using var x = acc.Allocate1D(xv);
        using var wb = acc.Allocate1D(wv);
        using var b = acc.Allocate1D(bv);
        using var y = acc.Allocate1D(Enumerable.Repeat(float.NaN, n * cout * ho * wo).ToArray());
        kern.Run(acc.DefaultStream, x.View, wb.View, hasBias ? b.View : ArrayView<float>.Empty, y.View, d, variant);
        acc.Synchronize();
        var expected = new F64[n * cout * ho * wo];
        Conv2dReference.Conv2d<F64>(TestData.ToF64(xv), TestData.ToF64(wv), hasBias ? TestData.ToF64(bv) : [], expected, d);
        // fp32 dot product of Cin·k·k terms plus the bias add.
        Close.All(TestData.ToFloat(expected), y.GetAsArray1D(), TestData.DotAtol(cin * k * k), 0, new[] { n, cout, ho, wo },
            $"{Conv2dIlgpu.VariantName(variant, acc)} x[{n},{cin},{h},{w}] w[{cout},{cin},{k},{k}] s{stride} p{pad} bias {hasBias}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void KernelsStridesPaddings(int variant)
    {
        Check(variant, 1, 1, 1, 1, 1, 1, 1, 0, true);       // everything 1
        Check(variant, 2, 3, 9, 11, 5, 3, 1, 1, true);      // 3×3 same-padding, odd sizes
        Check(variant, 1, 4, 10, 7, 6, 3, 2, 1, false);     // the UNet's downsampling conv: 3×3 stride 2 pad 1
        Check(variant, 2, 5, 8, 9, 70, 1, 1, 0, true);      // 1×1: the gemm path, Cout past one 64-tile
        Check(variant, 1, 6, 6, 6, 3, 1, 2, 0, true);       // 1×1 stride 2: the implicit-gemm path
        Check(variant, 1, 3, 5, 4, 2, 5, 1, 2, true);       // 5×5 with padding 2
        Check(variant, 1, 2, 12, 13, 9, 3, 1, 0, false);    // no padding, Ho·Wo = 110 crosses a 64-pixel tile
        Check(variant, 1, 20, 4, 4, 4, 3, 1, 1, true);      // K = 180 over several K slabs
    }
}
