namespace PixelCost.Kernels;

/// <summary>The unary activations that share one elementwise kernel shape.</summary>
public enum UnaryOp { Silu, Gelu, GeluTanh, QuickGelu }

/// <summary>
/// One backend's kernel table: for each op, the launch it runs for already-validated arguments (the op entry in
/// <see cref="Ops"/> validates through the Spec, checks residency, takes the cost and launches). A backend resolves the
/// variant number (0 = its default) to a ledger name and throws an ArgumentOutOfRangeException naming the op for a
/// number it does not have. Implemented by <c>CpuKernels</c> (our SIMD kernels) and <c>IlgpuKernels</c> (the ILGPU
/// kernels, on ILGPU's CPU accelerator and on CUDA).
/// </summary>
public interface IOpKernels
{
    KernelLaunch FillUniform(Tensor dst, ulong seed, ulong stream, int variant);
    KernelLaunch FillGaussian(Tensor dst, ulong seed, float mean, float std, ulong stream, int variant);
    KernelLaunch PixelsNoise(Tensor image, ulong seed, int variant);
    KernelLaunch PixelsSmoothNoise(Tensor image, ulong seed, int scale);
    KernelLaunch PixelsGradient(Tensor image);
    KernelLaunch PixelsCheckerboard(Tensor image, int cell);
    KernelLaunch QuantizeU8(Tensor src, Tensor dst);
    KernelLaunch Gemm(Tensor a, Tensor b, Tensor c, GemmDims d, bool transA, bool transB, float alpha, float beta, int variant);
    KernelLaunch Linear(Tensor x, Tensor w, Tensor? bias, Tensor y, LinearDims d, int variant);
    KernelLaunch Conv2d(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dDims d, int variant);
    KernelLaunch GroupNorm(Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y, float eps, bool fuseSilu, int variant);
    KernelLaunch LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps, int variant);
    KernelLaunch Softmax(Tensor x, Tensor y, int variant);
    KernelLaunch Attention(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale, bool causal, int variant);
    KernelLaunch Unary(UnaryOp op, Tensor x, Tensor y, int variant);
    KernelLaunch Geglu(Tensor x, Tensor y, int variant);
    KernelLaunch Add(Tensor a, Tensor b, Tensor y, int variant);
    KernelLaunch AddChannelBias(Tensor x, Tensor b, Tensor y, int variant);
    KernelLaunch Scale(Tensor x, float s, Tensor y, int variant);
    KernelLaunch ConcatChannels(Tensor a, Tensor b, Tensor y, int variant);
    KernelLaunch Upsample2xNearest(Tensor x, Tensor y, int variant);
    KernelLaunch TimestepEmbedding(Tensor t, Tensor y, bool flipSinToCos, float downscaleFreqShift, float maxPeriod, int variant);
    KernelLaunch Copy(Tensor src, Tensor dst);
    KernelLaunch Embedding(Tensor ids, Tensor table, Tensor? positions, Tensor y, int variant);
    KernelLaunch DenoiseStep(Tensor x, Tensor modelOut, Tensor y, DenoiseCoefficients c, Tensor? noise, Tensor? hist, Tensor? aux, int variant);
}
