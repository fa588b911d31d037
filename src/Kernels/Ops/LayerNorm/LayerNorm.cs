namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>LayerNorm over the last dimension D of x: [..., D]; gamma/beta: [D] or null. y may be x.</summary>
    public static void LayerNorm(IAccelerator acc, Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps = 1e-5f,
        int variant = 0)
    {
        CheckTensors("layer_norm", acc, ("x", x), ("gamma", gamma), ("beta", beta), ("y", y));
        LayerNormSpec.Validate(x, gamma, beta, y, eps);
        var cost = LayerNormSpec.Cost(x.Shape, gamma is not null, beta is not null);
        acc.Launch("layer_norm", $"x{x.ShapeString}", cost, acc.Kernels.LayerNorm(x, gamma, beta, y, eps, variant));
    }
}
