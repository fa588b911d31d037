namespace PixelCost.Kernels.Ilgpu;

// Ops whose ILGPU kernels are not wired in yet: each says so (NotSupportedException naming the op and accelerator).
internal sealed partial class IlgpuKernels
{
    public KernelLaunch FillUniform(Tensor dst, ulong seed, ulong stream, int variant) => throw Missing("noise.uniform");
    public KernelLaunch FillGaussian(Tensor dst, ulong seed, float mean, float std, ulong stream, int variant) => throw Missing("noise.gaussian");
    public KernelLaunch PixelsNoise(Tensor image, ulong seed, int variant) => throw Missing("pixels.noise");
    public KernelLaunch PixelsSmoothNoise(Tensor image, ulong seed, int scale) => throw Missing("pixels.smooth_noise");
    public KernelLaunch PixelsGradient(Tensor image) => throw Missing("pixels.gradient");
    public KernelLaunch PixelsCheckerboard(Tensor image, int cell) => throw Missing("pixels.checkerboard");
    public KernelLaunch QuantizeU8(Tensor src, Tensor dst) => throw Missing("pixels.quantize_u8");
    public KernelLaunch Gemm(Tensor a, Tensor b, Tensor c, GemmDims d, bool transA, bool transB, float alpha, float beta, int variant) => throw Missing("gemm");
    public KernelLaunch Linear(Tensor x, Tensor w, Tensor? bias, Tensor y, LinearDims d, int variant) => throw Missing("linear");
    public KernelLaunch Conv2d(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dDims d, int variant) => throw Missing("conv2d");
    public KernelLaunch GroupNorm(Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y, float eps, bool fuseSilu, int variant) => throw Missing("group_norm");
    public KernelLaunch LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps, int variant) => throw Missing("layer_norm");
    public KernelLaunch Softmax(Tensor x, Tensor y, int variant) => throw Missing("softmax");
    public KernelLaunch Attention(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale, bool causal, int variant) => throw Missing("attention");
    public KernelLaunch Unary(UnaryOp op, Tensor x, Tensor y, int variant) => throw Missing(op.ToString().ToLowerInvariant());
    public KernelLaunch Geglu(Tensor x, Tensor y, int variant) => throw Missing("geglu");
    public KernelLaunch Add(Tensor a, Tensor b, Tensor y, int variant) => throw Missing("add");
    public KernelLaunch AddChannelBias(Tensor x, Tensor b, Tensor y, int variant) => throw Missing("add_channel_bias");
    public KernelLaunch Scale(Tensor x, float s, Tensor y, int variant) => throw Missing("scale");
    public KernelLaunch ConcatChannels(Tensor a, Tensor b, Tensor y, int variant) => throw Missing("concat");
    public KernelLaunch Upsample2xNearest(Tensor x, Tensor y, int variant) => throw Missing("upsample_nearest_2x");
    public KernelLaunch TimestepEmbedding(Tensor t, Tensor y, bool flipSinToCos, float downscaleFreqShift, float maxPeriod, int variant) => throw Missing("timestep_embedding");
}
