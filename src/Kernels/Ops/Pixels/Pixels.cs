using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ops.Noise;
using PixelCost.Kernels.Ops.Pixels;

namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>Uniform RGB noise in [0, 1): <paramref name="image"/> is F32 [H, W, 3]. See <see cref="PixelsSpec"/>.</summary>
    public static void PixelsNoise(IAccelerator acc, Tensor image, ulong seed, int variant = 0)
    {
        var (h, w) = PixelsSpec.ValidateImage(PixelsSpec.NoiseOp, acc, image);
        var cost = PixelsSpec.NoiseCost(h, w);
        if (acc is CpuAccelerator cpu)
            acc.Launch(PixelsSpec.NoiseOp, NoiseCpu.VariantName(cpu, PixelsSpec.NoiseOp, variant), image.ShapeString, cost,
                () => NoiseCpu.Uniform(cpu, image, seed, 0, variant));
        else throw Unsupported(PixelsSpec.NoiseOp, acc);
    }

    /// <summary>Smooth value noise, a lattice cell every <paramref name="scale"/> pixels: [H, W, 3] F32. See <see cref="PixelsSpec"/>.</summary>
    public static void PixelsSmoothNoise(IAccelerator acc, Tensor image, ulong seed, int scale = 64)
    {
        PixelsSpec.ValidateSmoothNoise(acc, image, scale);
        var cost = PixelsSpec.SmoothNoiseCost(image.Dim(0), image.Dim(1), scale);
        if (acc is CpuAccelerator cpu)
            acc.Launch(PixelsSpec.SmoothNoiseOp, PixelsCpu.Variant(cpu), image.ShapeString + $" scale {scale}", cost,
                () => PixelsCpu.SmoothNoise(cpu, image, seed, scale));
        else throw Unsupported(PixelsSpec.SmoothNoiseOp, acc);
    }

    /// <summary>R along x, G along y, B along the diagonal: [H, W, 3] F32. See <see cref="PixelsSpec"/>.</summary>
    public static void PixelsGradient(IAccelerator acc, Tensor image)
    {
        var (h, w) = PixelsSpec.ValidateImage(PixelsSpec.GradientOp, acc, image);
        var cost = PixelsSpec.GradientCost(h, w);
        if (acc is CpuAccelerator cpu)
            acc.Launch(PixelsSpec.GradientOp, PixelsCpu.Variant(cpu), image.ShapeString, cost, () => PixelsCpu.Gradient(cpu, image));
        else throw Unsupported(PixelsSpec.GradientOp, acc);
    }

    /// <summary>Black and white cells of <paramref name="cell"/>×<paramref name="cell"/> pixels: [H, W, 3] F32.</summary>
    public static void PixelsCheckerboard(IAccelerator acc, Tensor image, int cell = 64)
    {
        PixelsSpec.ValidateCheckerboard(acc, image, cell);
        var cost = PixelsSpec.CheckerboardCost(image.Dim(0), image.Dim(1));
        if (acc is CpuAccelerator cpu)
            acc.Launch(PixelsSpec.CheckerboardOp, PixelsCpu.CheckerboardVariant, image.ShapeString + $" cell {cell}", cost,
                () => PixelsCpu.Checkerboard(cpu, image, cell));
        else throw Unsupported(PixelsSpec.CheckerboardOp, acc);
    }

    /// <summary>round(clamp(v, 0, 1)·255) of every value of <paramref name="src"/> (F32) into <paramref name="dst"/> (U8, same shape).</summary>
    public static void QuantizeU8(IAccelerator acc, Tensor src, Tensor dst)
    {
        PixelsSpec.ValidateQuantize(acc, src, dst);
        var cost = PixelsSpec.QuantizeCost(src.Length);
        if (acc is CpuAccelerator cpu)
            acc.Launch(PixelsSpec.QuantizeOp, PixelsCpu.QuantizeVariant(cpu), src.ShapeString, cost, () => PixelsCpu.Quantize(cpu, src, dst));
        else throw Unsupported(PixelsSpec.QuantizeOp, acc);
    }
}
