using PixelCost.Kernels.Noise;
using PixelCost.Kernels.Pixels;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Cpu;

/// <summary>
/// Our CPU backend's kernel table: each op's SIMD + threads kernel (in its op folder) and, where an op numbers one,
/// its scalar reference as variant 1. Arguments are validated by the op entry before they get here.
/// </summary>
internal sealed class CpuKernels(CpuAccelerator cpu) : IOpKernels
{
    private static Span<F32> F(Tensor t) => ActivationsCpu.AsF32(t);
    private static Span<F32> FOrEmpty(Tensor? t) => t is null ? default : F(t);

    public KernelLaunch FillUniform(Tensor dst, ulong seed, ulong stream, int variant) =>
        new(NoiseCpu.VariantName(cpu, NoiseSpec.UniformOp, variant), () => NoiseCpu.Uniform(cpu, dst, seed, stream, variant));

    public KernelLaunch FillGaussian(Tensor dst, ulong seed, float mean, float std, ulong stream, int variant) =>
        new(NoiseCpu.VariantName(cpu, NoiseSpec.GaussianOp, variant), () => NoiseCpu.Gaussian(cpu, dst, seed, mean, std, stream, variant));

    public KernelLaunch PixelsNoise(Tensor image, ulong seed, int variant) =>
        new(NoiseCpu.VariantName(cpu, PixelsSpec.NoiseOp, variant), () => NoiseCpu.Uniform(cpu, image, seed, 0, variant));

    public KernelLaunch PixelsSmoothNoise(Tensor image, ulong seed, int scale) =>
        new(PixelsCpu.Variant(cpu), () => PixelsCpu.SmoothNoise(cpu, image, seed, scale));

    public KernelLaunch PixelsGradient(Tensor image) => new(PixelsCpu.Variant(cpu), () => PixelsCpu.Gradient(cpu, image));

    public KernelLaunch PixelsCheckerboard(Tensor image, int cell) =>
        new(PixelsCpu.CheckerboardVariant, () => PixelsCpu.Checkerboard(cpu, image, cell));

    public KernelLaunch QuantizeU8(Tensor src, Tensor dst) => new(PixelsCpu.QuantizeVariant(cpu), () => PixelsCpu.Quantize(cpu, src, dst));

    public KernelLaunch Gemm(Tensor a, Tensor b, Tensor c, GemmDims d, bool transA, bool transB, float alpha, float beta, int variant) =>
        new(GemmCpu.VariantName(cpu, variant), () => GemmCpu.Run(cpu, a, b, c, d, transA, transB, alpha, beta, variant));

    private static void RequireF32Weights(string op, Tensor w)
    {
        if (w.DType != DType.F32)
            throw new NotSupportedException($"{op}: the cpu kernels take F32 weights; w {w.ShapeString} is {w.DType} (F16 weights are for the tensor-core kernels of ilgpu-cpu and cuda)");
    }

    public KernelLaunch Linear(Tensor x, Tensor w, Tensor? bias, Tensor y, LinearDims d, int variant)
    {
        RequireF32Weights(LinearSpec.Op, w);
        return new(GemmCpu.VariantName(cpu, variant), () => GemmCpu.Linear(cpu, x, w, bias, y, d, variant));
    }

    public KernelLaunch Conv2d(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dDims d, int variant)
    {
        RequireF32Weights(Conv2dSpec.Op, w);
        return new(Conv2dCpu.VariantName(cpu, variant), () => Conv2dCpu.Run(cpu, x, w, bias, y, d, variant));
    }

    public KernelLaunch GroupNorm(Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y, float eps, bool fuseSilu, int variant) =>
        new(GroupNormCpu.VariantName(variant, cpu), () =>
        {
            if (variant != 1) { GroupNormCpu.Run(cpu, x, groups, gamma, beta, y, eps, fuseSilu); return; }
            int n = x.Dim(0), c = x.Dim(1);
            GroupNormReference.Run<F32>(F(x), F(y), n, c, (int)(x.Length / ((long)n * c)), groups, FOrEmpty(gamma), FOrEmpty(beta), eps, fuseSilu);
        });

    public KernelLaunch LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps, int variant) =>
        new(LayerNormCpu.VariantName(variant, cpu), () =>
        {
            if (variant == 1) LayerNormReference.Run<F32>(F(x), F(y), x.Dim(-1), FOrEmpty(gamma), FOrEmpty(beta), eps);
            else LayerNormCpu.Run(cpu, x, gamma, beta, y, eps);
        });

    public KernelLaunch Softmax(Tensor x, Tensor y, int variant) => variant is 0 or 1
        ? new(SoftmaxCpu.V1Name(cpu), () => SoftmaxCpu.V1Rows(cpu, x, y))
        : throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{SoftmaxSpec.Op}: cpu variants are 0 (default) and 1 (simd rows)");

    public KernelLaunch Attention(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale, bool causal, int variant)
    {
        bool tiled = variant switch
        {
            0 or 2 => true,
            1 => false,
            _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{AttentionSpec.Op}: cpu variants are 0 (default), 1 (naive), 2 (tiled)"),
        };
        return new((tiled ? "cpu.v2-tiled-online" : "cpu.v1-naive") + AttentionCpu.PathSuffix(cpu),
            () => AttentionCpu.Run(cpu, q, k, v, o, heads, scale, causal, tiled));
    }

    public KernelLaunch Unary(UnaryOp op, Tensor x, Tensor y, int variant) => new(ActivationsCpu.VariantName(variant, cpu), () =>
    {
        if (variant == 1)
        {
            switch (op)
            {
                case UnaryOp.Silu: ActivationsReference.Silu<F32>(F(x), F(y)); break;
                case UnaryOp.Gelu: ActivationsReference.Gelu<F32>(F(x), F(y), GeluApproximation.Erf); break;
                case UnaryOp.GeluTanh: ActivationsReference.Gelu<F32>(F(x), F(y), GeluApproximation.Tanh); break;
                default: ActivationsReference.QuickGelu<F32>(F(x), F(y)); break;
            }
            return;
        }
        switch (op)
        {
            case UnaryOp.Silu: ActivationsCpu.Unary<ActivationsCpu.SiluF>(cpu, x, y); break;
            case UnaryOp.Gelu: ActivationsCpu.Unary<ActivationsCpu.GeluErfF>(cpu, x, y); break;
            case UnaryOp.GeluTanh: ActivationsCpu.Unary<ActivationsCpu.GeluTanhF>(cpu, x, y); break;
            default: ActivationsCpu.Unary<ActivationsCpu.QuickGeluF>(cpu, x, y); break;
        }
    });

    public KernelLaunch Geglu(Tensor x, Tensor y, int variant) => new(ActivationsCpu.VariantName(variant, cpu), () =>
    {
        if (variant == 1) ActivationsReference.Geglu<F32>(F(x), F(y), y.Dim(-1));
        else ActivationsCpu.Geglu(cpu, x, y);
    });

    /// <summary>The ledger name of the glue ops; "-v512" marks the 512-bit path (concat and the timestep embedding have
    /// none: copies / scalar).</summary>
    private string GlueVariant(string op, int variant, bool hasWidePath = true) => variant switch
    {
        0 or 2 => hasWidePath && cpu.UseVector512 ? "cpu.v2-simd-threads-v512" : "cpu.v2-simd-threads",
        1 => "cpu.v1-reference",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{op}: cpu variants are 0 (default), 1 (reference), 2 (simd)"),
    };

    public KernelLaunch Add(Tensor a, Tensor b, Tensor y, int variant) => new(GlueVariant("add", variant), () =>
    {
        if (variant == 1) GlueReference.Add<F32>(F(a), F(b), F(y));
        else GlueCpu.Add(cpu, a, b, y);
    });

    public KernelLaunch AddChannelBias(Tensor x, Tensor b, Tensor y, int variant) => new(GlueVariant("add_channel_bias", variant), () =>
    {
        int n = x.Dim(0), c = x.Dim(1), s = (int)(x.Length / ((long)n * c));
        if (variant == 1) GlueReference.AddChannelBias<F32>(F(x), F(b), F(y), n, c, s);
        else GlueCpu.AddChannelBias(cpu, x, b, y);
    });

    public KernelLaunch Scale(Tensor x, float s, Tensor y, int variant) => new(GlueVariant("scale", variant), () =>
    {
        if (variant == 1) GlueReference.Scale<F32>(F(x), new F32(s), F(y));
        else GlueCpu.Scale(cpu, x, s, y);
    });

    public KernelLaunch ConcatChannels(Tensor a, Tensor b, Tensor y, int variant) => new(GlueVariant("concat", variant, hasWidePath: false), () =>
    {
        int n = a.Dim(0), ca = a.Dim(1), cb = b.Dim(1), s = (int)(a.Length / ((long)n * ca));
        if (variant == 1) GlueReference.Concat<float>(a.AsSpan(), b.AsSpan(), y.AsSpan(), n, ca, cb, s);
        else GlueCpu.Concat(cpu, a, b, y);
    });

    public KernelLaunch Upsample2xNearest(Tensor x, Tensor y, int variant) => new(GlueVariant("upsample_nearest_2x", variant), () =>
    {
        if (variant == 1) GlueReference.Upsample2xNearest<float>(x.AsSpan(), y.AsSpan(), x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3));
        else GlueCpu.Upsample(cpu, x, y);
    });

    public KernelLaunch TimestepEmbedding(Tensor t, Tensor y, bool flipSinToCos, float downscaleFreqShift, float maxPeriod, int variant) =>
        new(GlueVariant("timestep_embedding", variant, hasWidePath: false), () =>
        {
            if (variant == 1)
                GlueReference.TimestepEmbedding<F32>(F(t), F(y), y.Dim(1), flipSinToCos, downscaleFreqShift, maxPeriod);
            else GlueCpu.Timestep(t, y, flipSinToCos, downscaleFreqShift, maxPeriod);
        });

    public KernelLaunch DenoiseStep(Tensor x, Tensor modelOut, Tensor y, DenoiseCoefficients c, Tensor? noise, Tensor? hist, Tensor? aux, int variant) =>
        new(DenoiseStepCpu.VariantName(variant, cpu), () =>
        {
            if (variant == 1) DenoiseStepReference.Step<F32>(F(x), F(modelOut), FOrEmpty(noise), FOrEmpty(hist), F(y), FOrEmpty(aux), c);
            else DenoiseStepCpu.Step(cpu, x, modelOut, noise, hist, y, aux, c);
        });

    public KernelLaunch Copy(Tensor src, Tensor dst) => new("cpu.v1-strided", () => CopyCpu.Run(cpu, src, dst));

    public KernelLaunch Embedding(Tensor ids, Tensor table, Tensor? positions, Tensor y, int variant) =>
        new(EmbeddingCpu.VariantName(variant), () =>
        {
            if (variant == 1) EmbeddingReference.Run<F32>(ids.AsSpan<int>(), F(table), FOrEmpty(positions), F(y), ids.Dim(1), table.Dim(0), table.Dim(1));
            else EmbeddingCpu.Run(cpu, ids, table, positions, y);
        });
}
