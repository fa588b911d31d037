using BenchmarkDotNet.Attributes;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Benchmarks;

/// <summary>GroupNorm (+ fused SiLU) at an SD resnet shape; the reference is the baseline (it finishes in ~20 ms here).</summary>
[MemoryDiagnoser]
public class GroupNormBenchmarks
{
    private CpuAccelerator _cpu = null!;
    private Tensor _x = null!, _y = null!, _gamma = null!, _beta = null!;
    private F32[] _xs = null!, _ys = null!, _gs = null!, _bs = null!;

    [Params(1, 2)] public int Batch;

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuAccelerator();
        var rng = new Random(1);
        var data = new float[Batch * 320 * 64 * 64];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 4 - 1);
        _x = _cpu.FromArray(data, Batch, 320, 64, 64);
        _y = _cpu.Allocate(Batch, 320, 64, 64);
        _gamma = _cpu.FromArray(Enumerable.Repeat(1.1f, 320).ToArray(), 320);
        _beta = _cpu.FromArray(Enumerable.Repeat(0.1f, 320).ToArray(), 320);
        _xs = Array.ConvertAll(data, v => new F32(v)); _ys = new F32[data.Length];
        _gs = Array.ConvertAll(_gamma.ToArray(), v => new F32(v)); _bs = Array.ConvertAll(_beta.ToArray(), v => new F32(v));
        Ops.GroupNorm(_cpu, _x, 32, _gamma, _beta, _y, 1e-5f, fuseSilu: true); // warm-up: JIT the kernel
    }

    [Benchmark(Baseline = true)]
    public F32[] Reference()
    {
        GroupNormReference.Run<F32>(_xs, _ys, Batch, 320, 64 * 64, 32, _gs, _bs, 1e-5f, true);
        return _ys;
    }

    [Benchmark]
    public Tensor Cpu()
    {
        Ops.GroupNorm(_cpu, _x, 32, _gamma, _beta, _y, 1e-5f, fuseSilu: true);
        return _y;
    }

    [Benchmark]
    public Tensor CpuNoSilu()
    {
        Ops.GroupNorm(_cpu, _x, 32, _gamma, _beta, _y, 1e-5f);
        return _y;
    }
}

/// <summary>LayerNorm over 320 channels of 2×4096 tokens (SD transformer block norms).</summary>
[MemoryDiagnoser]
public class LayerNormBenchmarks
{
    private CpuAccelerator _cpu = null!;
    private Tensor _x = null!, _y = null!, _gamma = null!, _beta = null!;
    private F32[] _xs = null!, _ys = null!, _gs = null!, _bs = null!;

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuAccelerator();
        var rng = new Random(2);
        var data = new float[2 * 4096 * 320];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 4 - 2);
        _x = _cpu.FromArray(data, 2, 4096, 320);
        _y = _cpu.Allocate(2, 4096, 320);
        _gamma = _cpu.FromArray(Enumerable.Repeat(0.9f, 320).ToArray(), 320);
        _beta = _cpu.FromArray(Enumerable.Repeat(0.2f, 320).ToArray(), 320);
        _xs = Array.ConvertAll(data, v => new F32(v)); _ys = new F32[data.Length];
        _gs = Array.ConvertAll(_gamma.ToArray(), v => new F32(v)); _bs = Array.ConvertAll(_beta.ToArray(), v => new F32(v));
        Ops.LayerNorm(_cpu, _x, _gamma, _beta, _y);
    }

    [Benchmark(Baseline = true)]
    public F32[] Reference()
    {
        LayerNormReference.Run<F32>(_xs, _ys, 320, _gs, _bs, 1e-5f);
        return _ys;
    }

    [Benchmark]
    public Tensor Cpu()
    {
        Ops.LayerNorm(_cpu, _x, _gamma, _beta, _y);
        return _y;
    }
}
