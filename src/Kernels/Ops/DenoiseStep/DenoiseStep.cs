using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>
    /// One fused scheduler step over the latent (one launch): classifier-free guidance when modelOut is [2N,…]
    /// (uncond, cond), then out = Cx·x + Ce·m̂ [+ Cn·noise] [+ Ch·hist], and optionally aux = m̂ or Ax·x + Ae·m̂.
    /// x: [N,…]; noise, hist, out, aux: x's shape; out (and aux) may be x, noise or hist (in place), not modelOut.
    /// How each diffusers scheduler maps onto the coefficients: <see cref="DenoiseCoefficients"/>.
    /// </summary>
    public static void DenoiseStep(IAccelerator acc, Tensor x, Tensor modelOut, Tensor y, DenoiseCoefficients c,
        Tensor? noise = null, Tensor? hist = null, Tensor? aux = null, int variant = 0)
    {
        const string op = DenoiseStepSpec.Op;
        DenoiseStepSpec.Validate(x, modelOut, noise, hist, y, aux, c);
        if (acc is not CpuAccelerator cpu) throw Unsupported(op, acc);
        string name = DenoiseStepCpu.VariantName(variant, cpu);
        string shape = $"x{x.ShapeString} m{modelOut.ShapeString}{(noise != null ? " +noise" : "")}{(hist != null ? " +hist" : "")}" +
            (aux != null ? $" aux:{c.AuxKind}" : "");
        acc.Launch(op, name, shape, DenoiseStepSpec.Cost(x, modelOut, noise, hist, aux, c), () =>
        {
            if (variant == 1)
                DenoiseStepReference.Step<F32>(ActivationsCpu.AsF32(x), ActivationsCpu.AsF32(modelOut),
                    noise == null ? default : ActivationsCpu.AsF32(noise), hist == null ? default : ActivationsCpu.AsF32(hist),
                    ActivationsCpu.AsF32(y), aux == null ? default : ActivationsCpu.AsF32(aux), c);
            else DenoiseStepCpu.Step(cpu, x, modelOut, noise, hist, y, aux, c);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(x); GC.KeepAlive(modelOut); GC.KeepAlive(noise); GC.KeepAlive(hist); GC.KeepAlive(y); GC.KeepAlive(aux);
    }
}
