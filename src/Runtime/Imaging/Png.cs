namespace PixelCost.Runtime.Imaging;

public enum PngColor { Gray = 0, Rgb = 2, Rgba = 6 }

/// <summary>Our own PNG encoder/decoder (8-bit gray/RGB/RGBA). CONTRACT STUB: to be implemented.</summary>
public static class Png
{
    /// <summary>Writes an 8-bit PNG to <paramref name="path"/> via a temporary file renamed when complete.</summary>
    public static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, PngColor color) =>
        throw new NotImplementedException();

    /// <summary>Encodes to bytes.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, PngColor color) =>
        throw new NotImplementedException();

    /// <summary>Decodes 8-bit non-interlaced gray/RGB/RGBA PNGs (enough to read our files back).</summary>
    public static (byte[] Pixels, int Width, int Height, PngColor Color) Decode(ReadOnlySpan<byte> file) =>
        throw new NotImplementedException();
}
