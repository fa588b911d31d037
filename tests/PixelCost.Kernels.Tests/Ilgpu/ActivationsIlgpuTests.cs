using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;
using static PixelCost.Kernels.Tests.TestData;

namespace PixelCost.Kernels.Tests.Ilgpu;

public class ActivationsIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private static readonly Dictionary<Accelerator, ActivationsIlgpu> Cache = [];

    private ActivationsIlgpu K
    {
        get { lock (Cache) { if (!Cache.TryGetValue(fx.Accelerator, out var k)) Cache[fx.Accelerator] = k = new ActivationsIlgpu(fx.Accelerator) { MaxGroups = 2 }; return k; } }
    }

    /// <summary>Values in [−20, 20] (the range the tolerances are stated for) with 0, ±tiny and the branch points of the fits.</summary>
    private static float[] Inputs(int n, int seed)
    {
        var x = Array.ConvertAll(Uniform(n, seed), v => v * 40f);
        float[] special = [0f, -0f, 1e-6f, -1e-6f, 20f, -20f, 3.92f * 1.41421356f, -3.92f * 1.41421356f, 0.5f, -3f];
        for (int i = 0; i < Math.Min(n, special.Length); i++) x[i] = special[i];
        return x;
    }

    // Tails of the 32-lane warp and of the 64-thread CPU-device group; 1000 > the capped grid (2 × 64): stride loop.
    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(65)]
    [InlineData(1000)]
    public void UnaryMatchesTheF64Reference(int n)
    {
        var x = Inputs(n, n);
        var acc = fx.Accelerator;
        using var xb = acc.Allocate1D(x);
        using var yb = acc.Allocate1D<float>(n);
        foreach (int variant in new[] { 1, 2 })
        foreach (var f in Enum.GetValues<ActivationsIlgpu.Unary>())
        {
            var expected = new F64[n];
            switch (f)
            {
                case ActivationsIlgpu.Unary.Silu: ActivationsReference.Silu<F64>(D(x), expected); break;
                case ActivationsIlgpu.Unary.QuickGelu: ActivationsReference.QuickGelu<F64>(D(x), expected); break;
                case ActivationsIlgpu.Unary.GeluErf: ActivationsReference.Gelu<F64>(D(x), expected, GeluApproximation.Erf); break;
                default: ActivationsReference.Gelu<F64>(D(x), expected, GeluApproximation.Tanh); break;
            }
            var (atol, rtol) = ActivationsIlgpu.Tolerance(0, f);
            K.Run(acc.DefaultStream, xb.View, yb.View, f, variant);
            acc.Synchronize();
            Close.All(F(expected), yb.GetAsArray1D(), atol, rtol, new[] { n }, $"{f} v{variant} n={n}");
            // In place: the same values.
            using var inPlace = acc.Allocate1D(x);
            K.Run(acc.DefaultStream, inPlace.View, inPlace.View, f, variant);
            acc.Synchronize();
            Assert.Equal(yb.GetAsArray1D(), inPlace.GetAsArray1D());
        }
    }

    [Fact]
    public void Vec4FallsBackOnUnalignedViewsAndEqualsTheScalarPath()
    {
        // Views starting 1 and 4 floats into their buffers (4 B: not 16-byte aligned; 16 B: aligned), tails 0…3.
        var acc = fx.Accelerator;
        var x = Inputs(203, 9);
        using var xb = acc.Allocate1D(x);
        using var y1 = acc.Allocate1D<float>(203);
        using var y2 = acc.Allocate1D<float>(203);
        y1.MemSetToZero(); y2.MemSetToZero();
        // Fresh buffers are 16-byte aligned, so offset 4 takes the vector path and offset 1 the fallback.
        Assert.Equal(0L, ((ArrayView<float>)xb.View).LoadEffectiveAddressAsPtr().ToInt64() & 15);
        Assert.Equal(0L, ((ArrayView<float>)y2.View).LoadEffectiveAddressAsPtr().ToInt64() & 15);
        foreach (int offset in new[] { 1, 4 })
            foreach (int len in new[] { 4, 5, 6, 7, 198 })
            {
                K.Run(acc.DefaultStream, xb.View.SubView(offset, len), y1.View.SubView(offset, len), ActivationsIlgpu.Unary.GeluErf, 1);
                K.Run(acc.DefaultStream, xb.View.SubView(offset, len), y2.View.SubView(offset, len), ActivationsIlgpu.Unary.GeluErf, 2);
                acc.Synchronize();
                Assert.Equal(y1.GetAsArray1D(), y2.GetAsArray1D());
            }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(2, 33)]
    [InlineData(7, 20)]
    public void GegluMatchesTheF64Reference(int rows, int d)
    {
        var x = Inputs(rows * 2 * d, rows * 100 + d);
        var expected = new F64[rows * d];
        ActivationsReference.Geglu<F64>(D(x), expected, d);
        var acc = fx.Accelerator;
        using var xb = acc.Allocate1D(x);
        using var yb = acc.Allocate1D<float>(rows * d);
        K.RunGeglu(acc.DefaultStream, xb.View, yb.View, d, variant: 0);
        acc.Synchronize();
        // a·GELU(g) with |a| ≤ 20: the GELU tolerance scaled by |a|, plus one rounding.
        var (atol, rtol) = ActivationsIlgpu.Tolerance(0, ActivationsIlgpu.Unary.GeluErf);
        Close.All(F(expected), yb.GetAsArray1D(), 20 * atol, rtol + 6e-8, new[] { rows, d }, $"geglu [{rows},{2 * d}]");
    }
}
