namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>y = x·σ(x). y may be x (in place).</summary>
    public static void Silu(IAccelerator acc, Tensor x, Tensor y, int variant = 0) =>
        LaunchUnary(acc, "silu", UnaryOp.Silu, x, y, variant, () => ActivationsSpec.Silu(x.Shape));

    /// <summary>GELU, erf form (PyTorch default) or tanh form. y may be x.</summary>
    public static void Gelu(IAccelerator acc, Tensor x, Tensor y, GeluApproximation approximation = GeluApproximation.Erf,
        int variant = 0) =>
        LaunchUnary(acc, approximation == GeluApproximation.Erf ? "gelu" : "gelu_tanh",
            approximation == GeluApproximation.Erf ? UnaryOp.Gelu : UnaryOp.GeluTanh, x, y, variant,
            () => ActivationsSpec.Gelu(x.Shape, approximation));

    /// <summary>x · σ(1.702 x) (CLIP). y may be x.</summary>
    public static void QuickGelu(IAccelerator acc, Tensor x, Tensor y, int variant = 0) =>
        LaunchUnary(acc, "quick_gelu", UnaryOp.QuickGelu, x, y, variant, () => ActivationsSpec.QuickGelu(x.Shape));

    /// <summary>x: [..., 2D] → y: [..., D] = x[..., :D] · GELU(x[..., D:]) (diffusers GEGLU, erf GELU). y may not overlap x.</summary>
    public static void Geglu(IAccelerator acc, Tensor x, Tensor y, int variant = 0)
    {
        CheckTensors("geglu", acc, ("x", x), ("y", y));
        ActivationsSpec.ValidateGeglu(x, y);
        acc.Launch("geglu", $"x{x.ShapeString}", ActivationsSpec.Geglu(x.Shape), acc.Kernels.Geglu(x, y, variant));
    }

    private static void LaunchUnary(IAccelerator acc, string op, UnaryOp kind, Tensor x, Tensor y, int variant, Func<Cost> cost)
    {
        CheckTensors(op, acc, ("x", x), ("y", y));
        ActivationsSpec.ValidateUnary(op, x, y);
        acc.Launch(op, $"x{x.ShapeString}", cost(), acc.Kernels.Unary(kind, x, y, variant));
    }
}
