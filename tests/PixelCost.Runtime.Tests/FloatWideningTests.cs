using System.Runtime.InteropServices;
using PixelCost.Runtime.Safetensors;
using Xunit;

namespace PixelCost.Runtime.Tests;

public sealed class FloatWideningTests
{
    public static TheoryData<int> Paths => new() { 0, 256, 512 };

    private static ushort[] AllPatterns() => Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();

    [Theory]
    [MemberData(nameof(Paths))]
    public void BFloat16EveryBitPatternIsExact(int bits)
    {
        var src = AllPatterns();
        var dst = new float[src.Length];
        FloatWidening.BFloat16ToSingle(src, dst, bits);
        for (int i = 0; i < src.Length; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(FloatWidening.BFloat16ToSingle(src[i])), BitConverter.SingleToInt32Bits(dst[i]));
        // the scalar definition itself: 1.0 is 0x3F80, -10 is 0xC120
        Assert.Equal(1f, FloatWidening.BFloat16ToSingle(0x3F80));
        Assert.Equal(-10f, FloatWidening.BFloat16ToSingle(0xC120));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void BFloat16EveryTailLengthAndMisalignment(int bits)
    {
        var rng = new Random(17);
        for (int offset = 0; offset < 4; offset++)
            for (int n = 0; n <= 3 * 32 + 1; n++)
            {
                var all = new ushort[offset + n];
                for (int i = 0; i < all.Length; i++) all[i] = (ushort)rng.Next(65536);
                var dst = new float[n + 1];
                dst[n] = 12345f;   // sentinel: nothing past the end is written
                FloatWidening.BFloat16ToSingle(all.AsSpan(offset, n), dst.AsSpan(0, n), bits);
                for (int i = 0; i < n; i++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(FloatWidening.BFloat16ToSingle(all[offset + i])), BitConverter.SingleToInt32Bits(dst[i]));
                Assert.Equal(12345f, dst[n]);
            }
    }

    private static void AssertSameFloat(float expected, float actual, string what)
    {
        // NaN payloads may be quieted differently by vector and scalar code; a NaN must stay a NaN of the same sign.
        if (float.IsNaN(expected))
        {
            Assert.True(float.IsNaN(actual), what);
            Assert.Equal(float.IsNegative(expected), float.IsNegative(actual));
        }
        else Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual), $"{what}: {actual:R} vs {expected:R}");
    }

    [Fact]
    public void HalfEveryBitPatternMatchesTheScalarCast()
    {
        var src = MemoryMarshal.Cast<ushort, Half>(AllPatterns().AsSpan()).ToArray();
        var dst = new float[src.Length];
        FloatWidening.HalfToSingle(src, dst);
        for (int i = 0; i < src.Length; i++) AssertSameFloat((float)src[i], dst[i], $"F16 0x{i:X4}");
    }

    [Fact]
    public void HalfEveryTailLengthAndMisalignment()
    {
        var rng = new Random(23);
        for (int offset = 0; offset < 4; offset++)
            for (int n = 0; n <= 3 * 32 + 1; n++)
            {
                var all = new Half[offset + n];
                for (int i = 0; i < all.Length; i++) all[i] = BitConverter.UInt16BitsToHalf((ushort)rng.Next(65536));
                var dst = new float[n + 1];
                dst[n] = 12345f;
                FloatWidening.HalfToSingle(all.AsSpan(offset, n), dst.AsSpan(0, n));
                for (int i = 0; i < n; i++) AssertSameFloat((float)all[offset + i], dst[i], $"n={n} i={i}");
                Assert.Equal(12345f, dst[n]);
            }
    }

    [Fact]
    public void LengthMismatchIsRejected()
    {
        Assert.Throws<ArgumentException>(() => FloatWidening.BFloat16ToSingle(new ushort[3], new float[4]));
        Assert.Throws<ArgumentException>(() => FloatWidening.HalfToSingle(new Half[3], new float[2]));
    }

    [Fact]
    public void ReaderWidensF16AndBF16FilesOfOddLengths()
    {
        string dir = Directory.CreateTempSubdirectory("pixelcost-widen-").FullName;
        try
        {
            var rng = new Random(5);
            foreach (int n in new[] { 1, 15, 16, 17, 33, 1000 })
            {
                var h = new Half[n];
                var b = new ushort[n];
                for (int i = 0; i < n; i++) { h[i] = (Half)(rng.NextDouble() * 200 - 100); b[i] = (ushort)rng.Next(65536); }
                string p = Path.Combine(dir, $"w{n}.safetensors");
                new SafetensorsWriter().Add("h", h, n).AddRaw("b", SafetensorsDType.BF16, [n], MemoryMarshal.AsBytes(b.AsSpan()).ToArray()).Save(p);
                using var f = SafetensorsFile.Open(p);
                Assert.Equal(h.Select(x => (float)x), f.ReadFloats("h"));
                var got = f.ReadFloats("b");
                for (int i = 0; i < n; i++) AssertSameFloat(FloatWidening.BFloat16ToSingle(b[i]), got[i], $"bf16 {i}");
            }
        }
        finally { Directory.Delete(dir, true); }
    }
}
