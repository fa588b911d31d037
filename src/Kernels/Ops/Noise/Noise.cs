using PixelCost.Kernels.Noise;

namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>
    /// Fills <paramref name="dst"/> (any shape, F32) with uniform floats in [0, 1) from Philox-4x32-10 keyed by
    /// <paramref name="seed"/>; element i depends only on (seed, stream, i). <paramref name="stream"/> selects an
    /// independent sequence under the same seed (e.g. the denoising step). See <see cref="NoiseSpec"/>.
    /// </summary>
    public static void FillUniform(IAccelerator acc, Tensor dst, ulong seed, ulong stream = 0, int variant = 0)
    {
        CheckTensors(NoiseSpec.UniformOp, acc, ("dst", dst));
        NoiseSpec.Validate(NoiseSpec.UniformOp, dst);
        acc.Launch(NoiseSpec.UniformOp, dst.ShapeString, NoiseSpec.UniformCost(dst.Length), acc.Kernels.FillUniform(dst, seed, stream, variant));
    }

    /// <summary>
    /// Fills <paramref name="dst"/> (any shape, F32 — e.g. an [N,C,H,W] latent) with normal samples mean + std·z,
    /// z ~ N(0, 1) by Box–Muller over Philox-4x32-10 keyed by <paramref name="seed"/>. See <see cref="NoiseSpec"/>.
    /// </summary>
    public static void FillGaussian(IAccelerator acc, Tensor dst, ulong seed, float mean = 0f, float std = 1f,
        ulong stream = 0, int variant = 0)
    {
        CheckTensors(NoiseSpec.GaussianOp, acc, ("dst", dst));
        NoiseSpec.ValidateGaussian(dst, mean, std);
        acc.Launch(NoiseSpec.GaussianOp, dst.ShapeString, NoiseSpec.GaussianCost(dst.Length),
            acc.Kernels.FillGaussian(dst, seed, mean, std, stream, variant));
    }
}
