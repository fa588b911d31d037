using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PixelCost.Kernels.Noise;
using PixelCost.Kernels.Pixels;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>
/// The ILGPU backend's kernel table: each op's ILGPU kernel class (in its op folder) created on first use — which
/// compiles and loads its kernels once for this accelerator — and kept. Launches are enqueued on the accelerator's
/// stream. Variant numbers per op: the SIMT kernels first (as their class numbers them), then the tensor-core kernel;
/// 0 is the tensor-core kernel on a CUDA device that has tensor cores (sm_80+; fp16 inputs, fp32 accumulation, its
/// own stated tolerance) and the fastest SIMT kernel elsewhere — on ILGPU's CPU accelerator the mma is emulated by warp
/// shuffles, correct but slow.
/// </summary>
internal sealed class IlgpuKernels(IlgpuAccelerator acc) : IOpKernels, IDisposable
{
    private readonly Dictionary<Type, object> _loaded = new();
    private readonly Lock _lock = new();

    /// <summary>The op's kernel class for this accelerator, created (kernels compiled) once.</summary>
    private T Get<T>(Func<Accelerator, T> create) where T : class
    {
        lock (_lock)
        {
            if (_loaded.TryGetValue(typeof(T), out var k)) return (T)k;
            try { k = create(acc.Device); }
            catch (Exception e) when (e is InternalCompilerException or AcceleratorException or NotSupportedException or InvalidOperationException)
            {
                throw new AcceleratorUnavailableException($"{typeof(T).Name}: kernels failed to compile or load on {acc.Id}: {e.Message}", e);
            }
            _loaded[typeof(T)] = k;
            return (T)k;
        }
    }

    /// <summary>Frees what kernel classes keep (scratch buffers); called when the accelerator is disposed.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var k in _loaded.Values)
                if (k is IDisposable d)
                    try { d.Dispose(); } catch (Exception) { /* Dispose never throws */ }
            _loaded.Clear();
        }
    }

    private AcceleratorStream Stream => acc.Stream;
    private Accelerator Dev => acc.Device;

    /// <summary>Tensor cores are the default where they are real (CUDA sm_80+), never on the simulated device.</summary>
    private bool TensorCoresByDefault => Dev is CudaAccelerator && GemmTensorCoreIlgpu.IsSupported(Dev);

    /// <summary>An absent optional tensor is an empty view.</summary>
    private static ArrayView<float> ViewOrEmpty(Tensor? t) => t is null ? default : t.F32View();

    private static ArgumentOutOfRangeException UnknownVariant(string op, int variant, string known) =>
        new(nameof(variant), variant, $"{op}: no ILGPU variant {variant} (0 = default, {known})");

    public KernelLaunch FillUniform(Tensor dst, ulong seed, ulong stream, int variant)
    {
        var k = Get(a => new NoiseIlgpu(a));
        return new(NoiseIlgpu.VariantName(variant, Dev), () => k.RunUniform(Stream, dst.F32View(), seed, stream, variant));
    }

    public KernelLaunch FillGaussian(Tensor dst, ulong seed, float mean, float std, ulong stream, int variant)
    {
        var k = Get(a => new NoiseIlgpu(a));
        return new(NoiseIlgpu.VariantName(variant, Dev), () => k.RunGaussian(Stream, dst.F32View(), seed, mean, std, stream, variant));
    }

    public KernelLaunch PixelsNoise(Tensor image, ulong seed, int variant)
    {
        var k = Get(a => new PixelsIlgpu(a));
        return new(PixelsIlgpu.VariantName(variant, Dev), () => k.RunNoise(Stream, image.F32View(), seed, variant));
    }

    public KernelLaunch PixelsSmoothNoise(Tensor image, ulong seed, int scale)
    {
        var k = Get(a => new PixelsIlgpu(a));
        return new(PixelsIlgpu.VariantName(0, Dev), () => k.RunSmoothNoise(Stream, image.F32View(), image.Dim(0), image.Dim(1), seed, scale, 0));
    }

    public KernelLaunch PixelsGradient(Tensor image)
    {
        var k = Get(a => new PixelsIlgpu(a));
        return new(PixelsIlgpu.VariantName(0, Dev), () => k.RunGradient(Stream, image.F32View(), image.Dim(0), image.Dim(1), 0));
    }

    public KernelLaunch PixelsCheckerboard(Tensor image, int cell)
    {
        var k = Get(a => new PixelsIlgpu(a));
        return new(PixelsIlgpu.VariantName(0, Dev), () => k.RunCheckerboard(Stream, image.F32View(), image.Dim(0), image.Dim(1), cell, 0));
    }

    public KernelLaunch QuantizeU8(Tensor src, Tensor dst)
    {
        var k = Get(a => new PixelsIlgpu(a));
        return new(PixelsIlgpu.VariantName(0, Dev), () => k.RunQuantizeU8(Stream, src.F32View(), dst.View<byte>(), 0));
    }

    /// <summary>F16 weights are read by the tensor-core kernels only (variant 0 on a tensor-core device, or the TC number).</summary>
    private static void RequireF32Weights(string op, Tensor w, int variant)
    {
        if (w.DType != DType.F32)
            throw new NotSupportedException($"{op}: variant {variant} is a SIMT fp32 kernel and takes F32 weights; w {w.ShapeString} is {w.DType} (use the tensor-core variant for F16 weights)");
    }

    // gemm: 1..3 = GemmIlgpu's SIMT variants, 4 = tensor cores (fp16 in, fp32 accumulate).
    private const int GemmTc = 4;

    public KernelLaunch Gemm(Tensor a, Tensor b, Tensor c, GemmDims d, bool transA, bool transB, float alpha, float beta, int variant)
    {
        if (variant == GemmTc || variant == 0 && TensorCoresByDefault)
        {
            var tc = Get(x => new GemmTensorCoreIlgpu(x));
            return new(GemmTensorCoreIlgpu.Variants[0], () => tc.Run(Stream, a.F32View(), b.F32View(), c.F32View(), d, transA, transB, alpha, beta, 0));
        }
        if (variant > GemmTc) throw UnknownVariant(GemmSpec.Op, variant, $"1..3 = {string.Join(", ", GemmIlgpu.Variants)}, 4 = {GemmTensorCoreIlgpu.Variants[0]}");
        var k = Get(x => new GemmIlgpu(x));
        return new(GemmIlgpu.VariantName(variant, Dev, d.Batch, d.M, d.N), () => k.Run(Stream, a.F32View(), b.F32View(), c.F32View(), d, transA, transB, alpha, beta, variant));
    }

    // linear: 1..3 = the SIMT gemm variants, 4 = tensor cores: y = x·wᵀ on the tensor-core GEMM, started from the bias
    // broadcast over the rows (beta = 1) so the bias stays an fp32 add.
    public KernelLaunch Linear(Tensor x, Tensor w, Tensor? bias, Tensor y, LinearDims d, int variant)
    {
        if (variant == GemmTc || variant == 0 && (TensorCoresByDefault || w.DType == DType.F16))
        {
            var tc = Get(a => new GemmTensorCoreIlgpu(a));
            var copy = Get(a => new CopyIlgpu(a));
            var gd = new GemmDims(1, d.Rows, d.N, d.K, false, false, false);
            return new(GemmTensorCoreIlgpu.Variants[0], () =>
            {
                if (bias is not null) copy.BroadcastRows(Stream, bias.F32View(), y.F32View(), d.Rows, d.N);
                float beta = bias is null ? 0f : 1f;
                if (w.DType == DType.F16) tc.Run(Stream, x.F32View(), w.View<ILGPU.Half>(), y.F32View(), gd, false, true, 1f, beta, 0);
                else tc.Run(Stream, x.F32View(), w.F32View(), y.F32View(), gd, false, true, 1f, beta, 0);
            });
        }
        RequireF32Weights(LinearSpec.Op, w, variant);
        if (variant > GemmTc) throw UnknownVariant(LinearSpec.Op, variant, $"1..3 = {string.Join(", ", GemmIlgpu.Variants)}, 4 = {GemmTensorCoreIlgpu.Variants[0]}");
        var k = Get(a => new LinearIlgpu(a));
        return new(LinearIlgpu.VariantName(variant, Dev, d), () => k.Run(Stream, x.F32View(), w.F32View(), ViewOrEmpty(bias), y.F32View(), d, variant));
    }

    // conv2d: 1..2 = Conv2dIlgpu's SIMT implicit GEMMs, 3 = tensor cores.
    private const int ConvTc = 3;

    public KernelLaunch Conv2d(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dDims d, int variant)
    {
        if (variant == ConvTc || variant == 0 && (TensorCoresByDefault || w.DType == DType.F16))
        {
            var tc = Get(a => new Conv2dTensorCoreIlgpu(a));
            return new(Conv2dTensorCoreIlgpu.Variants[0], () =>
            {
                if (w.DType == DType.F16) tc.Run(Stream, x.F32View(), w.View<ILGPU.Half>(), ViewOrEmpty(bias), y.F32View(), d, 0);
                else tc.Run(Stream, x.F32View(), w.F32View(), ViewOrEmpty(bias), y.F32View(), d, 0);
            });
        }
        RequireF32Weights(Conv2dSpec.Op, w, variant);
        if (variant > ConvTc) throw UnknownVariant(Conv2dSpec.Op, variant, $"1..2 = {string.Join(", ", Conv2dIlgpu.Variants)}, 3 = {Conv2dTensorCoreIlgpu.Variants[0]}");
        var k = Get(a => new Conv2dIlgpu(a));
        return new(Conv2dIlgpu.VariantName(variant, Dev, d), () => k.Run(Stream, x.F32View(), w.F32View(), ViewOrEmpty(bias), y.F32View(), d, variant));
    }

    public KernelLaunch GroupNorm(Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y, float eps, bool fuseSilu, int variant)
    {
        var k = Get(a => new GroupNormIlgpu(a));
        int n = x.Dim(0), c = x.Dim(1), s = (int)(x.Length / ((long)n * c));
        return new(GroupNormIlgpu.VariantName(variant, Dev), () =>
            k.Run(Stream, x.F32View(), y.F32View(), n, c, s, groups, ViewOrEmpty(gamma), ViewOrEmpty(beta), eps, fuseSilu, variant));
    }

    public KernelLaunch LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps, int variant)
    {
        var k = Get(a => new LayerNormIlgpu(a));
        int d = x.Dim(-1), rows = (int)(x.Length / d);
        return new(LayerNormIlgpu.VariantName(variant, Dev), () => k.Run(Stream, x.F32View(), y.F32View(), rows, d, ViewOrEmpty(gamma), ViewOrEmpty(beta), eps, variant));
    }

    public KernelLaunch Softmax(Tensor x, Tensor y, int variant)
    {
        var k = Get(a => new SoftmaxIlgpu(a));
        int d = x.Dim(-1), rows = (int)(x.Length / d);
        return new(SoftmaxIlgpu.VariantName(variant, Dev), () => k.Run(Stream, x.F32View(), y.F32View(), rows, d, variant));
    }

    // attention: 1 = naive, 2 = tiled online softmax (SIMT), 3 = fused flash attention on tensor cores.
    private const int AttentionFlash = 3;

    public KernelLaunch Attention(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale, bool causal, int variant)
    {
        int batch = q.Dim(0), lq = q.Dim(1), lk = k.Dim(1), d = q.Dim(2) / heads;
        if (variant == AttentionFlash || variant == 0 && TensorCoresByDefault && AttentionFlashIlgpu.IsSupported(Dev, d))
        {
            var f = Get(a => new AttentionFlashIlgpu(a));
            return new(AttentionFlashIlgpu.Variants[0], () => f.Run(Stream, q.F32View(), k.F32View(), v.F32View(), o.F32View(), batch, lq, lk, heads, d, scale, causal, 0));
        }
        if (variant > AttentionFlash) throw UnknownVariant(AttentionSpec.Op, variant, $"1 = {AttentionIlgpu.Variants[0]}, 2 = {AttentionIlgpu.Variants[1]}, 3 = {AttentionFlashIlgpu.Variants[0]}");
        var s = Get(a => new AttentionIlgpu(a));
        return new(AttentionIlgpu.VariantName(variant, Dev, d), () => s.Run(Stream, q.F32View(), k.F32View(), v.F32View(), o.F32View(), batch, lq, lk, heads, d, scale, causal, variant));
    }

    public KernelLaunch Unary(UnaryOp op, Tensor x, Tensor y, int variant)
    {
        var k = Get(a => new ActivationsIlgpu(a));
        var f = op switch
        {
            UnaryOp.Silu => ActivationsIlgpu.Unary.Silu,
            UnaryOp.Gelu => ActivationsIlgpu.Unary.GeluErf,
            UnaryOp.GeluTanh => ActivationsIlgpu.Unary.GeluTanh,
            _ => ActivationsIlgpu.Unary.QuickGelu,
        };
        return new(ActivationsIlgpu.KernelName(x.F32View(), y.F32View(), variant, Dev), () => k.Run(Stream, x.F32View(), y.F32View(), f, variant));
    }

    public KernelLaunch Geglu(Tensor x, Tensor y, int variant)
    {
        var k = Get(a => new ActivationsIlgpu(a));
        return new(ActivationsIlgpu.GegluVariantName(variant, Dev), () => k.RunGeglu(Stream, x.F32View(), y.F32View(), y.Dim(-1), variant));
    }

    public KernelLaunch Add(Tensor a, Tensor b, Tensor y, int variant)
    {
        var k = Get(x => new GlueIlgpu(x));
        return new(GlueIlgpu.VariantName(variant, Dev), () => k.RunAdd(Stream, a.F32View(), b.F32View(), y.F32View(), variant));
    }

    public KernelLaunch AddChannelBias(Tensor x, Tensor b, Tensor y, int variant)
    {
        var k = Get(a => new GlueIlgpu(a));
        int s = (int)(x.Length / ((long)x.Dim(0) * x.Dim(1)));
        return new(GlueIlgpu.VariantName(variant, Dev), () => k.RunAddChannelBias(Stream, x.F32View(), b.F32View(), y.F32View(), s, variant));
    }

    public KernelLaunch Scale(Tensor x, float s, Tensor y, int variant)
    {
        var k = Get(a => new GlueIlgpu(a));
        return new(GlueIlgpu.VariantName(variant, Dev), () => k.RunScale(Stream, x.F32View(), s, y.F32View(), variant));
    }

    public KernelLaunch ConcatChannels(Tensor a, Tensor b, Tensor y, int variant)
    {
        var k = Get(x => new GlueIlgpu(x));
        int s = (int)(a.Length / ((long)a.Dim(0) * a.Dim(1)));
        return new(GlueIlgpu.VariantName(variant, Dev), () => k.RunConcatChannels(Stream, a.F32View(), b.F32View(), y.F32View(), a.Dim(1), b.Dim(1), s, variant));
    }

    public KernelLaunch Upsample2xNearest(Tensor x, Tensor y, int variant)
    {
        var k = Get(a => new GlueIlgpu(a));
        return new(GlueIlgpu.VariantName(variant, Dev), () => k.RunUpsample2xNearest(Stream, x.F32View(), y.F32View(), x.Dim(2), x.Dim(3), variant));
    }

    public KernelLaunch TimestepEmbedding(Tensor t, Tensor y, bool flipSinToCos, float downscaleFreqShift, float maxPeriod, int variant)
    {
        var k = Get(a => new GlueIlgpu(a));
        return new(GlueIlgpu.VariantName(variant, Dev), () => k.RunTimestepEmbedding(Stream, t.F32View(), y.F32View(), y.Dim(1), flipSinToCos, downscaleFreqShift, maxPeriod, variant));
    }

    public KernelLaunch DenoiseStep(Tensor x, Tensor modelOut, Tensor y, DenoiseCoefficients c, Tensor? noise, Tensor? hist, Tensor? aux, int variant)
    {
        var k = Get(a => new DenoiseStepIlgpu(a));
        ArrayView<float> vx = x.F32View(), vm = modelOut.F32View(), vn = ViewOrEmpty(noise), vh = ViewOrEmpty(hist), vy = y.F32View(), va = ViewOrEmpty(aux);
        return new(k.KernelName(vx, vm, vn, vh, vy, va, variant), () => k.Run(Stream, vx, vm, vn, vh, vy, va, c, variant));
    }

    public KernelLaunch Copy(Tensor src, Tensor dst)
    {
        var k = Get(a => new CopyIlgpu(a));
        return new(CopyIlgpu.Variant, () => k.Run(Stream, src, dst));
    }

    public KernelLaunch Embedding(Tensor ids, Tensor table, Tensor? positions, Tensor y, int variant)
    {
        var k = Get(a => new EmbeddingIlgpu(a));
        return new(EmbeddingIlgpu.VariantName(variant), () =>
            k.Run(Stream, ids.View<int>(), table.F32View(), ViewOrEmpty(positions), y.F32View(), ids.Dim(1), table.Dim(1), variant));
    }
}
