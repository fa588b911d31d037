namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>
    /// GroupNorm over x: [N,C,*] (any trailing spatial dims), statistics per (n, group); gamma/beta: [C] or null;
    /// optionally SiLU fused after the affine. y may be x (in place).
    /// </summary>
    public static void GroupNorm(IAccelerator acc, Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y,
        float eps = 1e-5f, bool fuseSilu = false, int variant = 0)
    {
        string op = fuseSilu ? "group_norm_silu" : "group_norm";
        CheckTensors(op, acc, ("x", x), ("gamma", gamma), ("beta", beta), ("y", y));
        GroupNormSpec.Validate(x, groups, gamma, beta, y, eps);
        var cost = GroupNormSpec.Cost(x.Shape, groups, gamma is not null, beta is not null, fuseSilu);
        acc.Launch(op, $"x{x.ShapeString} g{groups}", cost, acc.Kernels.GroupNorm(x, groups, gamma, beta, y, eps, fuseSilu, variant));
    }
}
