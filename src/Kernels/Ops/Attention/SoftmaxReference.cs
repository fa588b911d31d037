using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>The definition of softmax over the last dimension: scalar, naive, generic over the scalar type.</summary>
public static class SoftmaxReference
{
    // x, y: [rows, d] (any leading dims flattened into rows). y may be x.
    public static void Run<T>(ReadOnlySpan<T> x, Span<T> y, int rows, int d) where T : struct, IScalar<T>
    {
        for (int r = 0; r < rows; r++)
            Row(x.Slice(r * d, d), y.Slice(r * d, d));
    }

    // x, y: [d], d ≥ 1. Subtracting the row max keeps every exp argument ≤ 0 (no overflow); the max element gives
    // e^0 = 1, so the sum is ≥ 1. y may be x: x[j] is read before y[j] is written.
    public static void Row<T>(ReadOnlySpan<T> x, Span<T> y) where T : struct, IScalar<T>
    {
        int d = x.Length;
        T m = x[0];
        for (int j = 1; j < d; j++) m = T.Max(m, x[j]);            // d−1
        y[0] = T.Exp(x[0] - m);                                    // d subs, d exps (with the loop below)
        T sum = y[0];
        for (int j = 1; j < d; j++)
        {
            y[j] = T.Exp(x[j] - m);
            sum += y[j];                                           // d−1
        }
        T inv = T.From(1.0) / sum;                                 // 1
        for (int j = 0; j < d; j++) y[j] *= inv;                   // d
    }
}
