using System.Runtime.InteropServices;
using PixelCost.Kernels;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace PixelCost.Runtime.Imaging;

/// <summary>An 8-bit RGB image, row-major, 3 bytes per pixel (R, G, B) — what every image writer here takes.</summary>
public sealed record RgbImage(int Width, int Height, byte[] Pixels)
{
    public int Width { get; init; } = Width > 0 ? Width : throw new ArgumentException($"image: width {Width} must be ≥ 1", nameof(Width));
    public int Height { get; init; } = Height > 0 ? Height : throw new ArgumentException($"image: height {Height} must be ≥ 1", nameof(Height));
    public byte[] Pixels { get; init; } = Pixels is null ? throw new ArgumentNullException(nameof(Pixels))
        : (long)Width * Height * 3 == Pixels.Length ? Pixels
        : throw new ArgumentException($"image: {Width}×{Height} RGB needs {(long)Width * Height * 3:N0} bytes, got {Pixels.Length:N0}", nameof(Pixels));

    /// <summary>Image <paramref name="index"/> of a [B,3,H,W] (or one [3,H,W]) F32 tensor in [−1, 1]: round((v+1)/2·255), clamped.</summary>
    public static RgbImage FromTensor(Tensor image, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(image);
        bool batched = image.Rank == 4;
        if (!(batched || image.Rank == 3) || image.Dim(batched ? 1 : 0) != 3 || image.DType != DType.F32)
            throw new ArgumentException($"image: tensor {image.ShapeString} {image.DType} must be F32 [B,3,H,W] or [3,H,W]", nameof(image));
        int batch = batched ? image.Dim(0) : 1;
        if (index < 0 || index >= batch)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"image: tensor {image.ShapeString} has {batch} image(s), no index {index}");
        int h = image.Dim(-2), w = image.Dim(-1);
        float[] all = image.ToArray();
        int plane = h * w, baseIdx = index * 3 * plane;
        var rgb = new byte[3L * plane];
        for (int p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++)
                rgb[3 * p + c] = (byte)Math.Clamp(MathF.Round((all[baseIdx + c * plane + p] + 1f) * 0.5f * 255f), 0f, 255f);
        return new RgbImage(w, h, rgb);
    }

    /// <summary>The first frame of any image ImageSharp reads (PNG, GIF, JPEG, BMP, TGA, TIFF, WebP, PBM), as RGB (alpha dropped).</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">Not an image, corrupt, or over <see cref="ImageLimits.MaxPixels"/>; names the file.</exception>
    public static RgbImage Load(string path)
    {
        using var fs = ImageLimits.OpenRead(path);
        var info = ImageLimits.Identify(fs, path, requirePng: false);
        return new RgbImage(info.Width, info.Height, ImageLimits.Decode<Rgb24>(fs, path));
    }

    /// <summary>Resampled to <paramref name="width"/>×<paramref name="height"/> (bicubic; exact copy when the size is unchanged).</summary>
    public RgbImage Resize(int width, int height)
    {
        if (width <= 0 || height <= 0 || (long)width * height > ImageLimits.MaxPixels)
            throw new ArgumentException($"image: cannot resize {Width}×{Height} to {width}×{height} (each ≥ 1, at most {ImageLimits.MaxPixels:N0} pixels)");
        if (width == Width && height == Height) return this with { Pixels = (byte[])Pixels.Clone() };
        using var image = ToImageSharp();
        image.Mutate(x => x.Resize(width, height, KnownResamplers.Bicubic));
        var bytes = new byte[3L * width * height];
        image.CopyPixelDataTo(bytes);
        return new RgbImage(width, height, bytes);
    }

    internal Image<Rgb24> ToImageSharp() =>
        Image.LoadPixelData<Rgb24>(ImageLimits.Configuration, MemoryMarshal.Cast<byte, Rgb24>(Pixels.AsSpan()), Width, Height);
}
