using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>The definition of linear: scalar, naive, generic over the scalar type.</summary>
public static class LinearReference
{
    // x: [Rows, K]; w: [N, K]; bias: [N] (empty when none); y: [Rows, N].
    public static void Linear<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Span<T> y, LinearDims d)
        where T : struct, IScalar<T>
    {
        for (int r = 0; r < d.Rows; r++)
            for (int n = 0; n < d.N; n++)
            {
                T acc = T.From(0.0);
                for (int k = 0; k < d.K; k++) acc = T.Mac(acc, x[r * d.K + k], w[n * d.K + k]);
                if (d.HasBias) acc = acc + bias[n];
                y[r * d.N + n] = acc;
            }
    }
}
