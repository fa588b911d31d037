using BenchmarkDotNet.Attributes;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Pixels;
using PixelCost.Kernels.Reference;

namespace PixelCost.Benchmarks;

// dotnet run -c Release --project perf/PixelCost.Benchmarks -- --filter '*Pixels*'
/// <summary>Shared setup: a Side × Side RGB float image, its 8-bit copy, host arrays for the references.</summary>
public abstract class PixelsBenchmarkBase
{
    [Params(256, 1024)] public int Side;
    protected CpuAccelerator Acc = null!;
    protected Tensor Image = null!;
    protected Tensor Bytes = null!;
    protected float[] RefImage = null!;
    protected byte[] RefBytes = null!;

    [GlobalSetup]
    public void Setup()
    {
        Acc = new CpuAccelerator();
        Acc.Ledger.Enabled = false;
        Image = Acc.Allocate(DType.F32, Side, Side, 3);
        Bytes = Acc.Allocate(DType.U8, Side, Side, 3);
        RefImage = new float[Side * Side * 3];
        RefBytes = new byte[Side * Side * 3];
        Ops.PixelsSmoothNoise(Acc, Image, 1); // warm-up and a realistic input for quantisation
        Ops.QuantizeU8(Acc, Image, Bytes);
    }

    [GlobalCleanup] public void Cleanup() { Image.Dispose(); Bytes.Dispose(); Acc.Dispose(); }
}

public class PixelsSmoothNoiseBenchmarks : PixelsBenchmarkBase
{
    [Benchmark(Baseline = true)]
    public float Reference() { PixelsReference.SmoothNoise<F32>(RefImage, Side, Side, 1, 64); return RefImage[^1]; }

    [Benchmark]
    public float Cpu() { Ops.PixelsSmoothNoise(Acc, Image, 1, 64); return Image.AsSpan()[^1]; }
}

public class PixelsGradientBenchmarks : PixelsBenchmarkBase
{
    [Benchmark(Baseline = true)]
    public float Reference() { PixelsReference.Gradient<F32>(RefImage, Side, Side); return RefImage[^1]; }

    [Benchmark]
    public float Cpu() { Ops.PixelsGradient(Acc, Image); return Image.AsSpan()[^1]; }
}

public class PixelsCheckerboardBenchmarks : PixelsBenchmarkBase
{
    [Benchmark(Baseline = true)]
    public float Reference() { PixelsReference.Checkerboard<F32>(RefImage, Side, Side, 64); return RefImage[^1]; }

    [Benchmark]
    public float Cpu() { Ops.PixelsCheckerboard(Acc, Image, 64); return Image.AsSpan()[^1]; }
}

public class PixelsQuantizeBenchmarks : PixelsBenchmarkBase
{
    [Benchmark(Baseline = true)]
    public byte Reference() { PixelsReference.Quantize<F32>(Image.AsSpan(), RefBytes); return RefBytes[^1]; }

    [Benchmark]
    public byte Cpu() { Ops.QuantizeU8(Acc, Image, Bytes); return Bytes.AsSpan<byte>()[^1]; }
}
