using BenchmarkDotNet.Attributes;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Benchmarks;

/// <summary>
/// SD 1.5 attention at a 64² latent: 8 heads of 40, self (4096 × 4096) and cross (4096 queries × 77 text tokens).
/// The scalar reference runs at 256 queries (the full size takes minutes); the kernels at the full size.
/// Matmul FLOP/s = AttentionSpec.Cost(…).MatmulFlops / time.
/// </summary>
public class AttentionBenchmarks
{
    private const int Heads = 8, HeadDim = 40, C = Heads * HeadDim, RefQueries = 256;
    private CpuAccelerator _cpu = null!;
    private Tensor _q = null!, _k = null!, _v = null!, _o = null!;
    private F32[] _rq = null!, _rk = null!, _rv = null!, _ro = null!;

    [Params(4096, 77)]
    public int Keys;

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuAccelerator();
        _cpu.Ledger.Enabled = false;
        _q = Random(4096, 1); _k = Random(Keys, 2); _v = Random(Keys, 3);
        _o = _cpu.Allocate(1, 4096, C);
        _rq = _q.AsSpan()[..(RefQueries * C)].ToArray().Select(x => new F32(x)).ToArray();
        _rk = _k.AsSpan().ToArray().Select(x => new F32(x)).ToArray();
        _rv = _v.AsSpan().ToArray().Select(x => new F32(x)).ToArray();
        _ro = new F32[_rq.Length];
        Ops.Attention(_cpu, _q, _k, _v, _o, Heads, variant: 1); // warm-up: JIT both kernels
        Ops.Attention(_cpu, _q, _k, _v, _o, Heads, variant: 2);
    }

    private Tensor Random(int len, int seed)
    {
        var t = _cpu.Allocate(1, len, C);
        var rng = new Random(seed);
        var s = t.AsSpan();
        for (int i = 0; i < s.Length; i++) s[i] = rng.NextSingle() * 2f - 1f;
        return t;
    }

    [Benchmark(Baseline = true)]
    public F32 Reference256Queries()
    {
        AttentionReference.Run<F32>(_rq, _rk, _rv, _ro, 1, RefQueries, Keys, Heads, HeadDim, new F32(1f / MathF.Sqrt(HeadDim)), false);
        return _ro[0];
    }

    [Benchmark]
    public float Naive()
    {
        Ops.Attention(_cpu, _q, _k, _v, _o, Heads, variant: 1);
        return _o.AsSpan()[0];
    }

    [Benchmark]
    public float Tiled()
    {
        Ops.Attention(_cpu, _q, _k, _v, _o, Heads, variant: 2);
        return _o.AsSpan()[0];
    }

    [GlobalCleanup]
    public void Cleanup() { _q.Dispose(); _k.Dispose(); _v.Dispose(); _o.Dispose(); }
}
