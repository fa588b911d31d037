using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>The definition of <c>embedding</c>: scalar, naive, generic over the arithmetic type.</summary>
public static class EmbeddingReference
{
    // ids: [B,T] (B·T = ids.Length), table: [V,D], positions: [P,D] or empty, y: [B,T,D]
    public static void Run<T>(ReadOnlySpan<int> ids, ReadOnlySpan<T> table, ReadOnlySpan<T> positions, Span<T> y, int tokens, int vocab, int dim)
        where T : struct, IScalar<T>
    {
        EmbeddingSpec.CheckIds(ids, tokens, vocab);
        for (int r = 0; r < ids.Length; r++)
        {
            int id = ids[r], t = r % tokens;
            for (int j = 0; j < dim; j++)
                y[r * dim + j] = positions.IsEmpty ? table[id * dim + j] : table[id * dim + j] + positions[t * dim + j];
        }
    }
}
