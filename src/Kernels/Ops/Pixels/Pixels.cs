using PixelCost.Kernels.Pixels;

namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>Uniform RGB noise in [0, 1): <paramref name="image"/> is F32 [H, W, 3]. See <see cref="PixelsSpec"/>.</summary>
    public static void PixelsNoise(IAccelerator acc, Tensor image, ulong seed, int variant = 0)
    {
        CheckTensors(PixelsSpec.NoiseOp, acc, ("image", image));
        var (h, w) = PixelsSpec.ValidateImage(PixelsSpec.NoiseOp, image);
        acc.Launch(PixelsSpec.NoiseOp, image.ShapeString, PixelsSpec.NoiseCost(h, w), acc.Kernels.PixelsNoise(image, seed, variant));
    }

    /// <summary>Smooth value noise, a lattice cell every <paramref name="scale"/> pixels: [H, W, 3] F32. See <see cref="PixelsSpec"/>.</summary>
    public static void PixelsSmoothNoise(IAccelerator acc, Tensor image, ulong seed, int scale = 64)
    {
        CheckTensors(PixelsSpec.SmoothNoiseOp, acc, ("image", image));
        PixelsSpec.ValidateSmoothNoise(image, scale);
        acc.Launch(PixelsSpec.SmoothNoiseOp, image.ShapeString + $" scale {scale}", PixelsSpec.SmoothNoiseCost(image.Dim(0), image.Dim(1), scale),
            acc.Kernels.PixelsSmoothNoise(image, seed, scale));
    }

    /// <summary>R along x, G along y, B along the diagonal: [H, W, 3] F32. See <see cref="PixelsSpec"/>.</summary>
    public static void PixelsGradient(IAccelerator acc, Tensor image)
    {
        CheckTensors(PixelsSpec.GradientOp, acc, ("image", image));
        var (h, w) = PixelsSpec.ValidateImage(PixelsSpec.GradientOp, image);
        acc.Launch(PixelsSpec.GradientOp, image.ShapeString, PixelsSpec.GradientCost(h, w), acc.Kernels.PixelsGradient(image));
    }

    /// <summary>Black and white cells of <paramref name="cell"/>×<paramref name="cell"/> pixels: [H, W, 3] F32.</summary>
    public static void PixelsCheckerboard(IAccelerator acc, Tensor image, int cell = 64)
    {
        CheckTensors(PixelsSpec.CheckerboardOp, acc, ("image", image));
        PixelsSpec.ValidateCheckerboard(image, cell);
        acc.Launch(PixelsSpec.CheckerboardOp, image.ShapeString + $" cell {cell}", PixelsSpec.CheckerboardCost(image.Dim(0), image.Dim(1)),
            acc.Kernels.PixelsCheckerboard(image, cell));
    }

    /// <summary>round(clamp(v, 0, 1)·255) of every value of <paramref name="src"/> (F32) into <paramref name="dst"/> (U8, same shape).</summary>
    public static void QuantizeU8(IAccelerator acc, Tensor src, Tensor dst)
    {
        CheckTensors(PixelsSpec.QuantizeOp, acc, ("src", src), ("dst", dst));
        PixelsSpec.ValidateQuantize(src, dst);
        acc.Launch(PixelsSpec.QuantizeOp, src.ShapeString, PixelsSpec.QuantizeCost(src.Length), acc.Kernels.QuantizeU8(src, dst));
    }
}
