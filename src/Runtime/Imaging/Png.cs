using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace PixelCost.Runtime.Imaging;

public enum PngColor { Gray = 0, Rgb = 2, Rgba = 6 }

/// <summary>
/// 8-bit PNGs through ImageSharp 2.1: gray/RGB/RGBA pixels in, any PNG ImageSharp reads out (16-bit, palette and
/// interlaced files are converted to 8 bits per channel). Text chunks (tEXt; iTXt for non-Latin-1 text) carry
/// metadata such as the prompt and seed. Every write goes through <see cref="IO.AtomicFile"/>.
/// </summary>
public static class Png
{
    /// <summary>PNG caps width and height at 2³¹−1 (spec §11.2.2); what we decode is bounded by <see cref="ImageLimits"/>.</summary>
    public const int MaxDimension = int.MaxValue;

    public static int Channels(PngColor color) => color switch
    {
        PngColor.Gray => 1,
        PngColor.Rgb => 3,
        PngColor.Rgba => 4,
        _ => throw new ArgumentException($"PNG: unsupported color type {(int)color} (supported: Gray, Rgb, Rgba)", nameof(color)),
    };

    /// <summary>Writes an 8-bit PNG to <paramref name="path"/> under a temporary name renamed when complete.</summary>
    public static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, PngColor color) =>
        Write(path, pixels, width, height, color, null);

    /// <summary>Writes an RGB PNG with optional text chunks (keyword → text; keywords are 1–79 Latin-1 characters).</summary>
    public static void Write(string path, RgbImage image, IReadOnlyDictionary<string, string>? text = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        Write(path, image.Pixels, image.Width, image.Height, PngColor.Rgb, text);
    }

    public static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, PngColor color, IReadOnlyDictionary<string, string>? text)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // Encode fully before the file is touched: a bad argument or failed encode leaves nothing behind.
        byte[] encoded = EncodeCore(pixels, width, height, color, text, $"PNG {path}");
        IO.AtomicFile.WriteAllBytes(path, encoded);
    }

    /// <summary>Encodes to bytes.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, PngColor color) =>
        EncodeCore(pixels, width, height, color, null, "PNG");

    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, PngColor color, IReadOnlyDictionary<string, string>? text) =>
        EncodeCore(pixels, width, height, color, text, "PNG");

    private static byte[] EncodeCore(ReadOnlySpan<byte> pixels, int width, int height, PngColor color, IReadOnlyDictionary<string, string>? text, string what)
    {
        Validate(pixels.Length, width, height, color, what);
        var textData = TextChunks(text, what);
        using Image image = color switch
        {
            PngColor.Gray => Image.LoadPixelData<L8>(ImageLimits.Configuration, pixels, width, height),
            PngColor.Rgb => Image.LoadPixelData<Rgb24>(ImageLimits.Configuration, pixels, width, height),
            _ => Image.LoadPixelData<Rgba32>(ImageLimits.Configuration, pixels, width, height),
        };
        var meta = image.Metadata.GetPngMetadata();
        foreach (var t in textData) meta.TextData.Add(t);
        var encoder = new PngEncoder
        {
            ColorType = color switch { PngColor.Gray => PngColorType.Grayscale, PngColor.Rgb => PngColorType.Rgb, _ => PngColorType.RgbWithAlpha },
            BitDepth = PngBitDepth.Bit8,
            // Level 3, not ImageSharp's default 6: its deflate is managed code, several times slower than the zlib-ng
            // behind System.IO.Compression. Measured on the 1024² `pixels` maps (adaptive filters, busy 2-core VM, best
            // of 3): smooth value noise 417 ms / 811 KB at level 3 vs 1,683 ms / 687 KB at level 6; the gradient 38 ms /
            // 34 KB vs 67 ms / 20 KB; random noise is stored either way (3.1 MB, ~300–500 ms).
            CompressionLevel = PngCompressionLevel.Level3,
            FilterMethod = PngFilterMethod.Adaptive,
            // Short metadata stays readable (tEXt/iTXt uncompressed); only long text is deflated (zTXt).
            TextCompressionThreshold = 1024,
        };
        var ms = new MemoryStream();
        image.Save(ms, encoder);
        return ms.ToArray();
    }

    private static List<PngTextData> TextChunks(IReadOnlyDictionary<string, string>? text, string what)
    {
        var list = new List<PngTextData>();
        if (text is null) return list;
        foreach (var (key, value) in text)
        {
            // PNG spec §11.3.4.2: keyword 1–79 Latin-1 printable characters, no leading/trailing/double spaces.
            if (string.IsNullOrEmpty(key) || key.Length > 79 || key.Any(c => c < 32 || c is > (char)126 and < (char)161 || c > 255)
                || key.StartsWith(' ') || key.EndsWith(' ') || key.Contains("  ", StringComparison.Ordinal))
                throw new ArgumentException($"{what}: text keyword '{key}' is not a PNG keyword (1–79 printable Latin-1 characters, no leading, trailing or double spaces)", nameof(text));
            ArgumentNullException.ThrowIfNull(value, $"text[{key}]");
            list.Add(new PngTextData(key, value, string.Empty, string.Empty));
        }
        return list;
    }

    private static void Validate(int length, int width, int height, PngColor color, string what)
    {
        if (color is not (PngColor.Gray or PngColor.Rgb or PngColor.Rgba))
            throw new ArgumentException($"{what}: unsupported color type {(int)color} (supported: Gray, Rgb, Rgba)", nameof(color));
        int ch = Channels(color);
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"{what}: image {width}×{height} {color}: width and height must be ≥ 1", width <= 0 ? nameof(width) : nameof(height));
        long need = (long)width * height * ch;
        if (need > Array.MaxLength)
            throw new ArgumentException($"{what}: image {width}×{height} {color} needs {need:N0} bytes, more than one buffer holds ({Array.MaxLength:N0})");
        if (length != need)
            throw new ArgumentException($"{what}: image {width}×{height} {color} ({ch} channel{(ch == 1 ? "" : "s")}) needs {need:N0} pixel bytes, got {length:N0}", "pixels");
    }

    /// <summary>Decodes a PNG to 8-bit gray, RGB or RGBA (whichever holds what the file stores without loss of channels).</summary>
    /// <exception cref="InvalidDataException">Not a PNG, corrupt, or larger than <see cref="ImageLimits.MaxPixels"/>.</exception>
    public static (byte[] Pixels, int Width, int Height, PngColor Color) Decode(ReadOnlySpan<byte> file) =>
        Decode(new MemoryStream(file.ToArray(), writable: false), "PNG");

    /// <summary>Reads and decodes the PNG at <paramref name="path"/>; errors name the file.</summary>
    public static (byte[] Pixels, int Width, int Height, PngColor Color) Read(string path)
    {
        using var fs = ImageLimits.OpenRead(path);
        return Decode(fs, path);
    }

    private static (byte[] Pixels, int Width, int Height, PngColor Color) Decode(Stream stream, string what)
    {
        var info = ImageLimits.Identify(stream, what, requirePng: true);
        var png = info.Metadata.GetPngMetadata();
        bool alpha = png.HasTransparency || png.ColorType is PngColorType.RgbWithAlpha or PngColorType.GrayscaleWithAlpha;
        PngColor color = alpha ? PngColor.Rgba : png.ColorType == PngColorType.Grayscale ? PngColor.Gray : PngColor.Rgb;
        byte[] pixels = color switch
        {
            PngColor.Gray => ImageLimits.Decode<L8>(stream, what),
            PngColor.Rgb => ImageLimits.Decode<Rgb24>(stream, what),
            _ => ImageLimits.Decode<Rgba32>(stream, what),
        };
        return (pixels, info.Width, info.Height, color);
    }

    /// <summary>The text chunks (tEXt, zTXt, iTXt) of the PNG at <paramref name="path"/>, keyword → text, in file order.</summary>
    public static IReadOnlyDictionary<string, string> ReadText(string path)
    {
        using var fs = ImageLimits.OpenRead(path);
        var info = ImageLimits.Identify(fs, path, requirePng: true);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in info.Metadata.GetPngMetadata().TextData) result[t.Keyword] = t.Value;
        return result;
    }
}

/// <summary>
/// The one ImageSharp configuration this project decodes with, and its limits. A PNG header can claim 2³¹−1 × 2³¹−1
/// pixels in a few dozen bytes (a decompression bomb): the header is read first (<c>Image.Identify</c>, no pixel memory)
/// and anything over <see cref="MaxPixels"/> is refused before a buffer is allocated; the allocator's own limit backs
/// that up for formats whose headers lie.
/// </summary>
public static class ImageLimits
{
    /// <summary>8192 × 8192 (64 Mpx): four times the largest image SDXL makes; 256 MB as RGBA.</summary>
    public const long MaxPixels = 8192L * 8192;

    internal static readonly Configuration Configuration = Create();

    private static Configuration Create()
    {
        var c = Configuration.Default.Clone();
        c.MemoryAllocator = SixLabors.ImageSharp.Memory.MemoryAllocator.Create(new SixLabors.ImageSharp.Memory.MemoryAllocatorOptions
        {
            AllocationLimitMegabytes = (int)(MaxPixels * 4 / (1 << 20)) + 64,
        });
        return c;
    }

    internal static FileStream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    /// <summary>Reads only the header; throws InvalidDataException naming <paramref name="what"/> for anything unusable.</summary>
    internal static IImageInfo Identify(Stream stream, string what, bool requirePng)
    {
        long start = stream.Position;
        IImageInfo? info;
        SixLabors.ImageSharp.Formats.IImageFormat? format;
        try { info = Image.Identify(Configuration, stream, out format); }
        catch (Exception e) when (IsImageError(e)) { throw new InvalidDataException($"{what}: not a readable image: {e.Message}", e); }
        if (info is null || format is null) throw new InvalidDataException($"{what}: not an image format ImageSharp reads (PNG, GIF, JPEG, BMP, TGA, TIFF, WebP, PBM)");
        if (requirePng && format is not PngFormat) throw new InvalidDataException($"{what}: a {format.Name} image, not a PNG");
        if (format is PngFormat) { stream.Position = start; CheckPngChunks(stream, what); }
        if (info.Width <= 0 || info.Height <= 0 || (long)info.Width * info.Height > MaxPixels)
            throw new InvalidDataException($"{what}: header claims {(uint)info.Width}×{(uint)info.Height} pixels, more than the {MaxPixels:N0} this project decodes (8192×8192)");
        stream.Position = start;
        return info;
    }

    /// <summary>
    /// Walks the chunk list (lengths and types only) to the IEND chunk. ImageSharp decodes a PNG cut short without
    /// complaint (the missing rows come out black), so a truncated download or an interrupted copy is caught here.
    /// </summary>
    private static void CheckPngChunks(Stream stream, string what)
    {
        long pos = stream.Position + 8, length = stream.Length;
        Span<byte> head = stackalloc byte[8];
        while (true)
        {
            stream.Position = pos;
            if (length - pos < 12 || stream.ReadAtLeast(head, 8, throwOnEndOfStream: false) < 8)
                throw new InvalidDataException($"{what}: PNG truncated at byte {pos:N0} of {length:N0}: no IEND chunk");
            uint n = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(head);
            string type = System.Text.Encoding.ASCII.GetString(head[4..]);
            if (n > int.MaxValue || n + 12L > length - pos)
                throw new InvalidDataException($"{what}: PNG truncated: chunk '{type}' at byte {pos:N0} claims {n:N0} data bytes, {Math.Max(0, length - pos - 12):N0} remain");
            if (type == "IEND") return;
            pos += 12L + n;
        }
    }

    /// <summary>Decodes the first frame to tightly packed <typeparamref name="T"/> pixels.</summary>
    internal static byte[] Decode<T>(Stream stream, string what) where T : unmanaged, IPixel<T>
    {
        try
        {
            using var image = Image.Load<T>(Configuration, stream);
            var bytes = new byte[(long)image.Width * image.Height * Marshal.SizeOf<T>()];
            image.CopyPixelDataTo(bytes);
            return bytes;
        }
        catch (Exception e) when (IsImageError(e)) { throw new InvalidDataException($"{what}: corrupt image data: {e.Message}", e); }
    }

    internal static bool IsImageError(Exception e) =>
        e is ImageFormatException or SixLabors.ImageSharp.Memory.InvalidMemoryOperationException or InvalidDataException or EndOfStreamException;
}
