using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;
using static PixelCost.Kernels.Tests.TestData;

namespace PixelCost.Kernels.Tests.Ilgpu;

public class GlueIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private static readonly Dictionary<Accelerator, GlueIlgpu> Cache = [];

    private GlueIlgpu K
    {
        get { lock (Cache) { if (!Cache.TryGetValue(fx.Accelerator, out var k)) Cache[fx.Accelerator] = k = new GlueIlgpu(fx.Accelerator) { MaxGroups = 2 }; return k; } }
    }

    private Accelerator Acc => fx.Accelerator;

    // (N, C, S): 1 element, odd planes, tails of 32 and 64, more elements than the capped grid (2 × 64 threads).
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 3, 5)]
    [InlineData(1, 5, 33)]
    [InlineData(3, 7, 13)]
    public void ElementwiseEqualTheF32Reference(int n, int c, int s)
    {
        int len = n * c * s;
        var a = Uniform(len, 1); var b = Uniform(len, 2); var bias = Uniform(n * c, 3);
        using var ab = Acc.Allocate1D(a); using var bb = Acc.Allocate1D(b); using var biasb = Acc.Allocate1D(bias);
        using var yb = Acc.Allocate1D<float>(len);
        // One fp32 operation per element, as the reference with F32: bitwise (and within 2⁻²⁴ of F64: Tolerance).
        var expected = new F32[len];
        GlueReference.Add<F32>(S(a), S(b), expected);
        K.RunAdd(Acc.DefaultStream, ab.View, bb.View, yb.View, 0);
        Acc.Synchronize();
        Assert.Equal(F(expected), yb.GetAsArray1D());

        GlueReference.AddChannelBias<F32>(S(a), S(bias), expected, n, c, s);
        K.RunAddChannelBias(Acc.DefaultStream, ab.View, biasb.View, yb.View, s, 0);
        Acc.Synchronize();
        Assert.Equal(F(expected), yb.GetAsArray1D());

        GlueReference.Scale<F32>(S(a), new F32(-1.7f), expected);
        K.RunScale(Acc.DefaultStream, ab.View, -1.7f, yb.View, 0);
        Acc.Synchronize();
        Assert.Equal(F(expected), yb.GetAsArray1D());

        // In place (y = the first input), all three in a row.
        var inPlace = a.ToArray();
        GlueReference.Add<F32>(S(inPlace), S(b), expected); inPlace = F(expected);
        GlueReference.AddChannelBias<F32>(S(inPlace), S(bias), expected, n, c, s); inPlace = F(expected);
        GlueReference.Scale<F32>(S(inPlace), new F32(0.3f), expected);
        using var xb = Acc.Allocate1D(a);
        K.RunAdd(Acc.DefaultStream, xb.View, bb.View, xb.View, 0);
        K.RunAddChannelBias(Acc.DefaultStream, xb.View, biasb.View, xb.View, s, 0);
        K.RunScale(Acc.DefaultStream, xb.View, 0.3f, xb.View, 0);
        Acc.Synchronize();
        Assert.Equal(F(expected), xb.GetAsArray1D());
    }

    [Theory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(2, 3, 1, 5)]
    [InlineData(1, 2, 5, 7)]
    public void ConcatChannelsIsExact(int n, int ca, int cb, int s)
    {
        var a = Uniform(n * ca * s, 4); var b = Uniform(n * cb * s, 5);
        var expected = new float[n * (ca + cb) * s];
        GlueReference.Concat<float>(a, b, expected, n, ca, cb, s);
        using var ab = Acc.Allocate1D(a); using var bb = Acc.Allocate1D(b); using var yb = Acc.Allocate1D<float>(expected.Length);
        K.RunConcatChannels(Acc.DefaultStream, ab.View, bb.View, yb.View, ca, cb, s, 0);
        Acc.Synchronize();
        Assert.Equal(expected, yb.GetAsArray1D());
    }

    [Theory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(2, 3, 3, 5)]
    [InlineData(1, 2, 7, 4)]
    public void Upsample2xNearestIsExact(int n, int c, int h, int w)
    {
        var x = Uniform(n * c * h * w, 6);
        var expected = new float[n * c * 4 * h * w];
        GlueReference.Upsample2xNearest<float>(x, expected, n, c, h, w);
        using var xb = Acc.Allocate1D(x); using var yb = Acc.Allocate1D<float>(expected.Length);
        K.RunUpsample2xNearest(Acc.DefaultStream, xb.View, yb.View, h, w, 0);
        Acc.Synchronize();
        Assert.Equal(expected, yb.GetAsArray1D());
    }

    // SD's 320 (flip, shift 0), odd dims (zero pad), a shift of 1, timesteps up to 999.
    [Theory]
    [InlineData(2, 320, true, 0f)]
    [InlineData(3, 7, false, 1f)]
    [InlineData(1, 33, true, 0f)]
    public void TimestepEmbeddingMatchesTheF64Formula(int n, int dim, bool flip, float shift)
    {
        var t = Enumerable.Range(0, n).Select(i => (float)(999 - 333 * i + 0.5 * i)).ToArray();
        var expected = new F64[n * dim];
        GlueReference.TimestepEmbedding<F64>(D(t), expected, dim, flip, shift, 10000f);
        using var tb = Acc.Allocate1D(t); using var yb = Acc.Allocate1D<float>(n * dim);
        K.RunTimestepEmbedding(Acc.DefaultStream, tb.View, yb.View, dim, flip, shift, 10000f, 0);
        Acc.Synchronize();
        var (atol, rtol) = GlueIlgpu.TimestepTolerance(0, t.Max(Math.Abs)); // measured worst 1.05e-4 at t = 999, dim 320
        var got = yb.GetAsArray1D();
        Close.All(F(expected), got, atol, rtol, new[] { n, dim }, $"timestep n={n} dim={dim}");
        if (dim % 2 == 1) for (int b = 0; b < n; b++) Assert.Equal(0f, got[b * dim + dim - 1]);
    }
}
