using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Noise;
using PixelCost.Kernels.Pixels;
using PixelCost.Kernels.Reference;
using Xunit;

namespace PixelCost.Kernels.Tests;

public class PixelsTests
{
    // (H, W): every row length 3W mod 8 (W = 1..8 covers all tails of a Vector256 row) and mod 16 (with W = 13, 14, 31, 64,
    // 300: all tails of a Vector512 row), odd sizes, 1×1, tall and wide.
    public static IEnumerable<object[]> Images()
    {
        for (int w = 1; w <= 11; w++) yield return [1 + w % 3, w];
        foreach (var (h, w) in new[] { (1, 1), (7, 13), (17, 31), (33, 5), (64, 64), (65, 33), (3, 300), (200, 3), (5, 14) })
            yield return [h, w];
    }

    // Each kernel does the reference's float operations in the same order (only hoisted): exact equality.
    [Theory]
    [MemberData(nameof(Images))]
    public void NoiseEqualsReference(int h, int w)
    {
        var expected = new float[h * w * 3];
        PixelsReference.Noise<F32>(expected, 42);
        using var acc = new CpuAccelerator(2);
        using var img = acc.Allocate(h, w, 3);
        Ops.PixelsNoise(acc, img, 42);
        Assert.Equal(expected, img.ToArray());
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void SmoothNoiseEqualsReference(int h, int w)
    {
        foreach (int scale in new[] { 1, 2, 3, 7, 16, 1000 })
        {
            var expected = new float[h * w * 3];
            PixelsReference.SmoothNoise<F32>(expected, h, w, 9, scale);
            using var acc = new CpuAccelerator(2);
            using var img = acc.Allocate(h, w, 3);
            Ops.PixelsSmoothNoise(acc, img, 9, scale);
            Assert.Equal(expected, img.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void GradientEqualsReference(int h, int w)
    {
        var expected = new float[h * w * 3];
        PixelsReference.Gradient<F32>(expected, h, w);
        using var acc = new CpuAccelerator(2);
        using var img = acc.Allocate(h, w, 3);
        Ops.PixelsGradient(acc, img);
        Assert.Equal(expected, img.ToArray());
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void CheckerboardEqualsReference(int h, int w)
    {
        foreach (int cell in new[] { 1, 2, 5, 64 })
        {
            var expected = new float[h * w * 3];
            PixelsReference.Checkerboard<F32>(expected, h, w, cell);
            using var acc = new CpuAccelerator(2);
            using var img = acc.Allocate(h, w, 3);
            Ops.PixelsCheckerboard(acc, img, cell);
            Assert.Equal(expected, img.ToArray());
        }
    }

    public static IEnumerable<object[]> Lengths()
    {
        for (int n = 0; n <= 40; n++) yield return [n];
        foreach (int n in new[] { 63, 64, 65, 1000, 70001 }) yield return [n];
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void QuantizeEqualsReference(int n)
    {
        // Out of range, exact halves (k + 0.5)/255, NaN, ±∞, and values in between.
        var rng = new Random(n);
        var src = new float[n];
        for (int i = 0; i < n; i++)
            src[i] = (i % 7) switch
            {
                0 => (float)(rng.NextDouble() * 1.4 - 0.2),
                1 => (rng.Next(256) + 0.5f) / 255f,
                2 => float.NaN,
                3 => rng.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity,
                4 => rng.Next(256) / 255f,
                _ => (float)rng.NextDouble(),
            };
        var expected = new byte[n];
        PixelsReference.Quantize<F32>(src, expected);
        using var acc = new CpuAccelerator(2);
        using var s = acc.FromArray(src, n);
        using var d = acc.Allocate(DType.U8, n);
        Ops.QuantizeU8(acc, s, d);
        Assert.Equal(expected, d.AsSpan<byte>().ToArray());
    }

    [Fact]
    public void QuantizeRoundsAndClampsAsSpecified()
    {
        // Independent of our reference: hand-derived values of floor(clamp(v)·255 + 0.5).
        float[] v = [-1f, 0f, 0.5f, 1f, 2f, float.NaN, 1f / 255f, 0.0019f, 0.002f, 100f / 255f];
        byte[] want = [0, 0, 128, 255, 255, 0, 1, 0, 1, 100];
        using var acc = new CpuAccelerator(1);
        using var s = acc.FromArray(v, v.Length);
        using var d = acc.Allocate(DType.U8, v.Length);
        Ops.QuantizeU8(acc, s, d);
        Assert.Equal(want, d.AsSpan<byte>().ToArray());
    }

    [Fact]
    public void MapsHaveTheirDocumentedValues()
    {
        using var acc = new CpuAccelerator(1);
        using var img = acc.Allocate(4, 6, 3);
        Ops.PixelsGradient(acc, img);
        var g = img.AsSpan();
        Assert.Equal(1f / 12, g[0], 6);                      // R at x = 0: (2·0+1)/(2·6)
        Assert.Equal(11f / 12, g[(0 * 6 + 5) * 3], 6);      // R at x = 5
        Assert.Equal(7f / 8, g[(3 * 6 + 0) * 3 + 1], 6);    // G at y = 3: (2·3+1)/(2·4)
        Assert.Equal(9f / 10, g[(3 * 6 + 5) * 3 + 2], 6);   // B at (5, 3): (5+3+1)/(6+4)
        Ops.PixelsCheckerboard(acc, img, 2);
        var c = img.AsSpan();
        Assert.Equal(1f, c[0]);                              // top-left cell white
        Assert.Equal(0f, c[(0 * 6 + 2) * 3]);                // next cell black
        Assert.Equal(0f, c[(2 * 6 + 0) * 3 + 2]);            // cell below black
        Assert.Equal(1f, c[(3 * 6 + 3) * 3 + 1]);            // diagonal cell white
        // Smooth noise equals the lattice values exactly at lattice points (tx = ty = 0).
        Ops.PixelsSmoothNoise(acc, img, 5, 3);
        var (x0, x1, x2, _) = Philox4x32.Block(1, 1, uint.MaxValue, uint.MaxValue, 5, 0);
        Assert.Equal((x0 >> 8) / 16777216f, img.AsSpan()[(3 * 6 + 3) * 3 + 0]);
        Assert.Equal((x1 >> 8) / 16777216f, img.AsSpan()[(3 * 6 + 3) * 3 + 1]);
        Assert.Equal((x2 >> 8) / 16777216f, img.AsSpan()[(3 * 6 + 3) * 3 + 2]);
    }

    [Fact]
    public void SmoothNoiseIsSmooth()
    {
        // Neighbouring pixels of value noise with scale s differ by at most 1.5/s (smoothstep's max slope 1.5 per cell).
        const int s = 16;
        using var acc = new CpuAccelerator(2);
        using var img = acc.Allocate(64, 64, 3);
        Ops.PixelsSmoothNoise(acc, img, 3, s);
        var v = img.AsSpan();
        for (int y = 0; y < 64; y++)
            for (int x = 0; x + 1 < 64; x++)
                for (int c = 0; c < 3; c++)
                    Assert.True(Math.Abs(v[(y * 64 + x + 1) * 3 + c] - v[(y * 64 + x) * 3 + c]) <= 1.5 / s + 1e-6);
        foreach (float f in v) Assert.InRange(f, 0f, 1f);
    }

    [Fact]
    public void OutputIsIndependentOfThreadCount()
    {
        const int h = 301, w = 257;
        float[][]? first = null;
        byte[]? firstQ = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var acc = new CpuAccelerator(threads);
            using var img = acc.Allocate(h, w, 3);
            using var q = acc.Allocate(DType.U8, h, w, 3);
            var maps = new List<float[]>();
            Ops.PixelsNoise(acc, img, 1); maps.Add(img.ToArray());
            Ops.PixelsSmoothNoise(acc, img, 1, 5); maps.Add(img.ToArray());
            Ops.PixelsGradient(acc, img); maps.Add(img.ToArray());
            Ops.PixelsCheckerboard(acc, img, 7); maps.Add(img.ToArray());
            Ops.QuantizeU8(acc, img, q);
            var qb = q.AsSpan<byte>().ToArray();
            if (first is null) { first = maps.ToArray(); firstQ = qb; continue; }
            for (int m = 0; m < maps.Count; m++) Assert.Equal(first[m], maps[m]);
            Assert.Equal(firstQ, qb);
        }
    }

    [Fact]
    public void CountedFlopsEqualSpec()
    {
        foreach (var (h, w) in new[] { (1, 1), (1, 2), (2, 1), (3, 5), (7, 13), (16, 16), (17, 9) })
        {
            var img = new float[h * w * 3];
            Check(PixelsSpec.NoiseCost(h, w), () => PixelsReference.Noise<Counted>(img, 3));
            foreach (int s in new[] { 1, 2, 3, 4, 8, 100 })
                Check(PixelsSpec.SmoothNoiseCost(h, w, s), () => PixelsReference.SmoothNoise<Counted>(img, h, w, 3, s));
            Check(PixelsSpec.GradientCost(h, w), () => PixelsReference.Gradient<Counted>(img, h, w));
            foreach (int cell in new[] { 1, 3 })
                Check(PixelsSpec.CheckerboardCost(h, w), () => PixelsReference.Checkerboard<Counted>(img, h, w, cell));
            var q = new byte[img.Length];
            Check(PixelsSpec.QuantizeCost(img.Length), () => PixelsReference.Quantize<Counted>(img, q));
        }

        static void Check(Cost spec, Action run)
        {
            using var s = Counted.Begin();
            run();
            Assert.Equal(spec.ArithmeticOnly, s.Counts.ToCost());
        }
    }

    [Fact]
    public void BadShapesAreRejectedWithOpAndShape()
    {
        using var acc = new CpuAccelerator(1);
        using var flat = acc.Allocate(4, 4);
        using var rgba = acc.Allocate(2, 2, 4);
        using var img = acc.Allocate(2, 2, 3);
        using var u8 = acc.Allocate(DType.U8, 2, 2, 3);
        using var u8Small = acc.Allocate(DType.U8, 2, 3);
        Expect("pixels.noise", "[4,4]", () => Ops.PixelsNoise(acc, flat, 1));
        Expect("pixels.gradient", "[2,2,4]", () => Ops.PixelsGradient(acc, rgba));
        Expect("pixels.smooth_noise", "[2,2,3]", () => Ops.PixelsSmoothNoise(acc, img, 1, 0));
        Expect("pixels.checkerboard", "[2,2,3]", () => Ops.PixelsCheckerboard(acc, img, -3));
        Expect("pixels.checkerboard", "[2,2,3]", () => Ops.PixelsCheckerboard(acc, u8, 1));
        Expect("pixels.quantize_u8", "[2,3]", () => Ops.QuantizeU8(acc, img, u8Small));
        Expect("pixels.quantize_u8", "[2,2,3]", () => Ops.QuantizeU8(acc, u8, img));
        // DType.F32 spelled out: a literal 0 as first argument would bind to the DType overload.
        using var empty = acc.Allocate(DType.F32, 0, 5, 3);
        Expect("pixels.gradient", "[0,5,3]", () => Ops.PixelsGradient(acc, empty));

        static void Expect(string op, string shape, Action a)
        {
            var e = Assert.Throws<ArgumentException>(a);
            Assert.Contains(op, e.Message);
            Assert.Contains(shape, e.Message);
        }
    }

    // ---- Vector512 path, forced (emulated in software on AVX2-only machines). Each map does the reference's float
    // operations in the same order on 16 lanes, so it is compared exactly, to the reference and to the 256-bit path.
    // Images() covers every row tail mod 16 (3W mod 16 for W = 1..11 plus the odd shapes). ----

    private static float[] Map(int bits, int h, int w, Action<CpuAccelerator, Tensor> fill, string variant)
    {
        using var acc = new CpuAccelerator(2, bits);
        using var img = acc.Allocate(h, w, 3);
        fill(acc, img);
        Assert.Equal(bits == 512 ? variant + "-v512" : variant, acc.Ledger.Entries[^1].Variant);
        return img.ToArray();
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Vector512MapsEqualReferenceAnd256(int h, int w)
    {
        var expected = new float[h * w * 3];
        PixelsReference.Noise<F32>(expected, 42);
        Assert.Equal(expected, Map(512, h, w, (a, t) => Ops.PixelsNoise(a, t, 42), "cpu.v2-simd"));
        Assert.Equal(Map(256, h, w, (a, t) => Ops.PixelsNoise(a, t, 42), "cpu.v2-simd"),
            Map(512, h, w, (a, t) => Ops.PixelsNoise(a, t, 42), "cpu.v2-simd"));

        foreach (int scale in new[] { 1, 3, 16, 1000 })
        {
            PixelsReference.SmoothNoise<F32>(expected, h, w, 9, scale);
            var got = Map(512, h, w, (a, t) => Ops.PixelsSmoothNoise(a, t, 9, scale), "cpu.v1-rows");
            Assert.Equal(expected, got);
            Assert.Equal(Map(256, h, w, (a, t) => Ops.PixelsSmoothNoise(a, t, 9, scale), "cpu.v1-rows"), got);
        }

        PixelsReference.Gradient<F32>(expected, h, w);
        var grad = Map(512, h, w, (a, t) => Ops.PixelsGradient(a, t), "cpu.v1-rows");
        Assert.Equal(expected, grad);
        Assert.Equal(Map(256, h, w, (a, t) => Ops.PixelsGradient(a, t), "cpu.v1-rows"), grad);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Vector512QuantizeEqualsReferenceAnd256(int n)
    {
        // The same mix as QuantizeEqualsReference: NaN (which Vector512.Max would propagate, unlike vmaxps), ±∞,
        // exact halves and out-of-range values.
        var rng = new Random(n + 1);
        var src = new float[n];
        for (int i = 0; i < n; i++)
            src[i] = (i % 8) switch
            {
                0 => (float)(rng.NextDouble() * 1.4 - 0.2),
                1 => (rng.Next(256) + 0.5f) / 255f,
                2 => float.NaN,
                3 => rng.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity,
                4 => rng.Next(256) / 255f,
                5 => -0f,
                _ => (float)rng.NextDouble(),
            };
        var expected = new byte[n];
        PixelsReference.Quantize<F32>(src, expected);
        var got = new byte[2][];
        foreach (int bits in new[] { 512, 256 })
        {
            using var acc = new CpuAccelerator(2, bits);
            using var s = acc.FromArray(src, n);
            using var d = acc.Allocate(DType.U8, n);
            Ops.QuantizeU8(acc, s, d);
            Assert.Equal(bits == 512 ? "cpu.v1-simd-v512" : "cpu.v1-simd", acc.Ledger.Entries[^1].Variant);
            got[bits == 512 ? 0 : 1] = d.AsSpan<byte>().ToArray();
        }
        Assert.Equal(expected, got[0]);
        Assert.Equal(got[1], got[0]);
    }
}
