using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch). x: [N,Cin,H,W]; w: [Cout,Cin,kh,kw]; bias: [Cout] or null;
    /// y: [N,Cout,Ho,Wo] with Ho = (H + 2·padding − kh)/stride + 1. y must not overlap x or w (or bias).
    /// </summary>
    public static void Conv2d(IAccelerator acc, Tensor x, Tensor w, Tensor? bias, Tensor y, int stride = 1, int padding = 0,
        int variant = 0)
    {
        var d = Conv2dSpec.Validate(x.Shape, w.Shape, bias is null ? default : bias.Shape, bias is not null, y.Shape, stride, padding);
        string shape = $"{x.ShapeString}*{w.ShapeString}{(bias is null ? "" : "+" + bias.ShapeString)}->{y.ShapeString} s{stride} p{padding}";
        foreach (var t in new[] { x, w, y, bias })
            if (t is not null && t.DType != DType.F32) throw new ArgumentException($"{Conv2dSpec.Op}: {shape}: tensors must be F32 (got {t.DType})");
        if (y.Overlaps(x) || y.Overlaps(w) || bias is not null && y.Overlaps(bias))
            throw new ArgumentException($"{Conv2dSpec.Op}: {shape}: y must not overlap x, w or bias");
        var cost = Conv2dSpec.Cost(d);
        if (acc is CpuAccelerator cpu)
            cpu.Launch(Conv2dSpec.Op, Conv2dCpu.VariantName(cpu, variant), shape, cost, () => Conv2dCpu.Run(cpu, x, w, bias, y, d, variant));
        else throw Unsupported(Conv2dSpec.Op, acc);
    }
}
