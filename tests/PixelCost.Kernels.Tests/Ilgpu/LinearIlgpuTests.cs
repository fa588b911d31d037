using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>The ILGPU linear variants on ILGPU's CPU accelerator vs the fp64 reference, with and without bias.</summary>
public class LinearIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private void Check(int variant, int rows, int K, int N, bool hasBias)
    {
        var acc = fx.Accelerator;
        var k = new LinearIlgpu(acc);
        var xv = TestData.Uniform((long)rows * K, rows + 7 * K);
        var wv = TestData.Uniform((long)N * K, N + 3);
        var bv = TestData.Uniform(N, 5 + N);
        using var x = acc.Allocate1D(xv);
        using var w = acc.Allocate1D(wv);
        using var b = acc.Allocate1D(bv);
        using var y = acc.Allocate1D(Enumerable.Repeat(float.NaN, rows * N).ToArray());
        var d = new LinearDims(rows, K, N, hasBias);
        k.Run(acc.DefaultStream, x.View, w.View, hasBias ? b.View : ArrayView<float>.Empty, y.View, d, variant);
        acc.Synchronize();
        var expected = new F64[rows * N];
        LinearReference.Linear<F64>(TestData.ToF64(xv), TestData.ToF64(wv), hasBias ? TestData.ToF64(bv) : [], expected, d);
        // fp32 dot product of K terms plus the bias add (TestData.DotAtol counts two extra terms).
        Close.All(TestData.ToFloat(expected), y.GetAsArray1D(), TestData.DotAtol(K), 0, new[] { rows, N },
            $"{LinearIlgpu.VariantName(variant, acc)} rows {rows} K {K} N {N} bias {hasBias}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void SizesWithAndWithoutBias(int variant)
    {
        foreach (var (r, k, n) in new[] { (1, 1, 1), (7, 12, 5), (77, 40, 33), (65, 33, 70), (3, 64, 64) })
        {
            Check(variant, r, k, n, true);
            Check(variant, r, k, n, false);
        }
    }
}
