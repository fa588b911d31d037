using BenchmarkDotNet.Attributes;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Benchmarks;

/// <summary>Softmax over rows of 4096 (an SD 1.5 64² self-attention score row). Report GB/s = 2·Rows·4096·4 B / time.</summary>
[MemoryDiagnoser]
public class SoftmaxBenchmarks
{
    private const int D = 4096;
    private CpuAccelerator _cpu = null!;
    private Tensor _x = null!, _y = null!;
    private F32[] _rx = null!, _ry = null!;

    /// <summary>Rows of the kernel run; the scalar reference always runs 64 rows (compare per row).</summary>
    [Params(64, 8 * 512)]
    public int Rows;

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuAccelerator();
        _cpu.Ledger.Enabled = false;
        _x = _cpu.Allocate(Rows, D);
        _y = _cpu.Allocate(Rows, D);
        var rng = new Random(1);
        var xs = _x.AsSpan();
        for (int i = 0; i < xs.Length; i++) xs[i] = rng.NextSingle() * 10f;
        int refRows = Math.Min(Rows, 64);
        _rx = new F32[refRows * D];
        for (int i = 0; i < _rx.Length; i++) _rx[i] = new F32(xs[i]);
        _ry = new F32[_rx.Length];
        Ops.Softmax(_cpu, _x, _y); // warm-up: JIT the kernel
    }

    [Benchmark(Baseline = true)]
    public F32 Reference()
    {
        SoftmaxReference.Run<F32>(_rx, _ry, _rx.Length / D, D);
        return _ry[0];
    }

    [Benchmark]
    public float Simd()
    {
        Ops.Softmax(_cpu, _x, _y);
        return _y.AsSpan()[0];
    }

    [GlobalCleanup]
    public void Cleanup() { _x.Dispose(); _y.Dispose(); }
}
