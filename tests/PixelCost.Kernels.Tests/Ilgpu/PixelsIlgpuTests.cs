using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Pixels;
using PixelCost.Kernels.Reference;
using Xunit;
using static PixelCost.Kernels.Tests.TestData;

namespace PixelCost.Kernels.Tests.Ilgpu;

public class PixelsIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private static readonly Dictionary<Accelerator, PixelsIlgpu> Cache = [];

    private PixelsIlgpu K
    {
        get { lock (Cache) { if (!Cache.TryGetValue(fx.Accelerator, out var k)) Cache[fx.Accelerator] = k = new PixelsIlgpu(fx.Accelerator) { MaxGroups = 2 }; return k; } }
    }

    private Accelerator Acc => fx.Accelerator;

    // (H, W): one pixel, odd sizes, rows longer than a warp, more pixels than the capped grid (2 × 64 threads).
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(2, 33)]
    [InlineData(13, 11)]
    public void ImagesEqualTheF32ReferenceBitwise(int h, int w)
    {
        int n = h * w * 3;
        using var img = Acc.Allocate1D<float>(n);
        var expected = new float[n];

        PixelsReference.Noise<F32>(expected, seed: 77);
        K.RunNoise(Acc.DefaultStream, img.View, 77, 0);
        Acc.Synchronize();
        Assert.Equal(expected, img.GetAsArray1D());

        foreach (int scale in new[] { 1, 4, 5, 64 })
        {
            PixelsReference.SmoothNoise<F32>(expected, h, w, 0xfeed_beef_0123ul, scale);
            K.RunSmoothNoise(Acc.DefaultStream, img.View, h, w, 0xfeed_beef_0123ul, scale, 0);
            Acc.Synchronize();
            Assert.Equal(expected, img.GetAsArray1D());
        }

        PixelsReference.Gradient<F32>(expected, h, w);
        K.RunGradient(Acc.DefaultStream, img.View, h, w, 0);
        Acc.Synchronize();
        Assert.Equal(expected, img.GetAsArray1D());

        foreach (int cell in new[] { 1, 3, 64 })
        {
            PixelsReference.Checkerboard<F32>(expected, h, w, cell);
            K.RunCheckerboard(Acc.DefaultStream, img.View, h, w, cell, 0);
            Acc.Synchronize();
            Assert.Equal(expected, img.GetAsArray1D());
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(33)]
    [InlineData(500)]
    public void QuantizeEqualsTheReferenceBitwise(int n)
    {
        var src = Array.ConvertAll(Uniform(n, n), v => v * 1.4f + 0.5f); // [−0.2, 1.2): both clamps
        float[] special = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 1f, 0.5f / 255f, 1.5f / 255f, 254.5f / 255f];
        for (int i = 0; i < Math.Min(n, special.Length); i++) src[i] = special[i];
        var expected = new byte[n];
        PixelsReference.Quantize<F32>(src, expected);
        using var sb = Acc.Allocate1D(src);
        using var db = Acc.Allocate1D<byte>(n);
        K.RunQuantizeU8(Acc.DefaultStream, sb.View, db.View, 0);
        Acc.Synchronize();
        Assert.Equal(expected, db.GetAsArray1D());
    }
}
