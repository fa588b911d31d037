namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>Numerically stable softmax over the last dimension. x: [..., D]; y: the same shape; y may be x.</summary>
    public static void Softmax(IAccelerator acc, Tensor x, Tensor y, int variant = 0)
    {
        CheckTensors(SoftmaxSpec.Op, acc, ("x", x), ("y", y));
        SoftmaxSpec.Validate(x, y);
        acc.Launch(SoftmaxSpec.Op, x.ShapeString, SoftmaxSpec.Cost(x.Shape), acc.Kernels.Softmax(x, y, variant));
    }

    /// <summary>
    /// Multi-head scaled dot-product attention, heads packed in the channel dim (diffusers' [B, L, heads·D] layout):
    /// q: [B, Lq, H·D]; k, v: [B, Lk, H·D]; o: [B, Lq, H·D]; o = softmax(q kᵀ · scale [+ causal mask]) v per head.
    /// scale defaults to 1/√D. Lq ≠ Lk for cross-attention. On the CPU variant 1 = naive (materialises the [Lq, Lk]
    /// scores), 2 = tiled with an online softmax (memory ∝ tile); 0 = the backend's default.
    /// </summary>
    public static void Attention(IAccelerator acc, Tensor q, Tensor k, Tensor v, Tensor o, int heads, float? scale = null,
        bool causal = false, int variant = 0)
    {
        CheckTensors(AttentionSpec.Op, acc, ("q", q), ("k", k), ("v", v), ("o", o));
        AttentionSpec.Validate(q, k, v, o, heads, scale, causal);
        int d = q.Dim(2) / heads;
        float sc = scale ?? 1f / MathF.Sqrt(d);
        var cost = AttentionSpec.Cost(q.Dim(0), q.Dim(1), k.Dim(1), heads, d, causal);
        string shape = $"q{q.ShapeString} kv{k.ShapeString} h{heads}{(causal ? " causal" : "")}";
        acc.Launch(AttentionSpec.Op, shape, cost, acc.Kernels.Attention(q, k, v, o, heads, sc, causal, variant));
    }
}
