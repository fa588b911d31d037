using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>The definition of GroupNorm (torch.nn.functional.group_norm, two-pass statistics), with optional fused SiLU.</summary>
public static class GroupNormReference
{
    // x, y: [N, C, S] (S = product of the spatial dims); gamma, beta: [C] or empty (no affine term).
    // y may be x: a group's statistics are complete before any of its values is written.
    public static void Run<T>(ReadOnlySpan<T> x, Span<T> y, int n, int c, int s, int groups, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> beta, float eps, bool fuseSilu) where T : struct, IScalar<T>
    {
        int cpg = c / groups, m = cpg * s;
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++)
            {
                int start = (b * c + g * cpg) * s;
                T sum = T.From(0.0);
                for (int i = 0; i < m; i++) sum = sum + x[start + i];
                T mean = sum / T.From((double)m);
                T sq = T.From(0.0);
                for (int i = 0; i < m; i++)
                {
                    T d = x[start + i] - mean;
                    sq = sq + d * d;
                }
                T variance = sq / T.From((double)m);
                T rstd = T.Rsqrt(variance + T.From(eps));
                for (int ch = 0; ch < cpg; ch++)
                {
                    int channel = g * cpg + ch;
                    for (int k = 0; k < s; k++)
                    {
                        int idx = start + ch * s + k;
                        T v = (x[idx] - mean) * rstd;
                        if (!gamma.IsEmpty) v = v * gamma[channel];
                        if (!beta.IsEmpty) v = v + beta[channel];
                        if (fuseSilu) v = v * ActivationsReference.Sigmoid(v);
                        y[idx] = v;
                    }
                }
            }
    }
}
