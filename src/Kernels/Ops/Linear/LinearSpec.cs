namespace PixelCost.Kernels;

/// <summary>Sizes of one linear layer: Rows = product of x's leading dims, K in, N out.</summary>
public readonly record struct LinearDims(int Rows, int K, int N, bool HasBias);

/// <summary>
/// Shape rules and cost of <c>linear</c>: y = x · wᵀ + bias (PyTorch layout). x: [..., K]; w: [N, K]; bias: [N] or none;
/// y: [..., N] with the same leading dims as x. MatmulFlops = 2 · Rows · N · K; OtherFlops = Rows · N bias adds when
/// there is a bias; bytes = x + w + bias read, y written.
/// </summary>
public static class LinearSpec
{
    public const string Op = "linear";

    public static LinearDims Validate(ReadOnlySpan<int> xShape, ReadOnlySpan<int> wShape, ReadOnlySpan<int> biasShape, bool hasBias, ReadOnlySpan<int> yShape)
    {
        int[] x = xShape.ToArray(), w = wShape.ToArray(), bias = biasShape.ToArray(), y = yShape.ToArray();
        string Shapes() => $"{Op}: x {Tensor.FormatShape(x)}, w {Tensor.FormatShape(w)}, bias {(hasBias ? Tensor.FormatShape(bias) : "none")}, y {Tensor.FormatShape(y)}";
        if (x.Length < 1) throw new ArgumentException($"{Shapes()}: x must have rank ≥ 1");
        if (w.Length != 2) throw new ArgumentException($"{Shapes()}: w must be rank 2 [N, K]");
        if (y.Length != x.Length) throw new ArgumentException($"{Shapes()}: y must have the rank of x");
        foreach (int d in x) if (d <= 0) throw new ArgumentException($"{Shapes()}: x has a zero-size dimension");
        foreach (int d in w) if (d <= 0) throw new ArgumentException($"{Shapes()}: w has a zero-size dimension");
        int K = x[^1], N = w[0];
        if (w[1] != K) throw new ArgumentException($"{Shapes()}: w must be [N, {K}] (K of x is {K}, w has {w[1]})");
        for (int i = 0; i < x.Length - 1; i++)
            if (y[i] != x[i]) throw new ArgumentException($"{Shapes()}: y's leading dims must equal x's");
        if (y[^1] != N) throw new ArgumentException($"{Shapes()}: y must end in N = {N}");
        if (hasBias && (bias.Length != 1 || bias[0] != N)) throw new ArgumentException($"{Shapes()}: bias must be [{N}]");
        long rows = 1;
        for (int i = 0; i < x.Length - 1; i++) rows *= x[i];
        if (rows > int.MaxValue) throw new ArgumentException($"{Shapes()}: too many rows");
        return new LinearDims((int)rows, K, N, hasBias);
    }

    /// <param name="weightBytes">Bytes per weight element: 4 (F32), 2 (F16 weights for the tensor-core kernels).</param>
    public static Cost Cost(LinearDims d, int weightBytes = 4)
    {
        long rn = (long)d.Rows * d.N;
        return new Cost(2 * rn * d.K, d.HasBias ? rn : 0, 0,
            4L * ((long)d.Rows * d.K + (d.HasBias ? d.N : 0)) + (long)weightBytes * d.N * d.K, 4 * rn);
    }
}
