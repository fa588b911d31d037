using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>The definition of LayerNorm over the last dimension (torch.nn.functional.layer_norm, two-pass statistics).</summary>
public static class LayerNormReference
{
    // x, y: [rows, D]; gamma, beta: [D] or empty. y may be x.
    public static void Run<T>(ReadOnlySpan<T> x, Span<T> y, int d, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, float eps)
        where T : struct, IScalar<T>
    {
        int rows = x.Length / d;
        for (int r = 0; r < rows; r++)
        {
            int start = r * d;
            T sum = T.From(0.0);
            for (int i = 0; i < d; i++) sum = sum + x[start + i];
            T mean = sum / T.From((double)d);
            T sq = T.From(0.0);
            for (int i = 0; i < d; i++)
            {
                T dv = x[start + i] - mean;
                sq = sq + dv * dv;
            }
            T rstd = T.Rsqrt(sq / T.From((double)d) + T.From(eps));
            for (int i = 0; i < d; i++)
            {
                T v = (x[start + i] - mean) * rstd;
                if (!gamma.IsEmpty) v = v * gamma[i];
                if (!beta.IsEmpty) v = v + beta[i];
                y[start + i] = v;
            }
        }
    }
}
