namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch). x: [N,Cin,H,W]; w: [Cout,Cin,kh,kw]; bias: [Cout] or null;
    /// y: [N,Cout,Ho,Wo] with Ho = (H + 2·padding − kh)/stride + 1. w may be F16 (half the memory) on accelerators
    /// with tensor-core kernels; everything else is F32. y must not overlap x or w (or bias).
    /// </summary>
    public static void Conv2d(IAccelerator acc, Tensor x, Tensor w, Tensor? bias, Tensor y, int stride = 1, int padding = 0,
        int variant = 0)
    {
        CheckTensors(Conv2dSpec.Op, acc, ("x", x), ("w", w), ("bias", bias), ("y", y));
        var d = Conv2dSpec.Validate(x.Shape, w.Shape, bias is null ? default : bias.Shape, bias is not null, y.Shape, stride, padding);
        string shape = $"{x.ShapeString}*{w.ShapeString}{(bias is null ? "" : "+" + bias.ShapeString)}->{y.ShapeString} s{stride} p{padding}";
        foreach (var t in new[] { x, y, bias })
            if (t is not null && t.DType != DType.F32) throw new ArgumentException($"{Conv2dSpec.Op}: {shape}: x, y and bias must be F32 (got {t.DType})");
        if (w.DType is not (DType.F32 or DType.F16))
            throw new ArgumentException($"{Conv2dSpec.Op}: {shape}: w must be F32, or F16 for the tensor-core kernels (got {w.DType})");
        if (y.Overlaps(x) || y.Overlaps(w) || bias is not null && y.Overlaps(bias))
            throw new ArgumentException($"{Conv2dSpec.Op}: {shape}: y must not overlap x, w or bias");
        acc.Launch(Conv2dSpec.Op, shape, Conv2dSpec.Cost(d, w.DType.SizeOf()), acc.Kernels.Conv2d(x, w, bias, y, d, variant));
    }
}
