using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ops.Noise;

namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>
    /// Fills <paramref name="dst"/> (any shape, F32) with uniform floats in [0, 1) from Philox-4x32-10 keyed by
    /// <paramref name="seed"/>; element i depends only on (seed, stream, i). <paramref name="stream"/> selects an
    /// independent sequence under the same seed (e.g. the denoising step). See <see cref="NoiseSpec"/>.
    /// </summary>
    public static void FillUniform(IAccelerator acc, Tensor dst, ulong seed, ulong stream = 0, int variant = 0)
    {
        NoiseSpec.Validate(NoiseSpec.UniformOp, acc, dst);
        var cost = NoiseSpec.UniformCost(dst.Length);
        if (acc is CpuAccelerator cpu)
        {
            string name = NoiseCpu.VariantName(cpu, NoiseSpec.UniformOp, variant);
            acc.Launch(NoiseSpec.UniformOp, name, dst.ShapeString, cost, () => NoiseCpu.Uniform(cpu, dst, seed, stream, variant));
        }
        else throw Unsupported(NoiseSpec.UniformOp, acc);
    }

    /// <summary>
    /// Fills <paramref name="dst"/> (any shape, F32 — e.g. an [N,C,H,W] latent) with normal samples mean + std·z,
    /// z ~ N(0, 1) by Box–Muller over Philox-4x32-10 keyed by <paramref name="seed"/>. See <see cref="NoiseSpec"/>.
    /// </summary>
    public static void FillGaussian(IAccelerator acc, Tensor dst, ulong seed, float mean = 0f, float std = 1f,
        ulong stream = 0, int variant = 0)
    {
        NoiseSpec.ValidateGaussian(acc, dst, mean, std);
        var cost = NoiseSpec.GaussianCost(dst.Length);
        if (acc is CpuAccelerator cpu)
        {
            string name = NoiseCpu.VariantName(cpu, NoiseSpec.GaussianOp, variant);
            acc.Launch(NoiseSpec.GaussianOp, name, dst.ShapeString, cost,
                () => NoiseCpu.Gaussian(cpu, dst, seed, mean, std, stream, variant));
        }
        else throw Unsupported(NoiseSpec.GaussianOp, acc);
    }
}
