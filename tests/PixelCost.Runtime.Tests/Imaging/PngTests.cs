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

    [Fact]
    public void FileEndsWithStandardIendChunk()
    {
        var file = Png.Encode(new byte[] { 1, 2, 3 }, 1, 1, PngColor.Rgb);
        Assert.Equal(new byte[] { 0, 0, 0, 0, (byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82 }, file[^12..]);
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


    [Fact]
    public void TextChunksRoundTripAsStandardChunks()
    {
        string path = Path.Combine(_dir, "meta.png");
        var text = new Dictionary<string, string>
        {
            ["prompt"] = "a watercolour fox, \"golden hour\" <b>",
            ["seed"] = "42",
            ["Comment"] = "café crème",            // Latin-1: still tEXt
            ["negative"] = "猫, ✓ blurry",            // outside Latin-1: needs iTXt (UTF-8)
        };
        var image = new RgbImage(5, 4, Random(60, 3));
        Png.Write(path, image, text);

        Assert.Equal(text, Png.ReadText(path));
        Assert.Equal(image.Pixels, Png.Read(path).Pixels);
        // Read the chunks ourselves: tEXt is "keyword\\0Latin-1 text" (PNG spec §11.3.4.3), iTXt carries UTF-8.
        var chunks = Chunks(File.ReadAllBytes(path));
        var tEXt = chunks.Where(c => c.Type == "tEXt").Select(c => Encoding.Latin1.GetString(c.Data)).ToList();
        Assert.Contains("seed\0" + "42", tEXt);
        Assert.Contains("Comment\0café crème", tEXt);
        var iTXt = Assert.Single(chunks, c => c.Type == "iTXt");
        Assert.StartsWith("negative\0", Encoding.UTF8.GetString(iTXt.Data));
        Assert.EndsWith("猫, ✓ blurry", Encoding.UTF8.GetString(iTXt.Data));
        // Text chunks come before the image data, where readers that stop early still see them.
        Assert.True(chunks.FindIndex(c => c.Type == "tEXt") < chunks.FindIndex(c => c.Type == "IDAT"));

        Assert.Empty(Png.ReadText(WriteGray("plain.png")));
    }

    [Fact]
    public void BadTextKeywordsAreRefusedBeforeAnythingIsWritten()
    {
        string path = Path.Combine(_dir, "k.png");
        var image = new RgbImage(1, 1, [1, 2, 3]);
        foreach (var key in new[] { "", " lead", "trail ", "two  spaces", new string('k', 80), "tab\there", "猫" })
        {
            var ex = Assert.Throws<ArgumentException>(() => Png.Write(path, image, new Dictionary<string, string> { [key] = "v" }));
            Assert.Contains("keyword", ex.Message);
            Assert.Contains(path, ex.Message);
        }
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    private string WriteGray(string name)
    {
        string path = Path.Combine(_dir, name);
        Png.Write(path, Gradient(4, 3, 1), 4, 3, PngColor.Gray);
        return path;
    }

    [Fact]
    public void BadFilesThrowInvalidDataNamingTheFile()
    {
        var good = Png.Encode(Gradient(17, 9, 3), 17, 9, PngColor.Rgb);
        void Bad(string name, byte[] bytes, string mention)
        {
            string path = Path.Combine(_dir, name);
            File.WriteAllBytes(path, bytes);
            var ex = Assert.Throws<InvalidDataException>(() => Png.Read(path));
            Assert.Contains(path, ex.Message);
            Assert.Contains(mention, ex.Message);
            ex = Assert.Throws<InvalidDataException>(() => Png.ReadText(path));
            Assert.Contains(path, ex.Message);
        }
        Bad("text.png", Encoding.ASCII.GetBytes("hello, not an image"), "not an image format");
        Bad("empty.png", [], "not an image format");
        Bad("header-only.png", good[..20], "");                          // signature, then IHDR cut short

        var noise = Png.Encode(Random(64 * 64 * 3, 12), 64, 64, PngColor.Rgb);   // incompressible: IDAT ≈ 12 KB
        Bad("truncated.png", noise[..(noise.Length / 2)], "truncated");   // cut in the middle of the image data
        Bad("no-iend.png", noise[..^12], "no IEND");                        // every chunk whole, the end marker missing

        var ihdrFlipped = (byte[])good.Clone();
        ihdrFlipped[8 + 8 + 2] ^= 0x01; // inside IHDR's width: its CRC no longer matches
        Bad("ihdr-crc.png", ihdrFlipped, "");

        var noIdat = new MemoryStream();
        noIdat.Write(good.AsSpan(0, 8));
        WriteChunk(noIdat, "IHDR", Chunks(good)[0].Data);
        WriteChunk(noIdat, "IEND", []);
        string noIdatPath = Path.Combine(_dir, "no-idat.png");
        File.WriteAllBytes(noIdatPath, noIdat.ToArray());
        Assert.Contains(noIdatPath, Assert.Throws<InvalidDataException>(() => Png.Read(noIdatPath)).Message);

        // A well-formed image of another format is not a PNG for Png.Read (RgbImage.Load reads it).
        string bmp = Path.Combine(_dir, "image.bmp");
        File.WriteAllBytes(bmp, Bmp24(2, 2, [(1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12)]));
        Assert.Contains("not a PNG", Assert.Throws<InvalidDataException>(() => Png.Read(bmp)).Message);

        var missing = Path.Combine(_dir, "missing.png");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => Png.Read(missing)).Message);
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => RgbImage.Load(missing)).Message);

        // The span decoder says PNG.
        Assert.StartsWith("PNG:", Assert.Throws<InvalidDataException>(() => Png.Decode(Encoding.ASCII.GetBytes("GIF89a not a png"))).Message);
    }

    [Theory]
    [InlineData(100_000, 100_000)]      // 10¹⁰ pixels: 30 GB as RGB
    [InlineData(int.MaxValue, 1)]       // the largest width PNG allows
    [InlineData(8193, 8192)]            // just over the limit
    public void HugeDimensionsInTheHeaderAreRefusedWithBoundedMemory(int w, int h)
    {
        // A valid PNG header claiming w×h pixels, followed by a tiny deflate stream: a decompression bomb's shape.
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
        string path = Path.Combine(_dir, "bomb.png");
        File.WriteAllBytes(path, Build(ihdr, Zlib(new byte[1 << 16])));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<InvalidDataException>(() => Png.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains(path, ex.Message);
        Assert.Contains("8192×8192", ex.Message);
        Assert.True(allocated < 16 << 20, $"refusing the header allocated {allocated:N0} bytes");
        Assert.Throws<InvalidDataException>(() => RgbImage.Load(path));
        Assert.Throws<InvalidDataException>(() => Png.Decode(File.ReadAllBytes(path)));
    }

    /// <summary>A bottom-up 24-bit BMP written from the format's definition (BITMAPFILEHEADER + BITMAPINFOHEADER, BGR rows padded to 4 bytes).</summary>
    internal static byte[] Bmp24(int w, int h, (byte R, byte G, byte B)[] px)
    {
        int stride = (w * 3 + 3) & ~3, size = 54 + stride * h;
        var b = new byte[size];
        b[0] = (byte)'B'; b[1] = (byte)'M';
        BitConverter.TryWriteBytes(b.AsSpan(2), size);
        BitConverter.TryWriteBytes(b.AsSpan(10), 54);
        BitConverter.TryWriteBytes(b.AsSpan(14), 40);
        BitConverter.TryWriteBytes(b.AsSpan(18), w);
        BitConverter.TryWriteBytes(b.AsSpan(22), h);
        BitConverter.TryWriteBytes(b.AsSpan(26), (short)1);
        BitConverter.TryWriteBytes(b.AsSpan(28), (short)24);
        BitConverter.TryWriteBytes(b.AsSpan(34), stride * h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                var (r, g, bl) = px[y * w + x];
                int o = 54 + (h - 1 - y) * stride + 3 * x;
                b[o] = bl; b[o + 1] = g; b[o + 2] = r;
            }
        return b;
    }

    /// <summary>CRC-32 (ISO 3309 / PNG spec Annex D), bit by bit from the polynomial: the test's own yardstick for chunk CRCs.</summary>
    private static uint Crc(byte[] data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte d in data)
        {
            c ^= d;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        return c ^ 0xFFFFFFFFu;
    }

    private static string? FindOnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);

    [SkippableFact]
    public void PngcheckAcceptsOurFiles()
    {
        string? pngcheck = FindOnPath("pngcheck");
        Skip.If(pngcheck is null, "pngcheck is not on PATH (Debian package 'pngcheck'; CI installs it), so no standard tool can check our files here");
        var cases = new (string Name, PngColor Color, int W, int H, byte[] Px)[]
        {
            ("gray-1x1", PngColor.Gray, 1, 1, [128]),
            ("rgb-3x5", PngColor.Rgb, 3, 5, Random(45, 2)),
            ("rgba-17x9", PngColor.Rgba, 17, 9, Gradient(17, 9, 4)),
            ("rgb-1024x3", PngColor.Rgb, 1024, 3, Gradient(1024, 3, 3)),
            ("rgba-300x300-noise", PngColor.Rgba, 300, 300, Random(300 * 300 * 4, 4)),
            ("gray-33x31", PngColor.Gray, 33, 31, Gradient(33, 31, 1)),
        };
        foreach (var c in cases)
        {
            string path = Path.Combine(_dir, c.Name + ".png");
            Png.Write(path, c.Px, c.W, c.H, c.Color);
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

        // Text chunks: pngcheck -t prints each tEXt/iTXt keyword and text as it reads them.
        string withText = Path.Combine(_dir, "text.png");
        Png.Write(withText, new RgbImage(3, 2, Random(18, 8)), new Dictionary<string, string> { ["prompt"] = "a red fox", ["seed"] = "42" });
        var (textCode, textOut) = Run(pngcheck!, "-t", withText);
        Assert.True(textCode == 0, textOut);
        Assert.Contains("prompt", textOut);
        Assert.Contains("a red fox", textOut);
        Assert.Contains("seed", textOut);
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
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc(typeAndData));
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
