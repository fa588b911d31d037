using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using PixelCost.Runtime.Imaging;
using Xunit;

namespace PixelCost.Runtime.Tests.Imaging;

public sealed class PngTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-png-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Random(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Smooth in x and y, different per channel: every filter has something to predict.</summary>
    private static byte[] Gradient(int w, int h, int ch)
    {
        var b = new byte[w * h * ch];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < ch; c++)
                    b[(y * w + x) * ch + c] = (byte)(x * (c + 1) + y * (3 - c) + 17 * c);
        return b;
    }

    public static TheoryData<PngColor, int, int> Shapes()
    {
        var d = new TheoryData<PngColor, int, int>();
        foreach (var c in new[] { PngColor.Gray, PngColor.Rgb, PngColor.Rgba })
            foreach (var (w, h) in new[] { (1, 1), (3, 5), (17, 9), (1024, 3), (5, 1), (1, 7) })
                d.Add(c, w, h);
        return d;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RoundTripsEveryColorTypeAndOddSizes(PngColor color, int w, int h)
    {
        int ch = Png.Channels(color);
        foreach (var pixels in new[] { Random(w * h * ch, w * 31 + h), Gradient(w, h, ch) })
        {
            var (got, gw, gh, gc) = Png.Decode(Png.Encode(pixels, w, h, color));
            Assert.Equal((w, h, color), (gw, gh, gc));
            Assert.Equal(pixels, got);
        }
    }

    [Theory]
    [InlineData(0)] // None
    [InlineData(1)] // Sub
    [InlineData(2)] // Up
    [InlineData(3)] // Average
    [InlineData(4)] // Paeth
    public void EachForcedFilterRoundTripsAndIsTheOneWritten(int filterType)
    {
        var filter = (PngFilter)filterType;
        foreach (var color in new[] { PngColor.Gray, PngColor.Rgb, PngColor.Rgba })
        {
            int w = 17, h = 9, ch = Png.Channels(color);
            // Random bytes make Average/Paeth see every carry and tie case, the gradient the usual one.
            foreach (var pixels in new[] { Random(w * h * ch, 7), Gradient(w, h, ch) })
            {
                byte[] file = Png.Encode(pixels, w, h, color, new PngEncodeOptions(filter));
                Assert.All(RowFilters(file, w, h, ch), f => Assert.Equal((byte)filter, f));
                Assert.Equal(pixels, Png.Decode(file).Pixels);
            }
        }
    }

    /// <summary>The filter definitions of PNG spec §9.2–9.4, one byte at a time, as the yardstick for the SIMD paths.</summary>
    private static byte ScalarFilter(int f, byte[] cur, byte[] prev, int bpp, int i)
    {
        int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
        int pred = f switch
        {
            0 => 0,
            1 => a,
            2 => b,
            3 => (a + b) / 2,
            _ => Math.Abs(b - c) <= Math.Abs(a - c) && Math.Abs(b - c) <= Math.Abs(a + b - 2 * c) ? a
                : Math.Abs(a - c) <= Math.Abs(a + b - 2 * c) ? b : c,
        };
        return (byte)(cur[i] - pred);
    }

    [Fact]
    public void FiltersMatchTheSpecDefinitionAtEveryVectorTail()
    {
        var rng = new Random(11);
        foreach (int bpp in new[] { 1, 3, 4 })
            for (int pixelsPerRow = 1; pixelsPerRow <= 70; pixelsPerRow++)
            {
                int n = pixelsPerRow * bpp;
                var cur = new byte[n];
                var prev = new byte[n];
                rng.NextBytes(cur);
                rng.NextBytes(prev);
                // Extremes exercise the wrap-around and Paeth's ties.
                if (pixelsPerRow % 5 == 0) { Array.Fill(cur, (byte)255); Array.Fill(prev, (byte)0, 0, n / 2); }
                for (int f = 0; f < 5; f++)
                {
                    var got = new byte[n];
                    Png.ApplyFilter((PngFilter)f, cur, prev, bpp, got);
                    for (int i = 0; i < n; i++)
                        Assert.True(ScalarFilter(f, cur, prev, bpp, i) == got[i], $"filter {f}, bpp {bpp}, row of {n} bytes, byte {i}");
                }
            }
    }

    [Fact]
    public void AdaptiveChoiceUsesSeveralFiltersOnMixedContent()
    {
        // Left half noise, right half smooth, top rows flat: the per-row choice should not be one filter for all.
        int w = 64, h = 64, ch = 3;
        var px = Gradient(w, h, ch);
        var noise = Random(w * h * ch, 3);
        for (int y = 32; y < h; y++) Array.Copy(noise, y * w * ch, px, y * w * ch, w * ch);
        for (int y = 0; y < 8; y++) Array.Fill(px, (byte)200, y * w * ch, w * ch);
        var filters = RowFilters(Png.Encode(px, w, h, PngColor.Rgb), w, h, ch).Distinct().Count();
        Assert.True(filters >= 2, $"only {filters} distinct filter(s) chosen");
    }

    [Fact]
    public void SmoothGradientCompressesFarSmallerThanNoise()
    {
        int w = 256, h = 256;
        var grad = Gradient(w, h, 3);
        var noise = Random(w * h * 3, 1);
        int g = Png.Encode(grad, w, h, PngColor.Rgb).Length, n = Png.Encode(noise, w, h, PngColor.Rgb).Length;
        // Noise cannot compress (≈ raw size); a filtered gradient is nearly all-constant residues.
        Assert.True(n > w * h * 3, $"noise {n} bytes");
        Assert.True(g * 20 < n, $"gradient {g} bytes vs noise {n} bytes");
        // And the filters are what makes it small: unfiltered the same gradient compresses much worse.
        int unfiltered = Png.Encode(grad, w, h, PngColor.Rgb, new PngEncodeOptions(PngFilter.None)).Length;
        Assert.True(g * 3 < unfiltered, $"adaptive {g} bytes vs filter None {unfiltered} bytes");
    }

    [Theory]
    [InlineData("", 0xFFFFFFFFu ^ 0xFFFFFFFFu)]
    [InlineData("123456789", 0xCBF43926u)] // the check value of CRC-32/ISO-HDLC
    [InlineData("IEND", 0xAE426082u)]      // the CRC every PNG ends with
    [InlineData("The quick brown fox jumps over the lazy dog", 0x414FA339u)]
    public void Crc32KnownValues(string text, uint expected) =>
        Assert.Equal(expected, Crc32.Compute(Encoding.ASCII.GetBytes(text)));

    [Fact]
    public void Crc32IncrementalEqualsOneShot()
    {
        var data = Random(1000, 5);
        uint c = Crc32.Initial;
        c = Crc32.Update(c, data.AsSpan(0, 333));
        c = Crc32.Update(c, data.AsSpan(333));
        Assert.Equal(Crc32.Compute(data), c ^ 0xFFFFFFFFu);
    }

    [Fact]
    public void FileEndsWithStandardIendChunk()
    {
        var file = Png.Encode(new byte[] { 1, 2, 3 }, 1, 1, PngColor.Rgb);
        Assert.Equal(new byte[] { 0, 0, 0, 0, (byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82 }, file[^12..]);
    }

    [Fact]
    public void LargeImagesUseSeveralIdatChunksAndDecode()
    {
        int w = 300, h = 300;
        var px = Random(w * h * 4, 9);
        var file = Png.Encode(px, w, h, PngColor.Rgba);
        Assert.True(Chunks(file).Count(c => c.Type == "IDAT") >= 2);
        Assert.Equal(px, Png.Decode(file).Pixels);
    }

    [Fact]
    public void DecodesAFileWithManySmallIdatChunks()
    {
        // Re-split our zlib stream into 7-byte IDATs, as other encoders may do.
        int w = 17, h = 9;
        var px = Gradient(w, h, 3);
        var file = Png.Encode(px, w, h, PngColor.Rgb);
        var chunks = Chunks(file);
        var z = chunks.Where(c => c.Type == "IDAT").SelectMany(c => c.Data).ToArray();
        var ms = new MemoryStream();
        ms.Write(file.AsSpan(0, 8));
        WriteChunk(ms, "IHDR", chunks[0].Data);
        WriteChunk(ms, "tEXt", Encoding.ASCII.GetBytes("Comment\0ancillary chunks are skipped"));
        for (int i = 0; i < z.Length; i += 7) WriteChunk(ms, "IDAT", z[i..Math.Min(z.Length, i + 7)]);
        WriteChunk(ms, "IEND", []);
        Assert.Equal(px, Png.Decode(ms.ToArray()).Pixels);
    }

    [Fact]
    public void CorruptInputThrowsInvalidDataNamingTheProblem()
    {
        var good = Png.Encode(Gradient(17, 9, 3), 17, 9, PngColor.Rgb);

        var ex = Assert.Throws<InvalidDataException>(() => Png.Decode(Encoding.ASCII.GetBytes("GIF89a not a png")));
        Assert.Contains("signature", ex.Message);

        var flipped = (byte[])good.Clone();
        flipped[8 + 8 + 2] ^= 0x01; // inside IHDR's width
        ex = Assert.Throws<InvalidDataException>(() => Png.Decode(flipped));
        Assert.Contains("CRC mismatch in chunk 'IHDR'", ex.Message);

        flipped = (byte[])good.Clone();
        flipped[33 + 8 + 10] ^= 0x40; // inside the first IDAT's data
        ex = Assert.Throws<InvalidDataException>(() => Png.Decode(flipped));
        Assert.Contains("CRC mismatch in chunk 'IDAT'", ex.Message);

        ex = Assert.Throws<InvalidDataException>(() => Png.Decode(good.AsSpan(0, good.Length - 12)));
        Assert.Contains("IEND", ex.Message);

        ex = Assert.Throws<InvalidDataException>(() => Png.Decode(good.AsSpan(0, good.Length - 20)));
        Assert.Contains("chunk 'IDAT' at byte 33 claims", ex.Message);

        ex = Assert.Throws<InvalidDataException>(() => Png.Decode(good.AsSpan(0, 40)));
        Assert.Contains("truncated at byte 33", ex.Message);

        // Valid CRCs but wrong content: zlib stream cut short, a bad filter byte, a lying length.
        var chunks = Chunks(good);
        var z = chunks.Where(c => c.Type == "IDAT").SelectMany(c => c.Data).ToArray();
        ex = Assert.Throws<InvalidDataException>(() => Png.Decode(Build(chunks[0].Data, z[..(z.Length / 2)])));
        Assert.Contains("IDAT", ex.Message);

        var raw = new byte[9 * (17 * 3 + 1)];
        raw[(17 * 3 + 1) * 4] = 9; // row 4 filter type 9
        ex = Assert.Throws<InvalidDataException>(() => Png.Decode(Build(chunks[0].Data, Zlib(raw))));
        Assert.Contains("row 4 has filter type 9", ex.Message);

        ex = Assert.Throws<InvalidDataException>(() => Png.Decode(Build(chunks[0].Data, Zlib(new byte[raw.Length + 5]))));
        Assert.Contains("longer", ex.Message);

        var lying = (byte[])good.Clone();
        BinaryPrimitives.WriteInt32BigEndian(lying.AsSpan(33), 1 << 30);
        ex = Assert.Throws<InvalidDataException>(() => Png.Decode(lying));
        Assert.Contains("claims", ex.Message);

        var noIdat = new MemoryStream();
        noIdat.Write(good.AsSpan(0, 8));
        WriteChunk(noIdat, "IHDR", chunks[0].Data);
        WriteChunk(noIdat, "IEND", []);
        ex = Assert.Throws<InvalidDataException>(() => Png.Decode(noIdat.ToArray()));
        Assert.Contains("no IDAT", ex.Message);
    }

    [Fact]
    public void UnsupportedButValidPngThrowsNotSupported()
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, 2);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), 2);
        ihdr[8] = 16; ihdr[9] = 2; // 16-bit RGB
        var ex = Assert.Throws<NotSupportedException>(() => Png.Decode(Build(ihdr, Zlib(new byte[2 * 13]))));
        Assert.Contains("bit depth 16", ex.Message);
    }

    [Fact]
    public void BadArgumentsNameTheShape()
    {
        var ex = Assert.Throws<ArgumentException>(() => Png.Encode(new byte[10], 2, 2, PngColor.Rgb));
        Assert.Contains("2×2 Rgb", ex.Message);
        Assert.Contains("needs 12", ex.Message);
        Assert.Contains("got 10", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Png.Encode([], 0, 5, PngColor.Gray));
        Assert.Contains("0×5", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Png.Encode([], 4, -1, PngColor.Gray));
        Assert.Contains("4×-1", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Png.Encode(new byte[4], 2, 2, (PngColor)3));
        Assert.Contains("color type 3", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Png.Encode(new byte[4], 1 << 20, 1 << 20, PngColor.Rgba));
        Assert.Contains("more than one buffer holds", ex.Message);

        string path = Path.Combine(_dir, "bad.png");
        ex = Assert.Throws<ArgumentException>(() => Png.Write(path, new byte[5], 2, 2, PngColor.Gray));
        Assert.Contains(path, ex.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void WriteReplacesExistingFileAndLeavesNoTemporaryFile()
    {
        string path = Path.Combine(_dir, "out.png");
        File.WriteAllText(path, "old content");
        var px = Gradient(17, 9, 4);
        Png.Write(path, px, 17, 9, PngColor.Rgba);
        Assert.Equal(px, Png.Decode(File.ReadAllBytes(path)).Pixels);
        Assert.Equal(new[] { path }, Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void FailedWriteLeavesNoPartialOutput()
    {
        // The destination is a non-empty directory: the encode succeeds, the final rename fails.
        string path = Path.Combine(_dir, "taken.png");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "keep"), "x");
        Assert.ThrowsAny<IOException>(() => Png.Write(path, Gradient(17, 9, 3), 17, 9, PngColor.Rgb));
        Assert.Equal(new[] { path }, Directory.GetFileSystemEntries(_dir));
        Assert.Equal(new[] { Path.Combine(path, "keep") }, Directory.GetFileSystemEntries(path));

        // A folder that does not exist: nothing is created anywhere.
        Assert.ThrowsAny<IOException>(() => Png.Write(Path.Combine(_dir, "missing", "x.png"), new byte[1], 1, 1, PngColor.Gray));
        Assert.Equal(new[] { path }, Directory.GetFileSystemEntries(_dir));
    }

    private static string? FindOnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);

    [SkippableFact]
    public void PngcheckAcceptsOurFiles()
    {
        string? pngcheck = FindOnPath("pngcheck");
        Skip.If(pngcheck is null, "pngcheck is not on PATH (Debian package 'pngcheck'; CI installs it), so no standard tool can check our files here");
        var cases = new (string Name, PngColor Color, int W, int H, byte[] Px, PngFilter? Filter)[]
        {
            ("gray-1x1", PngColor.Gray, 1, 1, [128], null),
            ("rgb-3x5", PngColor.Rgb, 3, 5, Random(45, 2), null),
            ("rgba-17x9", PngColor.Rgba, 17, 9, Gradient(17, 9, 4), null),
            ("rgb-1024x3", PngColor.Rgb, 1024, 3, Gradient(1024, 3, 3), null),
            ("rgba-300x300-noise", PngColor.Rgba, 300, 300, Random(300 * 300 * 4, 4), null), // several IDATs
            ("gray-paeth", PngColor.Gray, 33, 31, Gradient(33, 31, 1), PngFilter.Paeth),
            ("rgb-average", PngColor.Rgb, 33, 31, Random(33 * 31 * 3, 6), PngFilter.Average),
        };
        foreach (var c in cases)
        {
            string path = Path.Combine(_dir, c.Name + ".png");
            Png.Write(path, c.Px, c.W, c.H, c.Color, new PngEncodeOptions(c.Filter));
            // -v walks every chunk and the zlib header and ends "No errors detected"; the plain run's verdict is "OK:".
            var (code, verbose) = Run(pngcheck!, "-v", path);
            Assert.True(code == 0, $"pngcheck -v exit {code} on {c.Name}:\n{verbose}");
            Assert.Contains("No errors detected in " + path, verbose);
            var (code2, plain) = Run(pngcheck!, path);
            Assert.True(code2 == 0 && plain.StartsWith("OK: " + path, StringComparison.Ordinal), $"pngcheck on {c.Name}: {plain}");
        }
        // And it does reject a broken file, so the checks above can fail.
        string bad = Path.Combine(_dir, "broken.png");
        var bytes = Png.Encode(Gradient(17, 9, 3), 17, 9, PngColor.Rgb);
        bytes[40] ^= 0xFF;
        File.WriteAllBytes(bad, bytes);
        var (badCode, badOut) = Run(pngcheck!, bad);
        Assert.True(badCode != 0 && !badOut.StartsWith("OK", StringComparison.Ordinal), badOut);
    }

    private static (int Code, string Output) Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output + err.Result);
    }

    // ---- helpers that read our files independently of the decoder ----

    private static List<(string Type, byte[] Data)> Chunks(byte[] file)
    {
        var list = new List<(string, byte[])>();
        for (int pos = 8; pos < file.Length;)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(pos));
            list.Add((Encoding.ASCII.GetString(file, pos + 4, 4), file[(pos + 8)..(pos + 8 + len)]));
            pos += 12 + len;
        }
        return list;
    }

    private static IEnumerable<byte> RowFilters(byte[] file, int w, int h, int ch)
    {
        var z = Chunks(file).Where(c => c.Type == "IDAT").SelectMany(c => c.Data).ToArray();
        using var zs = new ZLibStream(new MemoryStream(z), CompressionMode.Decompress);
        var raw = new MemoryStream();
        zs.CopyTo(raw);
        Assert.Equal(h * (w * ch + 1), raw.Length);
        var bytes = raw.ToArray();
        for (int y = 0; y < h; y++) yield return bytes[y * (w * ch + 1)];
    }

    private static byte[] Zlib(byte[] raw)
    {
        var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Fastest, leaveOpen: true)) z.Write(raw);
        return ms.ToArray();
    }

    private static void WriteChunk(Stream s, string type, byte[] data)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(head, 4);
        s.Write(head);
        s.Write(data);
        var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32.Compute(typeAndData));
        s.Write(crc);
    }

    private static byte[] Build(byte[] ihdr, byte[] zlib)
    {
        var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        WriteChunk(ms, "IHDR", ihdr);
        WriteChunk(ms, "IDAT", zlib);
        WriteChunk(ms, "IEND", []);
        return ms.ToArray();
    }
}
