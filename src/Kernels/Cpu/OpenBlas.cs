namespace PixelCost.Kernels.Cpu;

/// <summary>OpenBLAS cblas_sgemm through P/Invoke: the yardstick. CONTRACT STUB — replaced by the GEMM work.</summary>
public static class OpenBlas
{
    /// <summary>Null when libopenblas can be loaded; otherwise why not.</summary>
    public static string? Unavailable => throw new NotImplementedException();

    /// <summary>A warning when OPENBLAS_CORETYPE names a weaker core than this CPU has, else null.</summary>
    public static string? CoreTypeWarning() => throw new NotImplementedException();

    /// <summary>Same contract as Ops.Gemm (rank-2 or batched rank-3), computed by OpenBLAS; not recorded in a ledger.</summary>
    public static void Gemm(Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false, float alpha = 1f, float beta = 0f) =>
        throw new NotImplementedException();
}
