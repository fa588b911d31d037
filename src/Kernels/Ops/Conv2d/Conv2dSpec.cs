namespace PixelCost.Kernels;

/// <summary>Sizes of one convolution.</summary>
public readonly record struct Conv2dDims(int N, int Cin, int H, int W, int Cout, int Kh, int Kw, int Stride, int Padding,
    int Ho, int Wo, bool HasBias);

/// <summary>
/// Shape rules and cost of <c>conv2d</c> (cross-correlation, as PyTorch). x: [N,Cin,H,W]; w: [Cout,Cin,kh,kw];
/// bias: [Cout] or none; y: [N,Cout,Ho,Wo], Ho = (H + 2·padding − kh)/stride + 1 (likewise Wo).
/// MatmulFlops = 2·N·Cout·Ho·Wo·Cin·kh·kw (padded taps included, as PyTorch's FlopCounterMode counts them);
/// OtherFlops = N·Cout·Ho·Wo bias adds when there is a bias; bytes = x + w + bias read, y written.
/// </summary>
public static class Conv2dSpec
{
    public const string Op = "conv2d";

    public static Conv2dDims Validate(ReadOnlySpan<int> xShape, ReadOnlySpan<int> wShape, ReadOnlySpan<int> biasShape, bool hasBias,
        ReadOnlySpan<int> yShape, int stride, int padding)
    {
        int[] x = xShape.ToArray(), w = wShape.ToArray(), bias = biasShape.ToArray(), y = yShape.ToArray();
        string Shapes() => $"{Op}: x {Tensor.FormatShape(x)}, w {Tensor.FormatShape(w)}, bias {(hasBias ? Tensor.FormatShape(bias) : "none")}, y {Tensor.FormatShape(y)}, stride {stride}, padding {padding}";
        if (x.Length != 4) throw new ArgumentException($"{Shapes()}: x must be rank 4 [N,Cin,H,W]");
        if (w.Length != 4) throw new ArgumentException($"{Shapes()}: w must be rank 4 [Cout,Cin,kh,kw]");
        if (y.Length != 4) throw new ArgumentException($"{Shapes()}: y must be rank 4 [N,Cout,Ho,Wo]");
        foreach (int d in x) if (d <= 0) throw new ArgumentException($"{Shapes()}: x has a zero-size dimension");
        foreach (int d in w) if (d <= 0) throw new ArgumentException($"{Shapes()}: w has a zero-size dimension");
        if (stride < 1) throw new ArgumentException($"{Shapes()}: stride must be ≥ 1");
        if (padding < 0) throw new ArgumentException($"{Shapes()}: padding must be ≥ 0");
        if (w[1] != x[1]) throw new ArgumentException($"{Shapes()}: w has {w[1]} input channels, x has {x[1]}");
        int kh = w[2], kw = w[3];
        if (x[2] + 2 * padding < kh || x[3] + 2 * padding < kw)
            throw new ArgumentException($"{Shapes()}: the kernel is larger than the padded input");
        int ho = (x[2] + 2 * padding - kh) / stride + 1, wo = (x[3] + 2 * padding - kw) / stride + 1;
        if (y[0] != x[0] || y[1] != w[0] || y[2] != ho || y[3] != wo)
            throw new ArgumentException($"{Shapes()}: y must be [{x[0]},{w[0]},{ho},{wo}]");
        if (hasBias && (bias.Length != 1 || bias[0] != w[0])) throw new ArgumentException($"{Shapes()}: bias must be [{w[0]}]");
        return new Conv2dDims(x[0], x[1], x[2], x[3], w[0], kh, kw, stride, padding, ho, wo, hasBias);
    }

    /// <param name="weightBytes">Bytes per weight element: 4 (F32), 2 (F16 weights for the tensor-core kernels).</param>
    public static Cost Cost(Conv2dDims d, int weightBytes = 4)
    {
        long outs = (long)d.N * d.Cout * d.Ho * d.Wo;
        long read = 4L * ((long)d.N * d.Cin * d.H * d.W + (d.HasBias ? d.Cout : 0)) + (long)weightBytes * d.Cout * d.Cin * d.Kh * d.Kw;
        return new Cost(2 * outs * d.Cin * d.Kh * d.Kw, d.HasBias ? outs : 0, 0, read, 4 * outs);
    }
}
