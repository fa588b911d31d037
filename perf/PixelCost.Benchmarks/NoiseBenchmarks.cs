using BenchmarkDotNet.Attributes;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Noise;
using PixelCost.Kernels.Reference;

namespace PixelCost.Benchmarks;

// dotnet run -c Release --project perf/PixelCost.Benchmarks -- --filter '*Fill*'
/// <summary>Philox uniform fill of an RGB float image (Side × Side × 3 values).</summary>
[MemoryDiagnoser]
public class UniformFillBenchmarks
{
    [Params(256, 1024)] public int Side;
    private CpuAccelerator _acc = null!;
    private Tensor _t = null!;
    private float[] _ref = null!;

    [GlobalSetup]
    public void Setup()
    {
        _acc = new CpuAccelerator();
        _acc.Ledger.Enabled = false;
        _t = _acc.Allocate(DType.F32, Side, Side, 3);
        _ref = new float[Side * Side * 3];
        Ops.FillUniform(_acc, _t, 1); // warm-up: JIT and page faults
    }

    [GlobalCleanup] public void Cleanup() { _t.Dispose(); _acc.Dispose(); }

    [Benchmark(Baseline = true)]
    public float Reference() { NoiseReference.Uniform<F32>(_ref, 1); return _ref[^1]; }

    [Benchmark]
    public float ScalarThreads() { Ops.FillUniform(_acc, _t, 1, variant: 1); return _t.AsSpan()[^1]; }

    [Benchmark]
    public float Avx2Threads() { Ops.FillUniform(_acc, _t, 1, variant: 2); return _t.AsSpan()[^1]; }
}

/// <summary>Philox + Box–Muller Gaussian fill of a latent-sized and an image-sized tensor.</summary>
[MemoryDiagnoser]
public class GaussianFillBenchmarks
{
    [Params(256, 1024)] public int Side;
    private CpuAccelerator _acc = null!;
    private Tensor _t = null!;
    private float[] _ref = null!;

    [GlobalSetup]
    public void Setup()
    {
        _acc = new CpuAccelerator();
        _acc.Ledger.Enabled = false;
        _t = _acc.Allocate(DType.F32, Side, Side, 3);
        _ref = new float[Side * Side * 3];
        Ops.FillGaussian(_acc, _t, 1);
    }

    [GlobalCleanup] public void Cleanup() { _t.Dispose(); _acc.Dispose(); }

    [Benchmark(Baseline = true)]
    public float Reference() { NoiseReference.Gaussian<F32>(_ref, 1); return _ref[^1]; }

    [Benchmark]
    public float ScalarThreads() { Ops.FillGaussian(_acc, _t, 1, variant: 1); return _t.AsSpan()[^1]; }

    [Benchmark]
    public float Avx2Threads() { Ops.FillGaussian(_acc, _t, 1, variant: 2); return _t.AsSpan()[^1]; }

    [Benchmark]
    public float Avx2OwnLogSinCosThreads() { Ops.FillGaussian(_acc, _t, 1, variant: 3); return _t.AsSpan()[^1]; }
}
