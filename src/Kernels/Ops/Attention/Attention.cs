using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>Numerically stable softmax over the last dimension. x: [..., D]; y: the same shape; y may be x.
    /// variant 0 = default = 1 (SIMD rows across threads).</summary>
    public static void Softmax(IAccelerator acc, Tensor x, Tensor y, int variant = 0)
    {
        SoftmaxSpec.Validate(x, y, variant);
        var cost = SoftmaxSpec.Cost(x.Shape);
        acc.Launch(SoftmaxSpec.Op, SoftmaxCpu.V1Name(acc as CpuAccelerator), x.ShapeString, cost, () =>
        {
            if (acc is CpuAccelerator cpu) SoftmaxCpu.V1Rows(cpu, x, y);
            else throw Unsupported(SoftmaxSpec.Op, acc);
        });
    }

    /// <summary>
    /// Multi-head scaled dot-product attention, heads packed in the channel dim (diffusers' [B, L, heads·D] layout):
    /// q: [B, Lq, H·D]; k, v: [B, Lk, H·D]; o: [B, Lq, H·D]; o = softmax(q kᵀ · scale [+ causal mask]) v per head.
    /// scale defaults to 1/√D. Lq ≠ Lk for cross-attention. variant 1 = naive (materialises the [Lq, Lk] scores),
    /// 2 = tiled with an online softmax (memory ∝ tile); 0 = the default (tiled).
    /// </summary>
    public static void Attention(IAccelerator acc, Tensor q, Tensor k, Tensor v, Tensor o, int heads, float? scale = null,
        bool causal = false, int variant = 0)
    {
        AttentionSpec.Validate(q, k, v, o, heads, scale, causal, variant);
        int d = q.Dim(2) / heads;
        float sc = scale ?? 1f / MathF.Sqrt(d);
        var cost = AttentionSpec.Cost(q.Dim(0), q.Dim(1), k.Dim(1), heads, d, causal);
        bool tiled = variant != 1;
        string shape = $"q{q.ShapeString} kv{k.ShapeString} h{heads}{(causal ? " causal" : "")}";
        string path = acc is CpuAccelerator c ? AttentionCpu.PathSuffix(c) : "";
        acc.Launch(AttentionSpec.Op, (tiled ? "cpu.v2-tiled-online" : "cpu.v1-naive") + path, shape, cost, () =>
        {
            if (acc is CpuAccelerator cpu) AttentionCpu.Run(cpu, q, k, v, o, heads, sc, causal, tiled);
            else throw Unsupported(AttentionSpec.Op, acc);
        });
    }
}
