using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>The ILGPU softmax on ILGPU's CPU accelerator vs the fp64 reference (rows of every warp tail, in place).</summary>
public class SoftmaxIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private SoftmaxIlgpu? _k;

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(9, 31)]
    [InlineData(17, 32)]
    [InlineData(8, 33)]
    [InlineData(5, 100)]
    [InlineData(2, 1000)]
    [InlineData(40, 77)]
    public void RowsMatchReference(int rows, int d)
    {
        foreach (bool inPlace in new[] { false, true })
        {
            var acc = fx.Accelerator;
            _k ??= new SoftmaxIlgpu(acc);
            // Scores of a realistic spread (|x| ≤ 10) so the max subtraction matters.
            var xv = TestData.Uniform((long)rows * d, rows * 31 + d).Select(v => v * 20f).ToArray();
            using var x = acc.Allocate1D(xv);
            using var y = acc.Allocate1D<float>(xv.Length);
            var yView = inPlace ? x.View : y.View;
            _k.Run(acc.DefaultStream, x.View, yView, rows, d, 0);
            acc.Synchronize();
            var got = inPlace ? x.GetAsArray1D() : y.GetAsArray1D();
            var expected = new F64[xv.Length];
            SoftmaxReference.Run<F64>(TestData.ToF64(xv), expected, rows, d);
            var (atol, rtol) = SoftmaxIlgpu.Tolerance(1);
            Close.All(TestData.ToFloat(expected), got, atol, rtol, new[] { rows, d }, $"softmax {rows}x{d} inPlace {inPlace}");
        }
    }

    [Fact]
    public void VariantNames()
    {
        Assert.Equal("ilgpu.v1-warp-rows", SoftmaxIlgpu.VariantName(0, fx.Accelerator));
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxIlgpu.VariantName(2, fx.Accelerator));
    }
}
