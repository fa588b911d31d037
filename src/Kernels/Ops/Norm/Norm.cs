namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>
    /// GroupNorm over x: [N,C,*] (any trailing spatial dims), statistics per (n, group); gamma/beta: [C] or null;
    /// optionally SiLU fused after the affine. y may be x (in place).
    /// CONTRACT STUB — replaced by the norms work.
    /// </summary>
    public static void GroupNorm(IAccelerator acc, Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y,
        float eps = 1e-5f, bool fuseSilu = false, int variant = 0) => throw new NotImplementedException("group_norm");

    /// <summary>LayerNorm over the last dimension D of x: [..., D]; gamma/beta: [D] or null. y may be x.</summary>
    public static void LayerNorm(IAccelerator acc, Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps = 1e-5f,
        int variant = 0) => throw new NotImplementedException("layer_norm");
}
