using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>The definition of conv2d: scalar, naive, generic over the scalar type.</summary>
public static class Conv2dReference
{
    // x: [N, Cin, H, W]; w: [Cout, Cin, kh, kw]; bias: [Cout] (empty when none); y: [N, Cout, Ho, Wo].
    public static void Conv2d<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Span<T> y, Conv2dDims d)
        where T : struct, IScalar<T>
    {
        T zero = T.From(0.0);
        for (int n = 0; n < d.N; n++)
            for (int co = 0; co < d.Cout; co++)
                for (int oy = 0; oy < d.Ho; oy++)
                    for (int ox = 0; ox < d.Wo; ox++)
                    {
                        T acc = zero;
                        for (int ci = 0; ci < d.Cin; ci++)
                            for (int ky = 0; ky < d.Kh; ky++)
                                for (int kx = 0; kx < d.Kw; kx++)
                                {
                                    int iy = oy * d.Stride + ky - d.Padding, ix = ox * d.Stride + kx - d.Padding;
                                    // A tap in the zero padding still counts as a multiply-accumulate (the spec's
                                    // 2·Cin·kh·kw per output, PyTorch's convention).
                                    T xv = iy >= 0 && iy < d.H && ix >= 0 && ix < d.W
                                        ? x[((n * d.Cin + ci) * d.H + iy) * d.W + ix] : zero;
                                    acc = T.Mac(acc, xv, w[((co * d.Cin + ci) * d.Kh + ky) * d.Kw + kx]);
                                }
                        if (d.HasBias) acc = acc + bias[co];
                        y[((n * d.Cout + co) * d.Ho + oy) * d.Wo + ox] = acc;
                    }
    }
}
