namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>
    /// C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b], row-major fp32, batched over a leading dimension.
    /// a: [M,K] or [batch,M,K] ([K,M] / [batch,K,M] when transA); b: [K,N] or [batch,K,N] ([N,K] when transB);
    /// c: [M,N] or [batch,M,N]. A rank-2 operand is broadcast over the batch.
    /// CONTRACT STUB — replaced by the GEMM work.
    /// </summary>
    public static void Gemm(IAccelerator acc, Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false,
        float alpha = 1f, float beta = 0f, int variant = 0) => throw new NotImplementedException("gemm");

    /// <summary>y = x · wᵀ + bias (PyTorch Linear layout). x: [..., K]; w: [N, K]; bias: [N] or null; y: [..., N].</summary>
    public static void Linear(IAccelerator acc, Tensor x, Tensor w, Tensor? bias, Tensor y, int variant = 0) =>
        throw new NotImplementedException("linear");
}
