using BenchmarkDotNet.Attributes;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Benchmarks;

/// <summary>
/// Shared setup for the elementwise benchmarks: x of the given shape (uniform in [−4, 4]), y alike, and F32 copies for
/// the scalar reference. The reference baseline runs on a small tensor (its erf is a double series), the fast kernel
/// on the same small tensor and on the SD size.
/// </summary>
public abstract class ElementwiseBench
{
    protected CpuAccelerator Acc = null!;
    protected Tensor SmallX = null!, SmallY = null!, BigX = null!, BigY = null!;
    protected F32[] SmallXs = null!, SmallYs = null!;

    protected virtual int[] SmallShape => [64, 1280];
    protected virtual int[] BigShape => [4096, 1280];
    protected virtual int[] OutShape(int[] x) => x;

    protected void Init()
    {
        Acc = new CpuAccelerator();
        SmallX = Random(SmallShape, 1); SmallY = Acc.Allocate(OutShape(SmallShape));
        BigX = Random(BigShape, 2); BigY = Acc.Allocate(OutShape(BigShape));
        SmallXs = Array.ConvertAll(SmallX.ToArray(), v => new F32(v));
        SmallYs = new F32[SmallY.Length];
    }

    private Tensor Random(int[] shape, int seed)
    {
        var rng = new Random(seed);
        var data = new float[Tensor.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 8 - 4);
        return Acc.FromArray(data, shape);
    }
}

public class SiluBenchmarks : ElementwiseBench
{
    [GlobalSetup] public void Setup() { Init(); Ops.Silu(Acc, SmallX, SmallY); }
    [Benchmark(Baseline = true)] public F32[] ReferenceSmall() { ActivationsReference.Silu<F32>(SmallXs, SmallYs); return SmallYs; }
    [Benchmark] public Tensor CpuSmall() { Ops.Silu(Acc, SmallX, SmallY); return SmallY; }
    [Benchmark] public Tensor CpuSd() { Ops.Silu(Acc, BigX, BigY); return BigY; }
}

public class GeluBenchmarks : ElementwiseBench
{
    [GlobalSetup] public void Setup() { Init(); Ops.Gelu(Acc, SmallX, SmallY); Ops.Gelu(Acc, SmallX, SmallY, GeluApproximation.Tanh); }
    [Benchmark(Baseline = true)] public F32[] ReferenceSmall() { ActivationsReference.Gelu<F32>(SmallXs, SmallYs, GeluApproximation.Erf); return SmallYs; }
    [Benchmark] public Tensor CpuSmall() { Ops.Gelu(Acc, SmallX, SmallY); return SmallY; }
    [Benchmark] public Tensor CpuSd() { Ops.Gelu(Acc, BigX, BigY); return BigY; }
    [Benchmark] public Tensor CpuSdTanh() { Ops.Gelu(Acc, BigX, BigY, GeluApproximation.Tanh); return BigY; }
}

public class QuickGeluBenchmarks : ElementwiseBench
{
    protected override int[] SmallShape => [77, 3072];
    protected override int[] BigShape => [2 * 77, 3072];
    [GlobalSetup] public void Setup() { Init(); Ops.QuickGelu(Acc, SmallX, SmallY); }
    [Benchmark(Baseline = true)] public F32[] ReferenceSmall() { ActivationsReference.QuickGelu<F32>(SmallXs, SmallYs); return SmallYs; }
    [Benchmark] public Tensor CpuSmall() { Ops.QuickGelu(Acc, SmallX, SmallY); return SmallY; }
    [Benchmark] public Tensor CpuClip() { Ops.QuickGelu(Acc, BigX, BigY); return BigY; }
}

public class GegluBenchmarks : ElementwiseBench
{
    protected override int[] SmallShape => [64, 2560];
    protected override int[] BigShape => [4096, 2560];
    protected override int[] OutShape(int[] x) => [x[0], x[1] / 2];
    [GlobalSetup] public void Setup() { Init(); Ops.Geglu(Acc, SmallX, SmallY); }
    [Benchmark(Baseline = true)] public F32[] ReferenceSmall() { ActivationsReference.Geglu<F32>(SmallXs, SmallYs, 1280); return SmallYs; }
    [Benchmark] public Tensor CpuSmall() { Ops.Geglu(Acc, SmallX, SmallY); return SmallY; }
    [Benchmark] public Tensor CpuSd() { Ops.Geglu(Acc, BigX, BigY); return BigY; }
}

public class AddBenchmarks : ElementwiseBench
{
    private F32[] _other = null!;
    [GlobalSetup] public void Setup() { Init(); _other = (F32[])SmallXs.Clone(); Ops.Add(Acc, SmallX, SmallX, SmallY); }
    [Benchmark(Baseline = true)] public F32[] ReferenceSmall() { GlueReference.Add<F32>(SmallXs, _other, SmallYs); return SmallYs; }
    [Benchmark] public Tensor CpuSmall() { Ops.Add(Acc, SmallX, SmallX, SmallY); return SmallY; }
    [Benchmark] public Tensor CpuSd() { Ops.Add(Acc, BigX, BigY, BigY); return BigY; }
}

public class ScaleBenchmarks : ElementwiseBench
{
    [GlobalSetup] public void Setup() { Init(); Ops.Scale(Acc, SmallX, 0.5f, SmallY); }
    [Benchmark(Baseline = true)] public F32[] ReferenceSmall() { GlueReference.Scale<F32>(SmallXs, new F32(0.5f), SmallYs); return SmallYs; }
    [Benchmark] public Tensor CpuSmall() { Ops.Scale(Acc, SmallX, 0.5f, SmallY); return SmallY; }
    [Benchmark] public Tensor CpuSd() { Ops.Scale(Acc, BigX, 0.5f, BigY); return BigY; }
}

/// <summary>The resnet time-embedding add: [2,1280,16,16] + [2,1280].</summary>
public class AddChannelBiasBenchmarks
{
    private CpuAccelerator _acc = null!;
    private Tensor _x = null!, _b = null!, _y = null!;
    private F32[] _xs = null!, _bs = null!, _ys = null!;
    [GlobalSetup]
    public void Setup()
    {
        _acc = new CpuAccelerator();
        _x = _acc.FromArray(Enumerable.Range(0, 2 * 1280 * 256).Select(i => (float)(i % 97)).ToArray(), 2, 1280, 16, 16);
        _b = _acc.FromArray(Enumerable.Range(0, 2 * 1280).Select(i => i * 0.01f).ToArray(), 2, 1280);
        _y = _acc.Allocate(2, 1280, 16, 16);
        _xs = Array.ConvertAll(_x.ToArray(), v => new F32(v)); _bs = Array.ConvertAll(_b.ToArray(), v => new F32(v)); _ys = new F32[_xs.Length];
        Ops.AddChannelBias(_acc, _x, _b, _y);
    }
    [Benchmark(Baseline = true)] public F32[] Reference() { GlueReference.AddChannelBias<F32>(_xs, _bs, _ys, 2, 1280, 256); return _ys; }
    [Benchmark] public Tensor Cpu() { Ops.AddChannelBias(_acc, _x, _b, _y); return _y; }
}

/// <summary>Skip concatenation of an SD up block: [2,640,32,32] ++ [2,320,32,32].</summary>
public class ConcatBenchmarks
{
    private CpuAccelerator _acc = null!;
    private Tensor _a = null!, _b = null!, _y = null!;
    private float[] _as = null!, _bs = null!, _ys = null!;
    [GlobalSetup]
    public void Setup()
    {
        _acc = new CpuAccelerator();
        _a = _acc.Allocate(2, 640, 32, 32); _b = _acc.Allocate(2, 320, 32, 32); _y = _acc.Allocate(2, 960, 32, 32);
        _as = _a.ToArray(); _bs = _b.ToArray(); _ys = new float[_y.Length];
        Ops.ConcatChannels(_acc, _a, _b, _y);
    }
    [Benchmark(Baseline = true)] public float[] Reference() { GlueReference.Concat<float>(_as, _bs, _ys, 2, 640, 320, 1024); return _ys; }
    [Benchmark] public Tensor Cpu() { Ops.ConcatChannels(_acc, _a, _b, _y); return _y; }
}

/// <summary>Nearest 2× upsample of an SD up block: [2,1280,16,16] → [2,1280,32,32].</summary>
public class UpsampleBenchmarks
{
    private CpuAccelerator _acc = null!;
    private Tensor _x = null!, _y = null!;
    private float[] _xs = null!, _ys = null!;
    [GlobalSetup]
    public void Setup()
    {
        _acc = new CpuAccelerator();
        _x = _acc.Allocate(2, 1280, 16, 16); _y = _acc.Allocate(2, 1280, 32, 32);
        _xs = _x.ToArray(); _ys = new float[_y.Length];
        Ops.Upsample2xNearest(_acc, _x, _y);
    }
    [Benchmark(Baseline = true)] public float[] Reference() { GlueReference.Upsample2xNearest<float>(_xs, _ys, 2, 1280, 16, 16); return _ys; }
    [Benchmark] public Tensor Cpu() { Ops.Upsample2xNearest(_acc, _x, _y); return _y; }
}

/// <summary>The SD timestep embedding: t: [2] → [2, 320], flip_sin_to_cos, shift 0.</summary>
public class TimestepEmbeddingBenchmarks
{
    private CpuAccelerator _acc = null!;
    private Tensor _t = null!, _y = null!;
    private F32[] _ts = null!, _ys = null!;
    [GlobalSetup]
    public void Setup()
    {
        _acc = new CpuAccelerator();
        _t = _acc.FromArray([999f, 499f], 2); _y = _acc.Allocate(2, 320);
        _ts = [new F32(999f), new F32(499f)]; _ys = new F32[640];
        Ops.TimestepEmbedding(_acc, _t, _y);
    }
    [Benchmark(Baseline = true)] public F32[] Reference() { GlueReference.TimestepEmbedding<F32>(_ts, _ys, 320, true, 0f, 10000f); return _ys; }
    [Benchmark] public Tensor Cpu() { Ops.TimestepEmbedding(_acc, _t, _y); return _y; }
}
