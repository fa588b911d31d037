using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>The definition of gemm: scalar, naive, generic over the scalar type (DESIGN §7.3).</summary>
public static class GemmReference
{
    // a: [batch?, M, K] ([batch?, K, M] when transA); b: [batch?, K, N] ([batch?, N, K] when transB); c: [batch?, M, N].
    // A rank-2 operand has batch stride 0 (broadcast).
    public static void Gemm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, GemmDims d, bool transA, bool transB,
        float alpha, float beta) where T : struct, IScalar<T>
    {
        int M = d.M, N = d.N, K = d.K;
        long aStride = d.ABatched ? (long)M * K : 0, bStride = d.BBatched ? (long)K * N : 0, cStride = (long)M * N;
        T al = T.From(alpha), be = T.From(beta);
        for (int bi = 0; bi < d.Batch; bi++)
        {
            var A = a.Slice((int)(bi * aStride), M * K);
            var B = b.Slice((int)(bi * bStride), K * N);
            var C = c.Slice((int)(bi * cStride), M * N);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++)
                {
                    T acc = T.From(0.0);
                    for (int k = 0; k < K; k++)
                    {
                        T av = transA ? A[k * M + i] : A[i * K + k];   // op(A)[i,k]
                        T bv = transB ? B[j * K + k] : B[k * N + j];   // op(B)[k,j]
                        acc = T.Mac(acc, av, bv);
                    }
                    if (alpha != 1f) acc = al * acc;
                    // beta = 0 never reads C: a NaN left in C must not leak into the result (BLAS semantics).
                    if (beta != 0f) acc = acc + be * C[i * N + j];
                    C[i * N + j] = acc;
                }
        }
    }
}
