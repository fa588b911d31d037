using System.Text;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Runtime.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace PixelCost.Runtime.Tests.Imaging;

public sealed class ImagingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-img-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static RgbImage Flat(int w, int h, byte r, byte g, byte b)
    {
        var px = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) { px[3 * i] = r; px[3 * i + 1] = g; px[3 * i + 2] = b; }
        return new RgbImage(w, h, px);
    }

    private static (byte, byte, byte) At(RgbImage im, int x, int y)
    {
        int o = 3 * (y * im.Width + x);
        return (im.Pixels[o], im.Pixels[o + 1], im.Pixels[o + 2]);
    }

    [Fact]
    public void FromTensorMapsMinusOneToOneOntoBytesPerImageOfTheBatch()
    {
        var cpu = new CpuAccelerator(threads: 1);
        // [2,3,1,2]: image 1's pixels, hand-computed: round((v+1)/2·255) clamped.
        //   −1 → 0, 1 → 255, 0 → 127.5 → 128 (round half to even), 0.5 → 191.25 → 191, −1.5 → 0 (clamped), 3 → 255 (clamped)
        float[] data =
        [
            9, 9, 9, 9, 9, 9,            // image 0 (all clamp to 255)
            -1f, 0.5f,                    // image 1, R plane (x = 0, 1)
            1f, -1.5f,                    // G plane
            0f, 3f,                       // B plane
        ];
        using var t = cpu.FromArray(data, 2, 3, 1, 2);
        var im = RgbImage.FromTensor(t, 1);
        Assert.Equal((2, 1), (im.Width, im.Height));
        Assert.Equal(new byte[] { 0, 255, 128, 191, 0, 255 }, im.Pixels);
        Assert.All(RgbImage.FromTensor(t).Pixels, b => Assert.Equal(255, b));

        using var one = cpu.FromArray([-1f, 1f, 0f], 3, 1, 1);   // [3,H,W]
        Assert.Equal(new byte[] { 0, 255, 128 }, RgbImage.FromTensor(one).Pixels);

        Assert.Throws<ArgumentOutOfRangeException>(() => RgbImage.FromTensor(t, 2));
        using var bad = cpu.FromArray(new float[8], 2, 4, 1, 1);
        Assert.Contains("[2,4,1,1]", Assert.Throws<ArgumentException>(() => RgbImage.FromTensor(bad)).Message);
    }

    [Fact]
    public void ConstructorChecksTheBufferSize()
    {
        Assert.Contains("needs 12", Assert.Throws<ArgumentException>(() => new RgbImage(2, 2, new byte[11])).Message);
        Assert.Throws<ArgumentException>(() => new RgbImage(0, 2, []));
    }

    [Fact]
    public void LoadReadsPngAndOtherFormats()
    {
        string png = Path.Combine(_dir, "a.png");
        var src = new RgbImage(3, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
        Png.Write(png, src);
        Assert.Equal(src.Pixels, RgbImage.Load(png).Pixels);

        // RGBA PNG: alpha is dropped, colour kept.
        string rgba = Path.Combine(_dir, "rgba.png");
        Png.Write(rgba, [10, 20, 30, 255, 40, 50, 60, 128], 2, 1, PngColor.Rgba);
        Assert.Equal(new byte[] { 10, 20, 30, 40, 50, 60 }, RgbImage.Load(rgba).Pixels);

        // A BMP written from the format's definition in the test: pixel values are what we put in.
        string bmp = Path.Combine(_dir, "b.bmp");
        File.WriteAllBytes(bmp, PngTests.Bmp24(2, 2, [(1, 2, 3), (4, 5, 6), (7, 8, 9), (250, 251, 252)]));
        var b = RgbImage.Load(bmp);
        Assert.Equal((2, 2), (b.Width, b.Height));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 251, 252 }, b.Pixels);

        string txt = Path.Combine(_dir, "c.png");
        File.WriteAllText(txt, "not an image");
        Assert.Contains(txt, Assert.Throws<InvalidDataException>(() => RgbImage.Load(txt)).Message);
    }

    [Fact]
    public void ResizeKeepsFlatColoursAndScalesBlocks()
    {
        var flat = Flat(7, 5, 200, 100, 50).Resize(20, 9);
        Assert.Equal((20, 9), (flat.Width, flat.Height));
        Assert.All(Enumerable.Range(0, 20 * 9), p => Assert.Equal((200, 100, 50), At(flat, p % 20, p / 20)));

        // Left half black, right half white, 64 wide → 16 wide: far from the edge each side keeps its colour.
        var px = new byte[64 * 4 * 3];
        for (int y = 0; y < 4; y++) Array.Fill(px, (byte)255, 3 * (y * 64 + 32), 3 * 32);
        var half = new RgbImage(64, 4, px).Resize(16, 2);
        Assert.Equal((0, 0, 0), At(half, 1, 0));
        Assert.Equal((255, 255, 255), At(half, 14, 1));

        var same = flat.Resize(20, 9);
        Assert.Equal(flat.Pixels, same.Pixels);
        Assert.NotSame(flat.Pixels, same.Pixels);
        Assert.Throws<ArgumentException>(() => flat.Resize(0, 3));
    }

    [Fact]
    public void GifLoopsForeverWithTheFrameDelayAndComments()
    {
        string path = Path.Combine(_dir, "steps.gif");
        var frames = new[] { Flat(8, 6, 255, 0, 0), Flat(8, 6, 0, 255, 0), Flat(8, 6, 0, 0, 255) };
        Gif.Write(path, frames, 120, new Dictionary<string, string> { ["prompt"] = "a red fox" });
        byte[] bytes = File.ReadAllBytes(path);

        // From the GIF89a spec, independently of any decoder:
        Assert.Equal("GIF89a", Encoding.ASCII.GetString(bytes, 0, 6));
        // NETSCAPE2.0 application extension: sub-block 03 01 <loop count, little-endian 16 bits>; 0 = forever.
        int app = IndexOf(bytes, Encoding.ASCII.GetBytes("NETSCAPE2.0"));
        Assert.True(app > 0, "no NETSCAPE2.0 looping extension");
        Assert.Equal(new byte[] { 3, 1, 0, 0 }, bytes[(app + 11)..(app + 15)]);
        // One graphic control extension (21 F9 04 <flags> <delay lo> <delay hi> …) per frame; 120 ms = 12 hundredths.
        var gce = AllIndexes(bytes, [0x21, 0xF9, 0x04]).ToList();
        Assert.Equal(3, gce.Count);
        Assert.All(gce, i => Assert.Equal((12, 0), (bytes[i + 4], bytes[i + 5])));
        // Comment extension 21 FE, then the text as a data sub-block.
        int comment = IndexOf(bytes, [0x21, 0xFE]);
        Assert.True(comment > 0, "no comment extension");
        Assert.Equal("prompt: a red fox", Encoding.ASCII.GetString(bytes, comment + 3, bytes[comment + 2]));

        // Decoded, each frame is its flat colour (three colours quantise exactly).
        using var gif = Image.Load<Rgb24>(path);
        Assert.Equal(3, gif.Frames.Count);
        Assert.Equal(new Rgb24(255, 0, 0), gif.Frames[0][4, 3]);
        Assert.Equal(new Rgb24(0, 255, 0), gif.Frames[1][7, 5]);
        Assert.Equal(new Rgb24(0, 0, 255), gif.Frames[2][0, 0]);
        Assert.Equal(0, gif.Metadata.GetGifMetadata().RepeatCount);
    }

    [Fact]
    public void GifBadInputIsRefusedBeforeAnythingIsWritten()
    {
        string path = Path.Combine(_dir, "bad.gif");
        Assert.Contains("one size", Assert.Throws<ArgumentException>(() => Gif.Write(path, [Flat(4, 4, 0, 0, 0), Flat(4, 5, 0, 0, 0)], 100)).Message);
        Assert.Throws<ArgumentException>(() => Gif.Write(path, [], 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gif.Write(path, [Flat(4, 4, 0, 0, 0)], 5));
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void ContactSheetPlacesTilesOnAGrid()
    {
        var tiles = new[] { Flat(10, 6, 255, 0, 0), Flat(10, 6, 0, 255, 0), Flat(10, 6, 0, 0, 255) };
        var sheet = ContactSheet.Compose(tiles, 2);
        int g = ContactSheet.Gap;
        // 2 columns, 2 rows: gap + 2·(10 + gap) wide, gap + 2·(6 + gap) high.
        Assert.Equal((g + 2 * (10 + g), g + 2 * (6 + g)), (sheet.Width, sheet.Height));
        Assert.Equal((255, 0, 0), At(sheet, g, g));
        Assert.Equal((255, 0, 0), At(sheet, g + 9, g + 5));
        Assert.Equal((0, 255, 0), At(sheet, 2 * g + 10, g));
        Assert.Equal((0, 0, 255), At(sheet, g + 9, 2 * g + 6 + 5));
        Assert.Equal((255, 255, 255), At(sheet, g + 10, g));               // the gap between tiles
        Assert.Equal((255, 255, 255), At(sheet, 2 * g + 10, 2 * g + 6));   // the empty fourth cell
        Assert.Equal((255, 255, 255), At(sheet, 0, 0));
    }

    [Fact]
    public void ContactSheetCaptionsAreDrawnUnderTheirTiles()
    {
        var tiles = new[] { Flat(96, 40, 90, 90, 90), Flat(96, 40, 90, 90, 90) };
        var sheet = ContactSheet.Compose(tiles, 2, ["seed 42", ""]);
        int g = ContactSheet.Gap;
        int bandTop = g + 40, bandBottom = sheet.Height - g;
        Assert.True(bandBottom - bandTop >= 12, $"caption band {bandBottom - bandTop} px");
        int Dark(int x0) => Enumerable.Range(bandTop, bandBottom - bandTop)
            .SelectMany(y => Enumerable.Range(x0, 96).Select(x => At(sheet, x, y)))
            .Count(p => p.Item1 < 128);
        // Glyphs of "seed 42" at ~10 px cover dozens of pixels; the empty caption leaves its band white.
        Assert.True(Dark(g) > 30, $"caption 'seed 42' drew {Dark(g)} dark pixels");
        Assert.Equal(0, Dark(2 * g + 96));
        Assert.Throws<ArgumentException>(() => ContactSheet.Compose(tiles, 2, ["one"]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ContactSheet.Compose(tiles, 0));
    }

    [Fact]
    public void BundledFontIsATrueTypeFileExtractedOnce()
    {
        // TrueType files start with the sfnt version 0x00010000.
        Assert.Equal(new byte[] { 0, 1, 0, 0 }, BundledFont.Bytes[..4].ToArray());
        string path = BundledFont.FilePath;
        Assert.Equal(BundledFont.Bytes.ToArray(), File.ReadAllBytes(path));
        Assert.Equal(path, BundledFont.FilePath);
    }

    private static int IndexOf(byte[] hay, byte[] needle) => hay.AsSpan().IndexOf(needle);

    private static IEnumerable<int> AllIndexes(byte[] hay, byte[] needle)
    {
        for (int i = 0, at; (at = hay.AsSpan(i).IndexOf(needle)) >= 0; i += at + 1) yield return i + at;
    }
}
