using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Kernels.Reference;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// F16 weights (half the memory) through Ops.Linear and Ops.Conv2d: read by the tensor-core kernels (variant 0 picks
/// them when w is F16), refused with a clear message by the CPU and the SIMT fp32 kernels. The reference is F64 over
/// the fp16-rounded weights, so the tolerance is the tensor-core GEMM's own (activations rounded to fp16 on staging).
/// </summary>
public sealed class F16WeightsTests : IDisposable
{
    private readonly IlgpuAccelerator _acc = IlgpuAccelerator.CreateCpu();

    public void Dispose() => _acc.Dispose();

    private static float[] Data(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    private Tensor Weights16(float[] w, params int[] shape)
    {
        var t = _acc.Allocate(DType.F16, shape);
        _acc.Upload<Half>(t, Array.ConvertAll(w, v => (Half)v));
        return t;
    }

    private static F64[] Rounded16(float[] w) => Array.ConvertAll(w, v => new F64((double)(float)(Half)v));

    [Fact]
    public void LinearReadsF16WeightsOnTheTensorCoreKernel()
    {
        int rows = 37, k = 70, n = 33;
        float[] x = Data(rows * k, 1), w = Data(n * k, 2), b = Data(n, 3);
        using var tx = _acc.FromArray(x, rows, k);
        using var tw = Weights16(w, n, k);
        using var tb = _acc.FromArray(b, n);
        using var ty = _acc.Allocate(rows, n);
        Ops.Linear(_acc, tx, tw, tb, ty);
        var e = _acc.Ledger.Entries[^1];
        Assert.Equal("ilgpu.tc-f16", e.Variant);
        var d = LinearSpec.Validate([rows, k], [n, k], [n], true, [rows, n]);
        Assert.Equal(LinearSpec.Cost(d).BytesRead - 2L * n * k, e.Cost.BytesRead);   // the weights move half the bytes

        var expect = new F64[rows * n];
        LinearReference.Linear<F64>(Array.ConvertAll(x, v => new F64(v)), Rounded16(w), Array.ConvertAll(b, v => new F64(v)), expect, d);
        double atol = GemmTensorCoreIlgpu.Atol(0, k, 1f, 1, 1) + 1e-6;
        var got = ty.ToArray();
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - expect[i].V) <= atol, $"y[{i}] = {got[i]}, want {expect[i].V} ± {atol}");
    }

    [Fact]
    public void Conv2dReadsF16WeightsOnTheTensorCoreKernel()
    {
        int n = 1, cin = 5, h = 9, wd = 7, cout = 6;
        float[] x = Data(n * cin * h * wd, 4), w = Data(cout * cin * 9, 5), b = Data(cout, 6);
        using var tx = _acc.FromArray(x, n, cin, h, wd);
        using var tw = Weights16(w, cout, cin, 3, 3);
        using var tb = _acc.FromArray(b, cout);
        using var ty = _acc.Allocate(n, cout, h, wd);
        Ops.Conv2d(_acc, tx, tw, tb, ty, stride: 1, padding: 1);
        Assert.Equal("ilgpu.tc-f16", _acc.Ledger.Entries[^1].Variant);
        var d = Conv2dSpec.Validate([n, cin, h, wd], [cout, cin, 3, 3], [cout], true, [n, cout, h, wd], 1, 1);
        var expect = new F64[n * cout * h * wd];
        Conv2dReference.Conv2d<F64>(Array.ConvertAll(x, v => new F64(v)), Rounded16(w), Array.ConvertAll(b, v => new F64(v)), expect, d);
        double atol = Conv2dTensorCoreIlgpu.Atol(0, d, 1, 1, 1) + 1e-6;
        var got = ty.ToArray();
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - expect[i].V) <= atol, $"y[{i}] = {got[i]}, want {expect[i].V} ± {atol}");
    }

    [Fact]
    public void CpuAndSimtKernelsRefuseF16WeightsByName()
    {
        using var tx = _acc.Zeros(4, 8);
        using var tw = _acc.Zeros(DType.F16, 3, 8);
        using var ty = _acc.Allocate(4, 3);
        var e = Assert.Throws<NotSupportedException>(() => Ops.Linear(_acc, tx, tw, null, ty, variant: 1));
        Assert.Contains("linear", e.Message); Assert.Contains("F16", e.Message); Assert.Contains("tensor-core", e.Message);

        using var cpu = new CpuAccelerator(1);
        using var cx = cpu.Zeros(4, 8);
        using var cw = cpu.Zeros(DType.F16, 3, 8);
        using var cy = cpu.Allocate(4, 3);
        e = Assert.Throws<NotSupportedException>(() => Ops.Linear(cpu, cx, cw, null, cy));
        Assert.Contains("cpu kernels take F32 weights", e.Message);
        using var cb = cpu.Zeros(DType.BF16, 3, 8);
        Assert.Contains("w must be F32, or F16", Assert.Throws<ArgumentException>(() => Ops.Linear(cpu, cx, cb, null, cy)).Message);
    }
}
