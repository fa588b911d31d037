namespace PixelCost.Kernels.Ops;

/// <summary>
/// The public entry to every op: <c>Ops.Gemm(acc, …)</c>, <c>Ops.FillGaussian(acc, …)</c>. Each op lives in its own
/// folder as a partial of this class; an entry validates through the op's Spec (which throws an ArgumentException
/// naming the op and the shapes), takes the cost from the Spec, and dispatches on the accelerator's type.
/// Variants: 0 is the default (the fastest); 1, 2, … select a numbered implementation (llm.c style).
/// </summary>
public static partial class Ops
{
    internal static Exception Unsupported(string op, IAccelerator acc) =>
        new NotSupportedException($"{op}: no kernel for accelerator '{acc.Name}'");
}
