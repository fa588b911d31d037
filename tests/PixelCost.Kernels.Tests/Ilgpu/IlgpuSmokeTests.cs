using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

public class IlgpuSmokeTests
{
    private static void Saxpy(Index1D i, ArrayView<float> x, ArrayView<float> y, float a) => y[i] = a * x[i] + y[i];

    private static void WarpSum(ArrayView<float> x, ArrayView<float> y)
    {
        int i = Grid.GlobalIndex.X;
        float v = x[i];
        for (int o = 16; o > 0; o >>= 1) v += Warp.ShuffleDown(v, o);
        if (Warp.LaneIdx == 0) y[i / 32] = v;
    }

    [Fact]
    public void CpuAcceleratorRunsAKernelWith32WideWarps()
    {
        using var ctx = IlgpuContexts.CreateCpuContext();
        using var acc = ctx.GetPreferredDevice(preferCPU: true).CreateAccelerator(ctx);
        Assert.Equal(32, acc.WarpSize);
        var k = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(Saxpy);
        using var x = acc.Allocate1D(Enumerable.Range(0, 100).Select(i => (float)i).ToArray());
        using var y = acc.Allocate1D(Enumerable.Repeat(1f, 100).ToArray());
        k(100, x.View, y.View, 2f);
        acc.Synchronize();
        var got = y.GetAsArray1D();
        for (int i = 0; i < 100; i++) Assert.Equal(2f * i + 1f, got[i]);

        var w = acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>>(WarpSum);
        using var xs = acc.Allocate1D(Enumerable.Range(0, 64).Select(i => (float)i).ToArray());
        using var ys = acc.Allocate1D<float>(2);
        w(new KernelConfig(1, 64), xs.View, ys.View);
        acc.Synchronize();
        var sums = ys.GetAsArray1D();
        Assert.Equal(Enumerable.Range(0, 32).Sum(), sums[0]);
        Assert.Equal(Enumerable.Range(32, 32).Sum(), sums[1]);
    }
}
