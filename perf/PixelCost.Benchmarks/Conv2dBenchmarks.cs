using BenchmarkDotNet.Attributes;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Benchmarks;

/// <summary>
/// conv2d: the reference (baseline) on a small 3×3 conv (32→32 @16²), then the implicit-GEMM kernel on the small case
/// and at SD UNet shapes (3×3 320→320 @64², 640→640 @32², 1280→1280 @16² and @8², the stride-2 downsample, a 1×1).
/// dotnet run -c Release --project perf/PixelCost.Benchmarks -- --filter '*Conv2dBenchmarks*'
/// </summary>
public class Conv2dBenchmarks
{
    private CpuAccelerator _cpu = null!;
    private readonly Dictionary<string, (Tensor X, Tensor W, Tensor B, Tensor Y, int Stride, int Pad)> _t = new();
    private F32[] _rx = null!, _rw = null!, _rb = null!, _ry = null!;
    private Conv2dDims _rd;

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuAccelerator(0);
        _cpu.Ledger.Enabled = false;
        foreach (var (name, ci, co, hw, k, s, p) in new[]
        {
            ("small", 32, 32, 16, 3, 1, 1), ("320_64", 320, 320, 64, 3, 1, 1), ("640_32", 640, 640, 32, 3, 1, 1),
            ("1280_16", 1280, 1280, 16, 3, 1, 1), ("1280_8", 1280, 1280, 8, 3, 1, 1), ("s2_320_64", 320, 320, 64, 3, 2, 1),
            ("1x1_640_320_64", 640, 320, 64, 1, 1, 0),
        })
        {
            int ho = (hw + 2 * p - k) / s + 1;
            _t[name] = (GemmBenchmarks.Fill(_cpu.Allocate(1, ci, hw, hw), 1), GemmBenchmarks.Fill(_cpu.Allocate(co, ci, k, k), 2),
                GemmBenchmarks.Fill(_cpu.Allocate(co), 3), _cpu.Allocate(1, co, ho, ho), s, p);
        }
        var t = _t["small"];
        _rd = Conv2dSpec.Validate(t.X.Shape, t.W.Shape, t.B.Shape, true, t.Y.Shape, 1, 1);
        _rx = Array.ConvertAll(t.X.ToArray(), v => new F32(v));
        _rw = Array.ConvertAll(t.W.ToArray(), v => new F32(v));
        _rb = Array.ConvertAll(t.B.ToArray(), v => new F32(v));
        _ry = new F32[t.Y.Length];
        Run("small");
    }

    private float Run(string name)
    {
        var t = _t[name];
        Ops.Conv2d(_cpu, t.X, t.W, t.B, t.Y, t.Stride, t.Pad);
        return t.Y.AsSpan()[0];
    }

    [Benchmark(Baseline = true)]
    public float Reference_3x3_32_16()
    {
        Conv2dReference.Conv2d<F32>(_rx, _rw, _rb, _ry, _rd);
        return _ry[0].V;
    }

    [Benchmark] public float Cpu_3x3_32_16() => Run("small");
    [Benchmark] public float Cpu_3x3_320_64() => Run("320_64");
    [Benchmark] public float Cpu_3x3_640_32() => Run("640_32");
    [Benchmark] public float Cpu_3x3_1280_16() => Run("1280_16");
    [Benchmark] public float Cpu_3x3_1280_8() => Run("1280_8");
    [Benchmark] public float Cpu_3x3s2_320_64() => Run("s2_320_64");
    [Benchmark] public float Cpu_1x1_640_320_64() => Run("1x1_640_320_64");

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (x, w, b, y, _, _) in _t.Values) { x.Dispose(); w.Dispose(); b.Dispose(); y.Dispose(); }
    }
}
