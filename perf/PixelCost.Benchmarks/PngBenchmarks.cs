using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using PixelCost.Runtime.Imaging;

namespace PixelCost.Benchmarks;

/// <summary>
/// PNG encode of a 1024×1024 RGB image. Baseline: filter None for every row (no filter search). "Adaptive" is what
/// Png.Encode does (per-row minimum-sum-of-absolute-differences, zlib Optimal); "AdaptiveSmallest" is the same with
/// zlib SmallestSize, kept to show what the level choice costs and saves.
/// dotnet run -c Release --project perf/PixelCost.Benchmarks -- --filter '*Png*'
/// </summary>
[MemoryDiagnoser]
public class PngBenchmarks
{
    private const int W = 1024, H = 1024;
    private byte[] _pixels = [];

    [Params("gradient", "noise")]
    public string Image { get; set; } = "gradient";

    [GlobalSetup]
    public void Setup()
    {
        _pixels = new byte[W * H * 3];
        if (Image == "noise")
        {
            new Random(1234).NextBytes(_pixels);
            return;
        }
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                int i = (y * W + x) * 3;
                _pixels[i] = (byte)(x / 4);
                _pixels[i + 1] = (byte)(y / 4);
                _pixels[i + 2] = (byte)((x + y) / 8);
            }
    }

    [Benchmark(Baseline = true)]
    public byte[] FilterNone() => Png.Encode(_pixels, W, H, PngColor.Rgb, new PngEncodeOptions(PngFilter.None));

    [Benchmark]
    public byte[] Adaptive() => Png.Encode(_pixels, W, H, PngColor.Rgb);

    [Benchmark]
    public byte[] AdaptiveSmallest() => Png.Encode(_pixels, W, H, PngColor.Rgb, new PngEncodeOptions(null, CompressionLevel.SmallestSize));
}
