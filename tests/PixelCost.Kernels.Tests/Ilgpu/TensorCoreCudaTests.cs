using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// The first CUDA device of compute capability ≥ 8.0, or the reason there is none. (Stand-in until the shared CUDA
/// fixture lands; it resolves libcuda.so.1, which plain ILGPU may not find.)
/// </summary>
public sealed class TensorCoreCudaFixture : IDisposable
{
    public TensorCoreCudaFixture()
    {
        try
        {
            Context = IlgpuContexts.CreateContext();
            CudaDevice? dev = null;
            foreach (var d in Context.GetCudaDevices())
                if (dev is null && d.Architecture is { } a && a.Major >= 8) dev = d;
            if (dev is null) { Reason = "no CUDA device of compute capability ≥ 8.0 (mma.m16n8k16)"; return; }
            Accelerator = dev.CreateCudaAccelerator(Context);
        }
        catch (Exception e)
        {
            Reason = $"no CUDA: {e.GetType().Name}: {e.Message}";
        }
    }

    public string? Reason { get; }
    public Context? Context { get; }
    public CudaAccelerator? Accelerator { get; }

    public void Dispose()
    {
        Accelerator?.Dispose();
        Context?.Dispose();
    }
}

/// <summary>
/// The tensor-core kernels on a real GPU: the one PTX instruction against the same fragment code the CPU emulation
/// checks (so a wrong fragment formula shows here), then GEMM and flash attention at sizes spanning many blocks, vs the
/// fp64 references (conv2d too). Every test skips (not fails) without an sm_80+ CUDA device.
/// </summary>
public class TensorCoreCudaTests(TensorCoreCudaFixture cuda) : IClassFixture<TensorCoreCudaFixture>
{
    private CudaAccelerator Acc
    {
        get
        {
            Skip.If(cuda.Accelerator is null, cuda.Reason);
            return cuda.Accelerator!;
        }
    }

    [SkippableFact]
    public void MmaInstructionMatchesTheDocumentedFragmentLayout()
    {
        var acc = Acc;
        var rng = new Random(7);
        float H(double v) => (float)(System.Half)v;
        var a = Enumerable.Range(0, 256).Select(_ => H(rng.NextDouble() * 2 - 1)).ToArray();
        var b = Enumerable.Range(0, 128).Select(_ => H(rng.NextDouble() * 2 - 1)).ToArray();
        var c = Enumerable.Range(0, 128).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var k = acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MmaTests.OneTile);
        using var ab = acc.Allocate1D(a);
        using var bb = acc.Allocate1D(b);
        using var cb = acc.Allocate1D(c);
        using var db = acc.Allocate1D<float>(128);
        k(new KernelConfig(1, 32), ab.View, bb.View, cb.View, db.View);
        acc.Synchronize();
        Close.All(MmaTests.Expected(a, b, c), db.GetAsArray1D(), 17.0 * 17 * Math.Pow(2, -24) + 1e-6, 0, new[] { 16, 8 }, "mma on the GPU");
    }

    [SkippableTheory]
    [InlineData(1, 1, 7, 16, false, false, 1f, 0f)]
    [InlineData(1, 257, 300, 129, false, false, 1f, 0f)]
    [InlineData(1, 300, 257, 200, true, true, 0.5f, 0.25f)]
    [InlineData(2, 130, 70, 1000, false, true, 1f, 1f)]
    [InlineData(1, 513, 640, 320, true, false, -1f, 0f)]
    public void GemmOnTheGpu(int batch, int m, int n, int k, bool transA, bool transB, float alpha, float beta)
    {
        var acc = Acc;
        int[] aS = transA ? [batch, k, m] : [batch, m, k], bS = transB ? [batch, n, k] : [batch, k, n], cS = [batch, m, n];
        var av = TestData.Uniform(Tensor.ElementCount(aS), 1);
        var bv = TestData.Uniform(Tensor.ElementCount(bS), 2);
        var cv = TestData.Uniform(Tensor.ElementCount(cS), 3);
        var d = GemmSpec.Validate(aS, bS, cS, transA, transB);
        using var ab = acc.Allocate1D(av);
        using var bb = acc.Allocate1D(bv);
        using var cb = acc.Allocate1D(cv);
        new GemmTensorCoreIlgpu(acc).Run(acc.DefaultStream, ab.View, bb.View, cb.View, d, transA, transB, alpha, beta, 0);
        acc.Synchronize();
        var expected = TestData.ToF64(cv);
        GemmReference.Gemm<F64>(TestData.ToF64(av), TestData.ToF64(bv), expected, d, transA, transB, alpha, beta);
        Close.All(TestData.ToFloat(expected), cb.GetAsArray1D(), GemmTensorCoreIlgpu.Atol(0, k, alpha, 0.5, 0.5, beta, 0.5), 0, cS,
            $"gemm tc on the GPU {batch}x{m}x{n}x{k} tA{transA} tB{transB}");
    }

    [SkippableTheory]
    [InlineData(2, 300, 77, 8, 40, false)]
    [InlineData(1, 1, 77, 2, 160, false)]
    [InlineData(1, 257, 257, 2, 64, true)]
    [InlineData(2, 130, 130, 3, 80, false)]
    public void FlashAttentionOnTheGpu(int b, int lq, int lk, int heads, int d, bool causal)
    {
        var acc = Acc;
        int c = heads * d;
        var qv = TestData.Uniform((long)b * lq * c, 4);
        var kv = TestData.Uniform((long)b * lk * c, 5);
        var vv = TestData.Uniform((long)b * lk * c, 6);
        float scale = 1f / MathF.Sqrt(d);
        using var qb = acc.Allocate1D(qv);
        using var kb = acc.Allocate1D(kv);
        using var vb = acc.Allocate1D(vv);
        using var ob = acc.Allocate1D<float>(qv.Length);
        new AttentionFlashIlgpu(acc).Run(acc.DefaultStream, qb.View, kb.View, vb.View, ob.View, b, lq, lk, heads, d, scale, causal, 0);
        acc.Synchronize();
        var expected = new F64[qv.Length];
        AttentionReference.Run<F64>(TestData.ToF64(qv), TestData.ToF64(kv), TestData.ToF64(vv), expected, b, lq, lk, heads, d,
            new F64(scale), causal);
        Close.All(TestData.ToFloat(expected), ob.GetAsArray1D(), AttentionFlashIlgpu.Atol(0, d, scale, 0.5, 0.5), 0, new[] { b, lq, c },
            $"flash on the GPU b{b} lq{lq} lk{lk} h{heads} d{d} causal {causal}");
    }
    [SkippableTheory]
    [InlineData(2, 64, 33, 31, 80, 3, 1, 1, true)]
    [InlineData(1, 40, 20, 18, 130, 3, 2, 1, false)]
    [InlineData(1, 320, 16, 16, 320, 1, 1, 0, true)]
    public void Conv2dOnTheGpu(int n, int cin, int h, int w, int cout, int k, int stride, int pad, bool bias)
    {
        var acc = Acc;
        int[] xS = [n, cin, h, w], wS = [cout, cin, k, k];
        int[] yS = [n, cout, (h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1];
        var d = Conv2dSpec.Validate(xS, wS, bias ? new[] { cout } : default, bias, yS, stride, pad);
        var xv = TestData.Uniform(Tensor.ElementCount(xS), 7);
        var wv = TestData.Uniform(Tensor.ElementCount(wS), 8);
        var bv = TestData.Uniform(cout, 9);
        using var xb = acc.Allocate1D(xv);
        using var wb = acc.Allocate1D(wv);
        using var bb = acc.Allocate1D(bv);
        using var yb = acc.Allocate1D<float>(Tensor.ElementCount(yS));
        new Conv2dTensorCoreIlgpu(acc).Run(acc.DefaultStream, xb.View, wb.View, bias ? bb.View : default, yb.View, d, 0);
        acc.Synchronize();
        var expected = new F64[Tensor.ElementCount(yS)];
        Conv2dReference.Conv2d<F64>(TestData.ToF64(xv), TestData.ToF64(wv), bias ? TestData.ToF64(bv) : [], expected, d);
        Close.All(TestData.ToFloat(expected), yb.GetAsArray1D(), Conv2dTensorCoreIlgpu.Atol(0, d, 0.5, 0.5, 0.5), 0, yS,
            $"conv tc on the GPU n{n} cin{cin} {h}x{w} cout{cout} k{k} s{stride} p{pad}");
    }
}
