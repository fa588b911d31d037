namespace PixelCost.Kernels;

/// <summary>Shape rules and cost of <c>softmax</c> over the last dimension (DESIGN §7.2).</summary>
public static class SoftmaxSpec
{
    public const string Op = "softmax";

    /// <summary>x: [..., D] F32, rank ≥ 1, no zero-size dimension; y: the same shape; y is x or does not overlap it.</summary>
    public static void Validate(Tensor x, Tensor y)
    {
        string shapes = $"x {x.ShapeString}, y {y.ShapeString}";
        if (x.DType != DType.F32 || y.DType != DType.F32)
            throw new ArgumentException($"{Op}: x and y must be F32 (got {x.DType}, {y.DType}) for {shapes}");
        if (x.Rank < 1)
            throw new ArgumentException($"{Op}: x must have rank ≥ 1 for {shapes}", nameof(x));
        if (!x.Shape.SequenceEqual(y.Shape))
            throw new ArgumentException($"{Op}: y must have x's shape; got {shapes}", nameof(y));
        foreach (int d in x.Shape)
            if (d == 0) throw new ArgumentException($"{Op}: zero-size dimension in {shapes}", nameof(x));
        if (!x.IsSameView(y) && x.Overlaps(y))
            throw new ArgumentException($"{Op}: y partially overlaps x ({shapes}); pass y = x for in place or disjoint memory", nameof(y));
    }

    /// <summary>
    /// Per row of D (as <see cref="SoftmaxReference.Row{T}"/> executes it): D−1 max for the row max, D subtractions,
    /// D exps, D−1 adds for the sum, 1 divide (1/sum) and D multiplies: 4D−1 OtherFlops and D transcendentals.
    /// Bytes: x read once, y written once.
    /// </summary>
    public static Cost Cost(long rows, long d) =>
        new(0, rows * (4 * d - 1), rows * d, rows * d * 4, rows * d * 4);

    public static Cost Cost(ReadOnlySpan<int> shape)
    {
        long d = shape[^1];
        return Cost(Tensor.ElementCount(shape) / d, d);
    }
}
