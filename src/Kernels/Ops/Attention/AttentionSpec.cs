namespace PixelCost.Kernels;

/// <summary>Shape rules and cost of multi-head scaled dot-product <c>attention</c> (DESIGN §7.2).</summary>
public static class AttentionSpec
{
    public const string Op = "attention";

    public static string Shapes(Tensor q, Tensor k, Tensor v, Tensor o, int heads, bool causal) =>
        $"q {q.ShapeString}, k {k.ShapeString}, v {v.ShapeString}, o {o.ShapeString}, heads {heads}{(causal ? ", causal" : "")}";

    /// <summary>
    /// q: [B, Lq, H·D]; k, v: [B, Lk, H·D]; o: [B, Lq, H·D]; all F32 and non-empty; H ≥ 1 divides the channels;
    /// causal needs Lq == Lk; o must not overlap q, k or v (they are read after o is partly written).
    /// </summary>
    public static void Validate(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float? scale, bool causal)
    {
        string s = Shapes(q, k, v, o, heads, causal);
        if (q.DType != DType.F32 || k.DType != DType.F32 || v.DType != DType.F32 || o.DType != DType.F32)
            throw new ArgumentException($"{Op}: q, k, v, o must be F32 for {s}");
        if (q.Rank != 3 || k.Rank != 3 || v.Rank != 3 || o.Rank != 3)
            throw new ArgumentException($"{Op}: q, k, v, o must be rank 3 [B, L, heads·D]; got {s}");
        foreach (var t in new[] { q, k, v, o })
            foreach (int d in t.Shape)
                if (d == 0) throw new ArgumentException($"{Op}: zero-size dimension in {s}");
        if (heads < 1)
            throw new ArgumentException($"{Op}: heads must be ≥ 1; got {s}", nameof(heads));
        if (q.Dim(2) % heads != 0)
            throw new ArgumentException($"{Op}: heads {heads} do not divide the {q.Dim(2)} channels of q; got {s}", nameof(heads));
        if (k.Dim(2) != q.Dim(2) || v.Dim(2) != q.Dim(2))
            throw new ArgumentException($"{Op}: q, k, v channel mismatch; got {s}");
        if (k.Dim(1) != v.Dim(1))
            throw new ArgumentException($"{Op}: k and v lengths differ; got {s}");
        if (k.Dim(0) != q.Dim(0) || v.Dim(0) != q.Dim(0))
            throw new ArgumentException($"{Op}: batch mismatch; got {s}");
        if (!o.Shape.SequenceEqual(q.Shape))
            throw new ArgumentException($"{Op}: o must have q's shape; got {s}", nameof(o));
        if (causal && q.Dim(1) != k.Dim(1))
            throw new ArgumentException($"{Op}: causal mask needs Lq == Lk; got {s}", nameof(causal));
        if (o.Overlaps(q) || o.Overlaps(k) || o.Overlaps(v))
            throw new ArgumentException($"{Op}: o overlaps q, k or v; got {s}", nameof(o));
        if (scale is { } sc && !float.IsFinite(sc))
            throw new ArgumentException($"{Op}: scale {sc} is not finite; got {s}", nameof(scale));
    }

    /// <summary>(query, key) pairs the definition evaluates per (batch, head): Lq·Lk, or Lq(Lq+1)/2 when causal.</summary>
    public static long Pairs(long lq, long lk, bool causal) => causal ? lq * (lq + 1) / 2 : lq * lk;

    /// <summary>
    /// The cost of the definition (<see cref="AttentionReference"/>), per (batch, head), with P = <see cref="Pairs"/>:
    /// MatmulFlops = 2·P·D (QKᵀ) + 2·P·D (PV); OtherFlops = P scale multiplies + the softmax of each query row over its n
    /// keys (4n−1, see <see cref="SoftmaxSpec.Cost(long,long)"/>) = 5P − Lq; Transcendentals = P exps.
    /// Causal: masked pairs are not part of the definition (their probability is 0 whatever q·k is), so they are not
    /// counted — this is smaller than FlopCounterMode's dense Lq·Lk count. The same cost is charged to every variant:
    /// the tiled variant's extra online-softmax work (running-max compares, rescale exps and multiplies of the
    /// accumulator, the final division) and any padding arithmetic are implementation overhead, not in the spec.
    /// Bytes: q, k, v read once, o written once.
    /// </summary>
    public static Cost Cost(long b, long lq, long lk, long heads, long d, bool causal)
    {
        long p = Pairs(lq, lk, causal), bh = b * heads, c = heads * d;
        return new(bh * 4 * p * d, bh * (5 * p - lq), bh * p,
            4 * (b * lq * c + 2 * b * lk * c), 4 * b * lq * c);
    }
}
