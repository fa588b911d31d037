namespace PixelCost.Kernels;

public enum GeluApproximation { Erf, Tanh }

/// <summary>
/// Shape rules and costs of the activations (SiLU, GELU erf/tanh, quick_gelu, GEGLU). Per-element FLOPs are exactly
/// what <see cref="ActivationsReference"/> executes (validated by the counting tests):
///  σ(z) = 1/(1 + exp(−z)): negate, exp, add, divide = 3 other + 1 transcendental;
///  SiLU x·σ(x): 4 + 1;  quick_gelu x·σ(1.702x): 5 + 1;
///  GELU erf x·0.5·(1 + erf(x·√½)): 4 + 1;  GELU tanh 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): 8 + 1;
///  GEGLU a·GELU_erf(g) per output: 5 + 1.
/// Bytes: the input read once, the output written once (fp32).
/// </summary>
public static class ActivationsSpec
{
    public const long SiluOther = 4, QuickGeluOther = 5, GeluErfOther = 4, GeluTanhOther = 8, GegluOther = 5;

    /// <summary>Elementwise unary op: y has x's shape; y may be x, but may not partly overlap it.</summary>
    public static void ValidateUnary(string op, Tensor x, Tensor y)
    {
        Shapes.RequireF32(op, "x", x);
        Shapes.RequireF32(op, "y", y);
        Shapes.RequireNonEmpty(op, "x", x);
        if (!x.Shape.SequenceEqual(y.Shape))
            throw new ArgumentException($"{op}: y {y.ShapeString} must have the shape of x {x.ShapeString}");
        Shapes.RequireSameOrDisjoint(op, "x", x, "y", y);
    }

    public static Cost Unary(ReadOnlySpan<int> xShape, long otherPerElement)
    {
        long n = Tensor.ElementCount(xShape);
        return new Cost(0, otherPerElement * n, n, 4 * n, 4 * n);
    }

    public static Cost Silu(ReadOnlySpan<int> xShape) => Unary(xShape, SiluOther);
    public static Cost QuickGelu(ReadOnlySpan<int> xShape) => Unary(xShape, QuickGeluOther);
    public static Cost Gelu(ReadOnlySpan<int> xShape, GeluApproximation approximation) =>
        Unary(xShape, approximation == GeluApproximation.Erf ? GeluErfOther : GeluTanhOther);

    /// <summary>x: [..., 2D] → y: [..., D]; y may not overlap x.</summary>
    public static void ValidateGeglu(Tensor x, Tensor y)
    {
        const string op = "geglu";
        Shapes.RequireF32(op, "x", x);
        Shapes.RequireF32(op, "y", y);
        Shapes.RequireNonEmpty(op, "x", x);
        int last = x.Dim(-1);
        if (last % 2 != 0)
            throw new ArgumentException($"geglu: last dimension of x {x.ShapeString} must be even (value and gate halves), got {last}");
        var want = x.Shape.ToArray();
        want[^1] = last / 2;
        if (!y.Shape.SequenceEqual(want))
            throw new ArgumentException($"geglu: y {y.ShapeString} must be {Tensor.FormatShape(want)} for x {x.ShapeString}");
        if (x.Overlaps(y))
            throw new ArgumentException($"geglu: y {y.ShapeString} must not overlap x {x.ShapeString}");
    }

    public static Cost Geglu(ReadOnlySpan<int> xShape)
    {
        long nIn = Tensor.ElementCount(xShape), nOut = nIn / 2;
        return new Cost(0, GegluOther * nOut, nOut, 4 * nIn, 4 * nOut);
    }
}

/// <summary>Shape checks shared by the norm, activation and glue specs; every message names the op.</summary>
internal static class Shapes
{
    public static void RequireF32(string op, string name, Tensor t)
    {
        if (t.DType != DType.F32)
            throw new ArgumentException($"{op}: {name} {t.ShapeString} is {t.DType}; only F32 is supported");
    }

    public static void RequireNonEmpty(string op, string name, Tensor t)
    {
        if (t.Rank == 0 || t.Length == 0)
            throw new ArgumentException($"{op}: {name} {t.ShapeString} has a zero-size dimension (or no dimension)");
    }

    public static void RequireRankAtLeast(string op, string name, Tensor t, int rank, string layout)
    {
        if (t.Rank < rank)
            throw new ArgumentException($"{op}: {name} {t.ShapeString} must be {layout}");
    }

    /// <summary>In place is fine (same memory, same shape); a partial overlap would read already-written values.</summary>
    public static void RequireSameOrDisjoint(string op, string an, Tensor a, string bn, Tensor b)
    {
        if (a.Overlaps(b) && !(a.IsSameView(b)))
            throw new ArgumentException($"{op}: {bn} {b.ShapeString} partly overlaps {an} {a.ShapeString} (only exact in-place is allowed)");
    }
}
