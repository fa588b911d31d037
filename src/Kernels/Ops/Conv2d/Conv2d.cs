namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch). x: [N,Cin,H,W]; w: [Cout,Cin,kh,kw]; bias: [Cout] or null;
    /// y: [N,Cout,Ho,Wo] with Ho = (H + 2·padding − kh)/stride + 1. y must not overlap x or w.
    /// CONTRACT STUB — replaced by the convolution work.
    /// </summary>
    public static void Conv2d(IAccelerator acc, Tensor x, Tensor w, Tensor? bias, Tensor y, int stride = 1, int padding = 0,
        int variant = 0) => throw new NotImplementedException("conv2d");
}
