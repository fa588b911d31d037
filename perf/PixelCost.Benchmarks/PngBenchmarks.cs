using BenchmarkDotNet.Attributes;
using PixelCost.Runtime.Imaging;

namespace PixelCost.Benchmarks;

/// <summary>
/// PNG encode and decode of a 1024×1024 RGB image through ImageSharp (deflate level 3, adaptive row filters), on a
/// smooth gradient (compresses ~100×) and on noise (incompressible). Baseline: encode.
/// dotnet run -c Release --project perf/PixelCost.Benchmarks -- --filter '*Png*'
/// </summary>
[MemoryDiagnoser]
public class PngBenchmarks
{
    private const int W = 1024, H = 1024;
    private byte[] _pixels = [];
    private byte[] _file = [];

    [Params("gradient", "noise")]
    public string Image { get; set; } = "gradient";

    [GlobalSetup]
    public void Setup()
    {
        _pixels = new byte[W * H * 3];
        if (Image == "noise") new Random(1234).NextBytes(_pixels);
        else
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                {
                    int i = (y * W + x) * 3;
                    _pixels[i] = (byte)(x / 4);
                    _pixels[i + 1] = (byte)(y / 4);
                    _pixels[i + 2] = (byte)((x + y) / 8);
                }
        _file = Png.Encode(_pixels, W, H, PngColor.Rgb);
    }

    [Benchmark(Baseline = true)]
    public byte[] Encode() => Png.Encode(_pixels, W, H, PngColor.Rgb);

    [Benchmark]
    public byte[] Decode() => Png.Decode(_file).Pixels;
}
