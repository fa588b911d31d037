using BenchmarkDotNet.Attributes;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Benchmarks;

/// <summary>CLIP-L's token + position embedding: 2 prompts × 77 ids gathered from a [49408, 768] table with the
/// position rows added. Report GB/s = (ids + 2·rows·768·4 B + 77·768·4 B) / time.</summary>
[MemoryDiagnoser]
public class EmbeddingBenchmarks
{
    private const int V = 49408, D = 768, T = 77, B = 2;
    private CpuAccelerator _cpu = null!;
    private Tensor _ids = null!, _table = null!, _pos = null!, _y = null!;
    private int[] _hostIds = null!;
    private F32[] _rt = null!, _rp = null!, _ry = null!;

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuAccelerator();
        _cpu.Ledger.Enabled = false;
        var rng = new Random(1);
        _hostIds = Enumerable.Range(0, B * T).Select(_ => rng.Next(V)).ToArray();
        _ids = _cpu.Allocate(DType.I32, B, T);
        _cpu.Upload<int>(_ids, _hostIds);
        _table = _cpu.Allocate(V, D);
        _pos = _cpu.Allocate(T, D);
        _y = _cpu.Allocate(B, T, D);
        var ts = _table.AsSpan();
        for (int i = 0; i < ts.Length; i++) ts[i] = rng.NextSingle();
        var ps = _pos.AsSpan();
        for (int i = 0; i < ps.Length; i++) ps[i] = rng.NextSingle();
        _rt = ts.ToArray().Select(v => new F32(v)).ToArray();
        _rp = ps.ToArray().Select(v => new F32(v)).ToArray();
        _ry = new F32[B * T * D];
        Ops.Embedding(_cpu, _ids, _table, _pos, _y); // warm-up: JIT the kernel
    }

    [Benchmark(Baseline = true)]
    public F32 Reference()
    {
        EmbeddingReference.Run<F32>(_hostIds, _rt, _rp, _ry, T, V, D);
        return _ry[0];
    }

    [Benchmark]
    public float Rows()
    {
        Ops.Embedding(_cpu, _ids, _table, _pos, _y);
        return _y.AsSpan()[0];
    }

    [GlobalCleanup]
    public void Cleanup() { _ids.Dispose(); _table.Dispose(); _pos.Dispose(); _y.Dispose(); }
}
