namespace PixelCost.Kernels;

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
        CheckTensors(op, acc, ("x", x), ("modelOut", modelOut), ("y", y), ("noise", noise), ("hist", hist), ("aux", aux));
        DenoiseStepSpec.Validate(x, modelOut, noise, hist, y, aux, c);
        string shape = $"x{x.ShapeString} m{modelOut.ShapeString}{(noise != null ? " +noise" : "")}{(hist != null ? " +hist" : "")}" +
            (aux != null ? $" aux:{c.AuxKind}" : "");
        acc.Launch(op, shape, DenoiseStepSpec.Cost(x, modelOut, noise, hist, aux, c), acc.Kernels.DenoiseStep(x, modelOut, y, c, noise, hist, aux, variant));
    }
}
