using SkiaSharp;

namespace PixelCost.Runtime.Imaging;

/// <summary>A grid of images with an optional caption line under each (e.g. one tile per seed, sampler or step count).</summary>
public static class ContactSheet
{
    /// <summary>Pixels between tiles and around the sheet.</summary>
    public const int Gap = 8;

    /// <summary>
    /// Lays <paramref name="tiles"/> out left to right, top to bottom, <paramref name="columns"/> per row, on white. Every
    /// cell is as large as the largest tile (smaller tiles are centred in it). With <paramref name="captions"/> (one per
    /// tile; null or empty entries draw nothing) each cell gets a band under its tile with the caption in the bundled
    /// font, centred, shortened with "…" when it is wider than the tile.
    /// </summary>
    public static RgbImage Compose(IReadOnlyList<RgbImage> tiles, int columns, IReadOnlyList<string>? captions = null)
    {
        ArgumentNullException.ThrowIfNull(tiles);
        if (tiles.Count == 0) throw new ArgumentException("contact sheet: no tiles", nameof(tiles));
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "contact sheet: columns must be ≥ 1");
        if (captions != null && captions.Count != tiles.Count)
            throw new ArgumentException($"contact sheet: {captions.Count} captions for {tiles.Count} tiles", nameof(captions));
        columns = Math.Min(columns, tiles.Count);
        int rows = (tiles.Count + columns - 1) / columns;
        int cellW = tiles.Max(t => t.Width), tileH = tiles.Max(t => t.Height);
        // Caption size follows the tile width (~1/24 of it), kept readable on small tiles and modest on large ones.
        float fontSize = Math.Clamp(cellW / 24f, 10f, 28f);
        int band = captions is null ? 0 : (int)MathF.Ceiling(fontSize * 1.6f);
        int cellH = tileH + band;
        long sheetW = Gap + (long)columns * (cellW + Gap), sheetH = Gap + (long)rows * (cellH + Gap);
        if (sheetW * sheetH > ImageLimits.MaxPixels)
            throw new ArgumentException($"contact sheet: {tiles.Count} tiles of up to {cellW}×{tileH} in {columns} columns make a {sheetW}×{sheetH} sheet, more than {ImageLimits.MaxPixels:N0} pixels");
        int W = (int)sheetW, H = (int)sheetH;
        var px = new byte[3L * W * H];
        Array.Fill(px, (byte)255);

        using var font = captions is null ? null : new SKFont(BundledFont.Typeface, fontSize) { Edging = SKFontEdging.Antialias, Subpixel = true };
        for (int i = 0; i < tiles.Count; i++)
        {
            int cx = Gap + i % columns * (cellW + Gap), cy = Gap + i / columns * (cellH + Gap);
            var t = tiles[i];
            Blit(t.Pixels, t.Width, t.Height, px, W, cx + (cellW - t.Width) / 2, cy + (tileH - t.Height) / 2);
            if (font != null && !string.IsNullOrEmpty(captions![i]))
            {
                var text = DrawCaption(captions[i], font, cellW, band);
                Blit(text, cellW, band, px, W, cx, cy + tileH);
            }
        }
        return new RgbImage(W, H, px);
    }

    private static void Blit(byte[] src, int w, int h, byte[] dst, int dstW, int x0, int y0)
    {
        for (int y = 0; y < h; y++)
            Array.Copy(src, 3L * y * w, dst, 3L * ((long)(y0 + y) * dstW + x0), 3L * w);
    }

    /// <summary>The caption rasterised black on white into an RGB band <paramref name="w"/>×<paramref name="h"/>.</summary>
    private static byte[] DrawCaption(string caption, SKFont font, int w, int h)
    {
        string text = Fit(caption.ReplaceLineEndings(" "), font, w - 4);
        using var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(bitmap))
        using (var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true })
        {
            canvas.Clear(SKColors.White);
            font.GetFontMetrics(out var m);
            // Vertically centred on the band: baseline sits below the middle by half the glyphs' ascent+descent.
            float baseline = h / 2f - (m.Ascent + m.Descent) / 2f;
            canvas.DrawText(text, w / 2f, baseline, SKTextAlign.Center, font, paint);
        }
        var rgba = bitmap.GetPixelSpan();
        var rgb = new byte[3L * w * h];
        for (long p = 0; p < (long)w * h; p++)
        {
            rgb[3 * p] = rgba[(int)(4 * p)];
            rgb[3 * p + 1] = rgba[(int)(4 * p + 1)];
            rgb[3 * p + 2] = rgba[(int)(4 * p + 2)];
        }
        return rgb;
    }

    private static string Fit(string text, SKFont font, float width)
    {
        if (font.MeasureText(text) <= width) return text;
        for (int n = text.Length - 1; n > 0; n--)
        {
            string s = text[..n].TrimEnd() + "…";
            if (font.MeasureText(s) <= width) return s;
        }
        return "…";
    }
}
