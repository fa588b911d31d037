namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>Numerically stable softmax over the last dimension. y may be x.
    /// CONTRACT STUB — replaced by the attention work.</summary>
    public static void Softmax(IAccelerator acc, Tensor x, Tensor y, int variant = 0) =>
        throw new NotImplementedException("softmax");

    /// <summary>
    /// Multi-head scaled dot-product attention, heads packed in the channel dim (diffusers' [B, L, heads·D] layout):
    /// q: [B, Lq, H·D]; k, v: [B, Lk, H·D]; o: [B, Lq, H·D]; o = softmax(q kᵀ · scale [+ causal mask]) v per head.
    /// scale defaults to 1/√D. Lq ≠ Lk for cross-attention. variant 1 = naive (materialises the [Lq, Lk] scores),
    /// 2 = tiled with an online softmax (memory ∝ tile); 0 = the default (tiled).
    /// </summary>
    public static void Attention(IAccelerator acc, Tensor q, Tensor k, Tensor v, Tensor o, int heads, float? scale = null,
        bool causal = false, int variant = 0) => throw new NotImplementedException("attention");
}
