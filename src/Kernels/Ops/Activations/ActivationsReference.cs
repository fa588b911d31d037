using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>
/// The definitions of the activations, scalar and generic over the arithmetic type; written the way PyTorch writes
/// them (σ(z) = 1/(1 + exp(−z)); GELU as in torch.nn.functional.gelu). x, y: flat spans of the same length (any shape).
/// In place (y the same memory as x) is fine: each element is read before it is written.
/// </summary>
public static class ActivationsReference
{
    public static T Sigmoid<T>(T z) where T : struct, IScalar<T> => T.From(1.0) / (T.From(1.0) + T.Exp(-z));

    public static T GeluErf<T>(T x) where T : struct, IScalar<T> =>
        x * T.From(0.5) * (T.From(1.0) + T.Erf(x * T.From(0.70710678118654752440)));

    public static T GeluTanh<T>(T x) where T : struct, IScalar<T>
    {
        var inner = T.From(0.79788456080286535588) * (x + T.From(0.044715) * (x * x * x));
        return T.From(0.5) * x * (T.From(1.0) + T.Tanh(inner));
    }

    // x, y: [n]
    public static void Silu<T>(ReadOnlySpan<T> x, Span<T> y) where T : struct, IScalar<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * Sigmoid(x[i]);
    }

    // x, y: [n]
    public static void QuickGelu<T>(ReadOnlySpan<T> x, Span<T> y) where T : struct, IScalar<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * Sigmoid(T.From(1.702) * x[i]);
    }

    // x, y: [n]
    public static void Gelu<T>(ReadOnlySpan<T> x, Span<T> y, GeluApproximation approximation) where T : struct, IScalar<T>
    {
        for (int i = 0; i < x.Length; i++)
            y[i] = approximation == GeluApproximation.Erf ? GeluErf(x[i]) : GeluTanh(x[i]);
    }

    // x: [rows, 2D] → y: [rows, D]; y[r, j] = x[r, j] · GELU_erf(x[r, D + j]) (diffusers GEGLU: hidden, gate = chunk(2)).
    public static void Geglu<T>(ReadOnlySpan<T> x, Span<T> y, int d) where T : struct, IScalar<T>
    {
        int rows = y.Length / d;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d; j++)
                y[r * d + j] = x[r * 2 * d + j] * GeluErf(x[r * 2 * d + d + j]);
    }
}
