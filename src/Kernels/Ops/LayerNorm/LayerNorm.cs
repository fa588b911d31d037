using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>LayerNorm over the last dimension D of x: [..., D]; gamma/beta: [D] or null. y may be x.</summary>
    public static void LayerNorm(IAccelerator acc, Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps = 1e-5f,
        int variant = 0)
    {
        LayerNormSpec.Validate(x, gamma, beta, y, eps);
        var cost = LayerNormSpec.Cost(x.Shape, gamma is not null, beta is not null);
        if (acc is not CpuAccelerator cpu) throw Unsupported("layer_norm", acc);
        string name = LayerNormCpu.VariantName(variant, cpu);
        acc.Launch("layer_norm", name, $"x{x.ShapeString}", cost, () =>
        {
            if (variant == 1)
                LayerNormReference.Run<F32>(ActivationsCpu.AsF32(x), ActivationsCpu.AsF32(y), x.Dim(-1),
                    gamma is null ? default : ActivationsCpu.AsF32(gamma), beta is null ? default : ActivationsCpu.AsF32(beta), eps);
            else LayerNormCpu.Run(cpu, x, gamma, beta, y, eps);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(x); GC.KeepAlive(gamma); GC.KeepAlive(beta); GC.KeepAlive(y);
    }
}
