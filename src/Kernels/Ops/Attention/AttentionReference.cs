using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>The definition of multi-head scaled dot-product attention: scalar, naive, generic over the scalar type.</summary>
public static class AttentionReference
{
    // q: [b, lq, heads·d]; k, v: [b, lk, heads·d]; o: [b, lq, heads·d]. Head h owns channels [h·d, (h+1)·d).
    // Per query row i: s_j = (q_i · k_j)·scale for the keys it sees (all lk, or j ≤ i when causal), p = softmax(s),
    // o_i = Σ_j p_j v_j.
    public static void Run<T>(ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, Span<T> o,
        int b, int lq, int lk, int heads, int d, T scale, bool causal) where T : struct, IScalar<T>
    {
        int c = heads * d;
        var s = new T[lk];   // scores of one query row
        var p = new T[lk];   // its probabilities
        for (int n = 0; n < b; n++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < lq; i++)
                {
                    int keys = causal ? i + 1 : lk;
                    var qi = q.Slice((n * lq + i) * c + h * d, d);
                    for (int j = 0; j < keys; j++)
                    {
                        var kj = k.Slice((n * lk + j) * c + h * d, d);
                        T acc = T.From(0.0);
                        for (int e = 0; e < d; e++) acc = T.Mac(acc, qi[e], kj[e]);
                        s[j] = acc * scale;
                    }
                    SoftmaxReference.Row<T>(s.AsSpan(0, keys), p.AsSpan(0, keys));
                    var oi = o.Slice((n * lq + i) * c + h * d, d);
                    for (int e = 0; e < d; e++)
                    {
                        T acc = T.From(0.0);
                        for (int j = 0; j < keys; j++) acc = T.Mac(acc, p[j], v[(n * lk + j) * c + h * d + e]);
                        oi[e] = acc;
                    }
                }
    }
}
