using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>y = x·σ(x). y may be x (in place).</summary>
    public static void Silu(IAccelerator acc, Tensor x, Tensor y, int variant = 0)
    {
        ActivationsSpec.ValidateUnary("silu", x, y);
        LaunchUnary<ActivationsCpu.SiluF>(acc, "silu", x, y, ActivationsSpec.Silu(x.Shape), variant,
            (xs, ys) => ActivationsReference.Silu<Reference.F32>(xs, ys));
    }

    /// <summary>GELU, erf form (PyTorch default) or tanh form. y may be x.</summary>
    public static void Gelu(IAccelerator acc, Tensor x, Tensor y, GeluApproximation approximation = GeluApproximation.Erf,
        int variant = 0)
    {
        string op = approximation == GeluApproximation.Erf ? "gelu" : "gelu_tanh";
        ActivationsSpec.ValidateUnary(op, x, y);
        var cost = ActivationsSpec.Gelu(x.Shape, approximation);
        if (approximation == GeluApproximation.Erf)
            LaunchUnary<ActivationsCpu.GeluErfF>(acc, op, x, y, cost, variant,
                (xs, ys) => ActivationsReference.Gelu<Reference.F32>(xs, ys, GeluApproximation.Erf));
        else
            LaunchUnary<ActivationsCpu.GeluTanhF>(acc, op, x, y, cost, variant,
                (xs, ys) => ActivationsReference.Gelu<Reference.F32>(xs, ys, GeluApproximation.Tanh));
    }

    /// <summary>x · σ(1.702 x) (CLIP). y may be x.</summary>
    public static void QuickGelu(IAccelerator acc, Tensor x, Tensor y, int variant = 0)
    {
        ActivationsSpec.ValidateUnary("quick_gelu", x, y);
        LaunchUnary<ActivationsCpu.QuickGeluF>(acc, "quick_gelu", x, y, ActivationsSpec.QuickGelu(x.Shape), variant,
            (xs, ys) => ActivationsReference.QuickGelu<Reference.F32>(xs, ys));
    }

    /// <summary>x: [..., 2D] → y: [..., D] = x[..., :D] · GELU(x[..., D:]) (diffusers GEGLU, erf GELU). y may not overlap x.</summary>
    public static void Geglu(IAccelerator acc, Tensor x, Tensor y, int variant = 0)
    {
        ActivationsSpec.ValidateGeglu(x, y);
        var cost = ActivationsSpec.Geglu(x.Shape);
        if (acc is not CpuAccelerator cpu) throw Unsupported("geglu", acc);
        string name = ActivationsCpu.VariantName(variant, cpu);
        acc.Launch("geglu", name, $"x{x.ShapeString}", cost, () =>
        {
            if (variant == 1)
                ActivationsReference.Geglu<Reference.F32>(ActivationsCpu.AsF32(x), ActivationsCpu.AsF32(y), y.Dim(-1));
            else
                ActivationsCpu.Geglu(cpu, x, y);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(x); GC.KeepAlive(y);
    }

    private delegate void SpanKernel(ReadOnlySpan<Reference.F32> x, Span<Reference.F32> y);

    private static void LaunchUnary<TF>(IAccelerator acc, string op, Tensor x, Tensor y, Cost cost, int variant,
        SpanKernel reference) where TF : struct, IVectorFunc
    {
        if (acc is not CpuAccelerator cpu) throw Unsupported(op, acc);
        string name = ActivationsCpu.VariantName(variant, cpu);
        acc.Launch(op, name, $"x{x.ShapeString}", cost, () =>
        {
            if (variant == 1) reference(ActivationsCpu.AsF32(x), ActivationsCpu.AsF32(y));
            else ActivationsCpu.Unary<TF>(cpu, x, y);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(x); GC.KeepAlive(y);
    }
}
