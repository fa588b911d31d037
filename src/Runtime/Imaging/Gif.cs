using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing.Processors.Quantization;

namespace PixelCost.Runtime.Imaging;

/// <summary>Animated GIFs (e.g. the latent decoded after every denoise step), written atomically.</summary>
public static class Gif
{
    /// <summary>
    /// Writes <paramref name="frames"/> (all the same size) as one animated GIF that loops forever (NETSCAPE2.0 loop
    /// count 0), each frame shown <paramref name="delayMs"/> ms (GIF stores hundredths of a second: rounded, ≥ 10 ms).
    /// <paramref name="text"/> becomes comment extensions, one "key: value" each. Each frame gets its own 256-colour
    /// palette (Wu quantiser, no dithering), so a frame's colours are not limited by the others'.
    /// </summary>
    public static void Write(string path, IReadOnlyList<RgbImage> frames, int delayMs, IReadOnlyDictionary<string, string>? text = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(frames);
        if (frames.Count == 0) throw new ArgumentException($"GIF {path}: no frames", nameof(frames));
        if (delayMs < 10 || delayMs > 655_350)
            throw new ArgumentOutOfRangeException(nameof(delayMs), delayMs, $"GIF {path}: frame delay {delayMs} ms must be 10..655350 ms (GIF stores 1/100 s in 16 bits)");
        int w = frames[0].Width, h = frames[0].Height;
        for (int i = 1; i < frames.Count; i++)
            if (frames[i].Width != w || frames[i].Height != h)
                throw new ArgumentException($"GIF {path}: frame {i} is {frames[i].Width}×{frames[i].Height}, frame 0 is {w}×{h}; all frames must be one size", nameof(frames));

        using var gif = frames[0].ToImageSharp();
        for (int i = 1; i < frames.Count; i++)
            gif.Frames.AddFrame(MemoryMarshal.Cast<byte, Rgb24>(frames[i].Pixels.AsSpan()));
        int centiseconds = (int)Math.Round(delayMs / 10.0);
        foreach (var frame in gif.Frames)
        {
            var fm = frame.Metadata.GetGifMetadata();
            fm.FrameDelay = centiseconds;
            fm.DisposalMethod = GifDisposalMethod.RestoreToBackground;
        }
        var meta = gif.Metadata.GetGifMetadata();
        meta.RepeatCount = 0; // 0 = loop forever
        meta.ColorTableMode = GifColorTableMode.Local;
        if (text != null)
            foreach (var (key, value) in text)
                meta.Comments.Add($"{key}: {value}");
        var encoder = new GifEncoder
        {
            ColorTableMode = GifColorTableMode.Local,
            Quantizer = new WuQuantizer(new QuantizerOptions { Dither = null, MaxColors = 256 }),
        };
        var ms = new MemoryStream();
        gif.SaveAsGif(ms, encoder);
        IO.AtomicFile.WriteAllBytes(path, ms.ToArray());
    }
}
