namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>
    /// y = x · wᵀ + bias (PyTorch Linear layout). x: [..., K]; w: [N, K]; bias: [N] or null; y: [..., N]. w may be F16 (half
    /// the memory) on accelerators with tensor-core kernels; everything else is F32.
    /// Runs on the gemm core (transposed B) with the bias added in the write-back. y must not overlap x, w or bias.
    /// </summary>
    public static void Linear(IAccelerator acc, Tensor x, Tensor w, Tensor? bias, Tensor y, int variant = 0)
    {
        CheckTensors(LinearSpec.Op, acc, ("x", x), ("w", w), ("bias", bias), ("y", y));
        var d = LinearSpec.Validate(x.Shape, w.Shape, bias is null ? default : bias.Shape, bias is not null, y.Shape);
        string shape = $"{x.ShapeString}x{w.ShapeString}ᵀ{(bias is null ? "" : "+" + bias.ShapeString)}->{y.ShapeString}";
        foreach (var t in new[] { x, y, bias })
            if (t is not null && t.DType != DType.F32) throw new ArgumentException($"{LinearSpec.Op}: {shape}: x, y and bias must be F32 (got {t.DType})");
        if (w.DType is not (DType.F32 or DType.F16))
            throw new ArgumentException($"{LinearSpec.Op}: {shape}: w must be F32, or F16 for the tensor-core kernels (got {w.DType})");
        if (y.Overlaps(x) || y.Overlaps(w) || bias is not null && y.Overlaps(bias))
            throw new ArgumentException($"{LinearSpec.Op}: {shape}: y must not overlap x, w or bias");
        acc.Launch(LinearSpec.Op, shape, LinearSpec.Cost(d, w.DType.SizeOf()), acc.Kernels.Linear(x, w, bias, y, d, variant));
    }
}
