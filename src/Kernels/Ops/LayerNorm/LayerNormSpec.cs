namespace PixelCost.Kernels;

/// <summary>
/// LayerNorm over the last dimension D, statistics per row exactly as GroupNorm's (see <see cref="GroupNormSpec"/>):
/// per row D + 3D + 3 FLOPs and 1 rsqrt, then per value (x − mean)·rstd (2), ·gamma (1), +beta (1).
/// </summary>
public static class LayerNormSpec
{
    public static void Validate(Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps)
    {
        const string op = "layer_norm";
        Shapes.RequireF32(op, "x", x); Shapes.RequireF32(op, "y", y);
        Shapes.RequireNonEmpty(op, "x", x);
        int d = x.Dim(-1);
        foreach (var (name, p) in new[] { ("gamma", gamma), ("beta", beta) })
        {
            if (p is null) continue;
            Shapes.RequireF32(op, name, p);
            if (p.Rank != 1 || p.Dim(0) != d)
                throw new ArgumentException($"layer_norm: {name} {p.ShapeString} must be [D] = [{d}] for x {x.ShapeString}");
            if (p.Overlaps(y)) throw new ArgumentException($"layer_norm: y {y.ShapeString} must not overlap {name} {p.ShapeString}");
        }
        if (!x.Shape.SequenceEqual(y.Shape))
            throw new ArgumentException($"layer_norm: y {y.ShapeString} must have the shape of x {x.ShapeString}");
        Shapes.RequireSameOrDisjoint(op, "x", x, "y", y);
        if (!(eps >= 0) || float.IsInfinity(eps))
            throw new ArgumentException($"layer_norm: eps {eps} must be finite and ≥ 0 (x {x.ShapeString})");
    }

    public static Cost Cost(ReadOnlySpan<int> xShape, bool gamma, bool beta)
    {
        long total = Tensor.ElementCount(xShape), d = xShape[^1], rows = total / d;
        long perValue = 2 + (gamma ? 1 : 0) + (beta ? 1 : 0);
        return new Cost(0, rows * 3 + total * (4 + perValue), rows,
            4 * (total + (gamma ? d : 0) + (beta ? d : 0)), 4 * total);
    }
}
