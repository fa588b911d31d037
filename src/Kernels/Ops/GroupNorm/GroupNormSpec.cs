namespace PixelCost.Kernels;

/// <summary>
/// GroupNorm shape rules and cost. Statistics, as <see cref="GroupNormReference"/> computes them, per (n, group) over
/// m = (C/G)·S values: sum (m adds), mean = sum/m (1 divide), Σ(x − mean)² (3 per value), var = that/m (1 divide,
/// biased as PyTorch), rstd = Rsqrt(var + eps) (1 add, 1 transcendental: one hardware-style rsqrt). Then per value
/// (x − mean)·rstd (2), ·gamma (1 if gamma), +beta (1 if beta), and the fused SiLU v·σ(v) (4 + 1 exp).
/// Bytes: x read once (the minimum; the kernel reads each group again from L2), gamma/beta once, y written once.
/// </summary>
public static class GroupNormSpec
{
    public static void Validate(Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y, float eps)
    {
        const string op = "group_norm";
        Shapes.RequireF32(op, "x", x); Shapes.RequireF32(op, "y", y);
        Shapes.RequireRankAtLeast(op, "x", x, 2, "[N, C, *]");
        Shapes.RequireNonEmpty(op, "x", x);
        int c = x.Dim(1);
        if (groups < 1 || c % groups != 0)
            throw new ArgumentException($"group_norm: {groups} groups do not divide the {c} channels of x {x.ShapeString}");
        foreach (var (name, p) in new[] { ("gamma", gamma), ("beta", beta) })
        {
            if (p is null) continue;
            Shapes.RequireF32(op, name, p);
            if (p.Rank != 1 || p.Dim(0) != c)
                throw new ArgumentException($"group_norm: {name} {p.ShapeString} must be [C] = [{c}] for x {x.ShapeString}");
            if (p.Overlaps(y)) throw new ArgumentException($"group_norm: y {y.ShapeString} must not overlap {name} {p.ShapeString}");
        }
        if (!x.Shape.SequenceEqual(y.Shape))
            throw new ArgumentException($"group_norm: y {y.ShapeString} must have the shape of x {x.ShapeString}");
        Shapes.RequireSameOrDisjoint(op, "x", x, "y", y);
        if (!(eps >= 0) || float.IsInfinity(eps))
            throw new ArgumentException($"group_norm: eps {eps} must be finite and ≥ 0 (x {x.ShapeString})");
    }

    public static Cost Cost(ReadOnlySpan<int> xShape, int groups, bool gamma, bool beta, bool fuseSilu)
    {
        long n = xShape[0], c = xShape[1];
        long total = Tensor.ElementCount(xShape);
        long tasks = n * groups;
        long perValue = 2 + (gamma ? 1 : 0) + (beta ? 1 : 0) + (fuseSilu ? ActivationsSpec.SiluOther : 0);
        long other = tasks * 3 + total * (4 + perValue);   // stats: m + 3m per group, 3 scalars per group
        long trans = tasks + (fuseSilu ? total : 0);
        long read = 4 * (total + (gamma ? c : 0) + (beta ? c : 0));
        return new Cost(0, other, trans, read, 4 * total);
    }
}
