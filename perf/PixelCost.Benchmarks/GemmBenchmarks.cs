using BenchmarkDotNet.Attributes;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Benchmarks;

/// <summary>
/// gemm: the scalar reference (baseline) and our packed kernel at 128³, then ours vs OpenBLAS at 4096³ on the same
/// thread count (CpuAccelerator(0) = one per core, OpenBLAS set to match).
/// dotnet run -c Release --project perf/PixelCost.Benchmarks -- --filter '*GemmBenchmarks*'
/// </summary>
public class GemmBenchmarks
{
    private const int Small = 128, Large = 4096;
    private CpuAccelerator _cpu = null!;
    private Tensor _a = null!, _b = null!, _c = null!, _sa = null!, _sb = null!, _sc = null!;
    private F32[] _ra = null!, _rb = null!, _rc = null!;
    private GemmDims _sd;

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuAccelerator(0);
        _cpu.Ledger.Enabled = false;
        if (OpenBlas.Unavailable is null) OpenBlas.SetThreads(_cpu.Threads);
        _a = Fill(_cpu.Allocate(Large, Large), 1); _b = Fill(_cpu.Allocate(Large, Large), 2); _c = _cpu.Allocate(Large, Large);
        _sa = Fill(_cpu.Allocate(Small, Small), 3); _sb = Fill(_cpu.Allocate(Small, Small), 4); _sc = _cpu.Allocate(Small, Small);
        _sd = GemmSpec.Validate(_sa.Shape, _sb.Shape, _sc.Shape, false, false);
        _ra = Array.ConvertAll(_sa.ToArray(), v => new F32(v));
        _rb = Array.ConvertAll(_sb.ToArray(), v => new F32(v));
        _rc = new F32[Small * Small];
        Ops.Gemm(_cpu, _sa, _sb, _sc);   // warm-up: JIT the packed path outside the timed body
    }

    internal static Tensor Fill(Tensor t, int seed)
    {
        var rng = new Random(seed);
        var s = t.AsSpan();
        for (int i = 0; i < s.Length; i++) s[i] = (float)(rng.NextDouble() - 0.5);
        return t;
    }

    [Benchmark(Baseline = true)]
    public float Reference_128()
    {
        GemmReference.Gemm<F32>(_ra, _rb, _rc, _sd, false, false, 1f, 0f);
        return _rc[0].V;
    }

    [Benchmark]
    public float Packed_128()
    {
        Ops.Gemm(_cpu, _sa, _sb, _sc);
        return _sc.AsSpan()[0];
    }

    [Benchmark]
    public float Packed_4096()
    {
        Ops.Gemm(_cpu, _a, _b, _c);
        return _c.AsSpan()[0];
    }

    [Benchmark]
    public float OpenBlas_4096()
    {
        OpenBlas.Gemm(_a, _b, _c);
        return _c.AsSpan()[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _a, _b, _c, _sa, _sb, _sc }) t.Dispose();
    }
}

/// <summary>
/// linear: the reference (baseline) at 64×320→320, then ours (bias fused) vs OpenBLAS (x·wᵀ, no bias) at SD shapes.
/// </summary>
public class LinearBenchmarks
{
    private CpuAccelerator _cpu = null!;
    private readonly Dictionary<string, (Tensor X, Tensor W, Tensor B, Tensor Y)> _t = new();
    private F32[] _rx = null!, _rw = null!, _rb = null!, _ry = null!;
    private LinearDims _rd;

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuAccelerator(0);
        _cpu.Ledger.Enabled = false;
        if (OpenBlas.Unavailable is null) OpenBlas.SetThreads(_cpu.Threads);
        foreach (var (name, r, k, n) in new[] { ("small", 64, 320, 320), ("4096x320_320", 4096, 320, 320), ("4096x320_2560", 4096, 320, 2560), ("4096x1280_320", 4096, 1280, 320) })
            _t[name] = (GemmBenchmarks.Fill(_cpu.Allocate(r, k), 1), GemmBenchmarks.Fill(_cpu.Allocate(n, k), 2), GemmBenchmarks.Fill(_cpu.Allocate(n), 3), _cpu.Allocate(r, n));
        var s = _t["small"];
        _rd = LinearSpec.Validate(s.X.Shape, s.W.Shape, s.B.Shape, true, s.Y.Shape);
        _rx = Array.ConvertAll(s.X.ToArray(), v => new F32(v));
        _rw = Array.ConvertAll(s.W.ToArray(), v => new F32(v));
        _rb = Array.ConvertAll(s.B.ToArray(), v => new F32(v));
        _ry = new F32[s.Y.Length];
        Ops.Linear(_cpu, s.X, s.W, s.B, s.Y);
    }

    private float Ours(string name) { var t = _t[name]; Ops.Linear(_cpu, t.X, t.W, t.B, t.Y); return t.Y.AsSpan()[0]; }
    private float Blas(string name) { var t = _t[name]; OpenBlas.Gemm(t.X, t.W, t.Y, transB: true); return t.Y.AsSpan()[0]; }

    [Benchmark(Baseline = true)]
    public float Reference_64x320_320()
    {
        LinearReference.Linear<F32>(_rx, _rw, _rb, _ry, _rd);
        return _ry[0].V;
    }

    [Benchmark] public float Cpu_64x320_320() => Ours("small");
    [Benchmark] public float Cpu_4096x320_320() => Ours("4096x320_320");
    [Benchmark] public float Cpu_4096x320_2560() => Ours("4096x320_2560");
    [Benchmark] public float Cpu_4096x1280_320() => Ours("4096x1280_320");
    [Benchmark] public float OpenBlas_4096x320_320() => Blas("4096x320_320");
    [Benchmark] public float OpenBlas_4096x320_2560() => Blas("4096x320_2560");
    [Benchmark] public float OpenBlas_4096x1280_320() => Blas("4096x1280_320");

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (x, w, b, y) in _t.Values) { x.Dispose(); w.Dispose(); b.Dispose(); y.Dispose(); }
    }
}
