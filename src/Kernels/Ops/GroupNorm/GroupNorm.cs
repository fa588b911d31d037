using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>
    /// GroupNorm over x: [N,C,*] (any trailing spatial dims), statistics per (n, group); gamma/beta: [C] or null;
    /// optionally SiLU fused after the affine. y may be x (in place).
    /// </summary>
    public static void GroupNorm(IAccelerator acc, Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y,
        float eps = 1e-5f, bool fuseSilu = false, int variant = 0)
    {
        GroupNormSpec.Validate(x, groups, gamma, beta, y, eps);
        var cost = GroupNormSpec.Cost(x.Shape, groups, gamma is not null, beta is not null, fuseSilu);
        string op = fuseSilu ? "group_norm_silu" : "group_norm";
        if (acc is not CpuAccelerator cpu) throw Unsupported(op, acc);
        string name = GroupNormCpu.VariantName(variant, cpu);
        acc.Launch(op, name, $"x{x.ShapeString} g{groups}", cost, () =>
        {
            if (variant == 1)
            {
                int n = x.Dim(0), c = x.Dim(1);
                GroupNormReference.Run<F32>(ActivationsCpu.AsF32(x), ActivationsCpu.AsF32(y), n, c, (int)(x.Length / ((long)n * c)),
                    groups, gamma is null ? default : ActivationsCpu.AsF32(gamma), beta is null ? default : ActivationsCpu.AsF32(beta),
                    eps, fuseSilu);
            }
            else GroupNormCpu.Run(cpu, x, groups, gamma, beta, y, eps, fuseSilu);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(x); GC.KeepAlive(gamma); GC.KeepAlive(beta); GC.KeepAlive(y);
    }
}
