using System.Security.Cryptography;
using SkiaSharp;

namespace PixelCost.Runtime.Imaging;

/// <summary>
/// DejaVu Sans, embedded in this assembly (licence: THIRD-PARTY-NOTICES.md), so text in charts and captions never
/// depends on the fonts a machine has installed: a headless server without fonts would otherwise draw blank text.
/// </summary>
public static class BundledFont
{
    /// <summary>The family name charts register the font under.</summary>
    public const string Name = "DejaVu Sans";

    private const string Resource = "PixelCost.Fonts.DejaVuSans.ttf";

    private static readonly Lazy<byte[]> LazyBytes = new(() =>
    {
        using var s = typeof(BundledFont).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"embedded font {Resource} is missing from {typeof(BundledFont).Assembly.GetName().Name}");
        var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    });

    private static readonly Lazy<string> LazyPath = new(Extract);
    private static readonly Lazy<SKTypeface> LazyTypeface = new(() =>
        SKTypeface.FromData(SKData.CreateCopy(LazyBytes.Value)) ?? throw new InvalidOperationException($"SkiaSharp cannot read the embedded font {Resource}"));

    /// <summary>The TrueType file's bytes.</summary>
    public static ReadOnlySpan<byte> Bytes => LazyBytes.Value;

    /// <summary>
    /// A file holding the font, for libraries that take a path (ScottPlot's <c>Fonts.AddFontFile</c>): extracted once into
    /// the temp folder under a name that carries its hash, so a stale or partial file is never reused.
    /// </summary>
    public static string FilePath => LazyPath.Value;

    /// <summary>The font as a SkiaSharp typeface (for caption text).</summary>
    internal static SKTypeface Typeface => LazyTypeface.Value;

    private static string Extract()
    {
        byte[] bytes = LazyBytes.Value;
        string hash = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
        string dir = Path.Combine(Path.GetTempPath(), "pixelcost-fonts");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, $"DejaVuSans-{hash}.ttf");
        if (!File.Exists(path) || new FileInfo(path).Length != bytes.Length) IO.AtomicFile.WriteAllBytes(path, bytes);
        return path;
    }
}
