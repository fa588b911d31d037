using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests;

public class Conv2dTests
{
    public static IEnumerable<object[]> Cases()
    {
        // n, cin, cout, h, w, k, stride, padding: channels not multiples of 8/16 or of MR = 6, odd H/W, output widths
        // below, at and above the 16-column sliver (so slivers span rows and the vector copy path runs), 1×1 fast path.
        yield return new object[] { 1, 3, 7, 9, 11, 3, 1, 1 };
        yield return new object[] { 2, 5, 19, 17, 18, 3, 1, 1 };
        yield return new object[] { 1, 17, 33, 20, 35, 3, 1, 0 };
        yield return new object[] { 1, 8, 16, 13, 13, 3, 2, 1 };
        yield return new object[] { 2, 9, 6, 21, 16, 3, 2, 0 };
        yield return new object[] { 1, 4, 5, 11, 9, 5, 1, 2 };
        yield return new object[] { 1, 6, 13, 12, 23, 5, 2, 2 };
        yield return new object[] { 2, 13, 21, 7, 19, 1, 1, 0 };   // 1×1: plain gemm on x[n]
        yield return new object[] { 1, 16, 32, 8, 8, 1, 1, 0 };
        yield return new object[] { 1, 7, 3, 9, 10, 1, 2, 0 };     // 1×1 with stride: implicit path
        yield return new object[] { 1, 7, 3, 5, 6, 1, 1, 1 };      // 1×1 with padding
        yield return new object[] { 1, 1, 1, 1, 1, 1, 1, 0 };
        yield return new object[] { 1, 2, 3, 1, 1, 3, 1, 1 };      // 1×1 image, 3×3 kernel: all but the centre tap in padding
        yield return new object[] { 1, 3, 2, 2, 3, 3, 1, 2 };      // padding 2 wider than the image
        yield return new object[] { 1, 40, 20, 16, 16, 3, 1, 1 };  // K = 360 > KC: two K blocks
        yield return new object[] { 3, 2, 5, 6, 7, 3, 2, 1 };      // batch 3 (whole images per thread)
        // Output widths 8, 16, 24 (runs starting on 8-column boundaries: the masked-load / masked-gather packer).
        yield return new object[] { 1, 5, 7, 16, 16, 3, 2, 1 };
        yield return new object[] { 1, 3, 4, 10, 32, 3, 2, 1 };
        yield return new object[] { 1, 3, 5, 8, 8, 3, 1, 1 };
        yield return new object[] { 1, 4, 9, 5, 24, 3, 1, 1 };
        yield return new object[] { 1, 2, 3, 9, 24, 5, 1, 2 };
        yield return new object[] { 1, 2, 3, 9, 48, 5, 2, 2 };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(int n, int cin, int cout, int h, int w, int k, int stride, int pad) =>
        Check(n, cin, cout, h, w, k, stride, pad, 0);

    // The 512-bit path (12×32 Vector512 kernel, 32-wide im2col slivers; emulated here): the same cases plus output
    // widths/channel counts around the 32-column sliver and the 12-row tile, and K = Cin·9 > KC = 128. Same tolerance.
    public static IEnumerable<object[]> Cases512()
    {
        foreach (var c in Cases()) yield return c;
        yield return new object[] { 1, 3, 12, 8, 32, 3, 1, 1 };    // Wo = 32: one full sliver per output row
        yield return new object[] { 1, 5, 13, 7, 33, 3, 1, 1 };    // Wo = 33, Cout = 13
        yield return new object[] { 1, 3, 25, 9, 31, 3, 1, 1 };    // Wo = 31, Cout = 25
        yield return new object[] { 2, 15, 11, 9, 65, 3, 2, 1 };   // stride 2, Wo = 33, K = 135 > KC
        yield return new object[] { 1, 17, 24, 6, 64, 1, 1, 0 };   // 1×1 gemm path, P = 384
        yield return new object[] { 1, 33, 7, 5, 17, 3, 1, 1 };    // K = 297: three K blocks
    }

    [Theory]
    [MemberData(nameof(Cases512))]
    public void Vector512MatchesReference(int n, int cin, int cout, int h, int w, int k, int stride, int pad) =>
        Check(n, cin, cout, h, w, k, stride, pad, 512);

    [Theory]
    [InlineData(1, 7, 13, 11, 35, 3, 1, 1)]
    [InlineData(1, 16, 25, 18, 18, 3, 2, 1)]
    [InlineData(2, 9, 12, 8, 8, 1, 1, 0)]
    public void Vector256And512PathsAgree(int n, int cin, int cout, int h, int w, int k, int stride, int pad)
    {
        int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
        var xv = TestData.Uniform(n * cin * h * w, 8); var wv = TestData.Uniform(cout * cin * k * k, 9); var bv = TestData.Uniform(cout, 10);
        var outs = new List<float[]>();
        foreach (int bits in new[] { 256, 512 })
        {
            using var cpu = new CpuAccelerator(2, bits);
            using var x = cpu.FromArray(xv, n, cin, h, w);
            using var wt = cpu.FromArray(wv, cout, cin, k, k);
            using var b = cpu.FromArray(bv, cout);
            using var y = cpu.Allocate(n, cout, ho, wo);
            Ops.Conv2d(cpu, x, wt, b, y, stride, pad);
            Assert.Equal(bits == 512 ? "cpu.v2-implicit-gemm-v512" : "cpu.v2-implicit-gemm", Assert.Single(cpu.Ledger.Entries).Variant);
            outs.Add(y.ToArray());
        }
        // Each within DotAtol(Cin·k²) of the exact result, so within twice that of each other.
        Close.All(outs[0], outs[1], 2 * TestData.DotAtol(cin * k * k), 0, new[] { n, cout, ho, wo }, $"conv2d 256 vs 512 {cin}->{cout} k{k} s{stride}");
    }

    private static void Check(int n, int cin, int cout, int h, int w, int k, int stride, int pad, int vectorBits)
    {
        int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
        foreach (bool hasBias in new[] { false, true })
            foreach (int threads in new[] { 1, 2 })
            {
                using var cpu = new CpuAccelerator(threads, vectorBits);
                var xv = TestData.Uniform(n * cin * h * w, 1); var wv = TestData.Uniform(cout * cin * k * k, 2); var bv = TestData.Uniform(cout, 3);
                using var x = cpu.FromArray(xv, n, cin, h, w);
                using var wt = cpu.FromArray(wv, cout, cin, k, k);
                using var b = cpu.FromArray(bv, cout);
                int[] yS = [n, cout, ho, wo];
                using var y = cpu.FromArray(TestData.Uniform(n * cout * ho * wo, 4), yS);  // stale values must be overwritten
                Ops.Conv2d(cpu, x, wt, hasBias ? b : null, y, stride, pad);
                var d = Conv2dSpec.Validate([n, cin, h, w], [cout, cin, k, k], hasBias ? [cout] : default, hasBias, yS, stride, pad);
                var expected = new F64[y.Length];
                Conv2dReference.Conv2d<F64>(TestData.ToF64(xv), TestData.ToF64(wv), hasBias ? TestData.ToF64(bv) : [], expected, d);
                // A dot product of Cin·k² terms (TestData.DotAtol), plus one rounding for the bias.
                Close.All(TestData.ToFloat(expected), y.ToArray(), TestData.DotAtol(cin * k * k), 0, yS,
                    $"conv2d v{cpu.VectorBits} {n}x{cin}x{h}x{w} -> {cout} k{k} s{stride} p{pad} bias {hasBias} t{threads}");
            }
    }

    [Theory]
    [InlineData(1, 1, 1, 1, 1, 1, 1, 0, false)]
    [InlineData(2, 3, 4, 5, 6, 3, 1, 1, true)]
    [InlineData(1, 2, 3, 7, 5, 3, 2, 1, true)]
    [InlineData(1, 2, 2, 6, 6, 5, 2, 2, false)]
    [InlineData(2, 3, 5, 4, 4, 1, 1, 0, true)]
    public void CountedReferenceEqualsSpec(int n, int cin, int cout, int h, int w, int k, int stride, int pad, bool hasBias)
    {
        int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
        var d = Conv2dSpec.Validate([n, cin, h, w], [cout, cin, k, k], hasBias ? [cout] : default, hasBias, [n, cout, ho, wo], stride, pad);
        var y = new Counted[n * cout * ho * wo];
        using var scope = Counted.Begin();
        Conv2dReference.Conv2d<Counted>(TestData.ToCounted(TestData.Uniform(n * cin * h * w, 1)),
            TestData.ToCounted(TestData.Uniform(cout * cin * k * k, 2)), hasBias ? TestData.ToCounted(TestData.Uniform(cout, 3)) : [], y, d);
        Assert.Equal(Conv2dSpec.Cost(d).ArithmeticOnly, scope.Counts.ToCost());
    }

    [Theory]
    [InlineData(new[] { 1, 3, 8, 8 }, new[] { 4, 2, 3, 3 }, -1, new[] { 1, 4, 8, 8 }, 1, 1, "input channels")]
    [InlineData(new[] { 1, 3, 8, 8 }, new[] { 4, 3, 3, 3 }, -1, new[] { 1, 4, 6, 6 }, 1, 1, "y must be [1,4,8,8]")]
    [InlineData(new[] { 1, 3, 8, 8 }, new[] { 4, 3, 3, 3 }, -1, new[] { 1, 4, 8, 8 }, 2, 1, "y must be [1,4,4,4]")]
    [InlineData(new[] { 3, 8, 8 }, new[] { 4, 3, 3, 3 }, -1, new[] { 1, 4, 8, 8 }, 1, 1, "x must be rank 4")]
    [InlineData(new[] { 1, 3, 8, 8 }, new[] { 4, 3, 3 }, -1, new[] { 1, 4, 8, 8 }, 1, 1, "w must be rank 4")]
    [InlineData(new[] { 1, 3, 8, 8 }, new[] { 4, 3, 3, 3 }, 3, new[] { 1, 4, 8, 8 }, 1, 1, "bias must be [4]")]
    [InlineData(new[] { 1, 0, 8, 8 }, new[] { 4, 0, 3, 3 }, -1, new[] { 1, 4, 8, 8 }, 1, 1, "zero-size")]
    [InlineData(new[] { 1, 3, 2, 2 }, new[] { 4, 3, 5, 5 }, -1, new[] { 1, 4, 1, 1 }, 1, 0, "larger than the padded input")]
    [InlineData(new[] { 1, 3, 8, 8 }, new[] { 4, 3, 3, 3 }, -1, new[] { 1, 4, 8, 8 }, 0, 1, "stride must be")]
    [InlineData(new[] { 1, 3, 8, 8 }, new[] { 4, 3, 3, 3 }, -1, new[] { 1, 4, 8, 8 }, 1, -1, "padding must be")]
    public void BadShapesThrowNamingOpAndShapes(int[] xS, int[] wS, int biasLen, int[] yS, int stride, int pad, string why)
    {
        using var cpu = new CpuAccelerator(1);
        using var x = cpu.Allocate(xS);
        using var w = cpu.Allocate(wS);
        using var b = biasLen >= 0 ? cpu.Allocate(biasLen) : null;
        using var y = cpu.Allocate(yS);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Conv2d(cpu, x, w, b, y, stride, pad));
        Assert.Contains("conv2d", ex.Message);
        Assert.Contains(Tensor.FormatShape(xS), ex.Message);
        Assert.Contains(Tensor.FormatShape(wS), ex.Message);
        Assert.Contains(why, ex.Message);
    }

    [Fact]
    public void OutputOverlappingInputOrWeightsThrows()
    {
        using var cpu = new CpuAccelerator(1);
        // y is x (1×1 conv keeps the shape): in-place is not allowed, the gather would read overwritten values.
        using var x = cpu.Allocate(1, 1, 7, 7);
        using var w1 = cpu.Allocate(1, 1, 1, 1);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Conv2d(cpu, x, w1, null, x.Reshape(1, 1, 7, 7)));
        Assert.Contains("conv2d", ex.Message);
        Assert.Contains("overlap", ex.Message);
        // y shares memory with w: w [4,1,4,4] and y [1,4,4,4] are both 64 floats of one buffer.
        using var x2 = cpu.Allocate(1, 1, 7, 7);
        using var w = cpu.Allocate(4, 1, 4, 4);
        ex = Assert.Throws<ArgumentException>(() => Ops.Conv2d(cpu, x2, w, null, w.Reshape(1, 4, 4, 4)));
        Assert.Contains("overlap", ex.Message);
        Assert.Contains("[4,1,4,4]", ex.Message);
    }
}
