namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>
    /// C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b], row-major fp32, batched over a leading dimension.
    /// a: [M,K] or [batch,M,K] ([K,M] / [batch,K,M] when transA); b: [K,N] or [batch,K,N] ([N,K] when transB);
    /// c: [M,N] or [batch,M,N]. A rank-2 operand is broadcast over the batch. beta = 0 never reads C (NaNs there are
    /// ignored, as in BLAS). c must not overlap a or b.
    /// </summary>
    public static void Gemm(IAccelerator acc, Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false,
        float alpha = 1f, float beta = 0f, int variant = 0)
    {
        CheckTensors(GemmSpec.Op, acc, ("a", a), ("b", b), ("c", c));
        var d = GemmSpec.Validate(a.Shape, b.Shape, c.Shape, transA, transB);
        string shape = GemmSpec.ShapeString(a, b, c, transA, transB);
        foreach (var t in new[] { a, b, c })
            if (t.DType != DType.F32) throw new ArgumentException($"{GemmSpec.Op}: {shape}: operands must be F32 (got {t.DType})");
        if (c.Overlaps(a) || c.Overlaps(b)) throw new ArgumentException($"{GemmSpec.Op}: {shape}: c must not overlap a or b");
        acc.Launch(GemmSpec.Op, shape, GemmSpec.Cost(d, alpha, beta), acc.Kernels.Gemm(a, b, c, d, transA, transB, alpha, beta, variant));
    }
}
