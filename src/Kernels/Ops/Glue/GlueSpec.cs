namespace PixelCost.Kernels;

/// <summary>
/// Shape rules and costs of the glue ops. FLOPs are what <see cref="GlueReference"/> executes: add, add_channel_bias
/// and scale 1 per output element; concat and upsample are data movement (0 FLOPs, bytes only); the timestep embedding
/// computes its half = ⌊dim/2⌋ frequencies once (multiply, divide, exp) and per (n, i) one multiply, one sin, one cos.
/// </summary>
public static class GlueSpec
{
    public static void ValidateAdd(Tensor a, Tensor b, Tensor y)
    {
        const string op = "add";
        Shapes.RequireF32(op, "a", a); Shapes.RequireF32(op, "b", b); Shapes.RequireF32(op, "y", y);
        Shapes.RequireNonEmpty(op, "a", a);
        if (!a.Shape.SequenceEqual(b.Shape) || !a.Shape.SequenceEqual(y.Shape))
            throw new ArgumentException($"add: a {a.ShapeString}, b {b.ShapeString} and y {y.ShapeString} must have the same shape");
        Shapes.RequireSameOrDisjoint(op, "a", a, "y", y);
        Shapes.RequireSameOrDisjoint(op, "b", b, "y", y);
    }

    public static Cost Add(ReadOnlySpan<int> shape)
    {
        long n = Tensor.ElementCount(shape);
        return new Cost(0, n, 0, 8 * n, 4 * n);
    }

    /// <summary>x: [N, C, *], b: [N, C], y: x's shape.</summary>
    public static void ValidateAddChannelBias(Tensor x, Tensor b, Tensor y)
    {
        const string op = "add_channel_bias";
        Shapes.RequireF32(op, "x", x); Shapes.RequireF32(op, "b", b); Shapes.RequireF32(op, "y", y);
        Shapes.RequireRankAtLeast(op, "x", x, 2, "[N, C, *]");
        Shapes.RequireNonEmpty(op, "x", x);
        if (b.Rank != 2 || b.Dim(0) != x.Dim(0) || b.Dim(1) != x.Dim(1))
            throw new ArgumentException($"add_channel_bias: b {b.ShapeString} must be [N, C] = [{x.Dim(0)},{x.Dim(1)}] for x {x.ShapeString}");
        if (!x.Shape.SequenceEqual(y.Shape))
            throw new ArgumentException($"add_channel_bias: y {y.ShapeString} must have the shape of x {x.ShapeString}");
        Shapes.RequireSameOrDisjoint(op, "x", x, "y", y);
        if (b.Overlaps(y)) throw new ArgumentException($"add_channel_bias: y {y.ShapeString} must not overlap b {b.ShapeString}");
    }

    public static Cost AddChannelBias(ReadOnlySpan<int> xShape)
    {
        long n = Tensor.ElementCount(xShape), nc = (long)xShape[0] * xShape[1];
        return new Cost(0, n, 0, 4 * (n + nc), 4 * n);
    }

    public static void ValidateScale(Tensor x, Tensor y) => ActivationsSpec.ValidateUnary("scale", x, y);

    public static Cost Scale(ReadOnlySpan<int> shape)
    {
        long n = Tensor.ElementCount(shape);
        return new Cost(0, n, 0, 4 * n, 4 * n);
    }

    /// <summary>a: [N, Ca, *], b: [N, Cb, *] with the same N and trailing dims → y: [N, Ca + Cb, *].</summary>
    public static void ValidateConcat(Tensor a, Tensor b, Tensor y)
    {
        const string op = "concat";
        Shapes.RequireF32(op, "a", a); Shapes.RequireF32(op, "b", b); Shapes.RequireF32(op, "y", y);
        Shapes.RequireRankAtLeast(op, "a", a, 2, "[N, C, *]");
        Shapes.RequireNonEmpty(op, "a", a); Shapes.RequireNonEmpty(op, "b", b);
        bool same = a.Rank == b.Rank && a.Dim(0) == b.Dim(0) && a.Shape[2..].SequenceEqual(b.Shape[2..]);
        if (!same)
            throw new ArgumentException($"concat: a {a.ShapeString} and b {b.ShapeString} must agree on every dimension but channels (dim 1)");
        var want = a.Shape.ToArray();
        want[1] = a.Dim(1) + b.Dim(1);
        if (!y.Shape.SequenceEqual(want))
            throw new ArgumentException($"concat: y {y.ShapeString} must be {Tensor.FormatShape(want)} for a {a.ShapeString} ++ b {b.ShapeString}");
        if (y.Overlaps(a) || y.Overlaps(b))
            throw new ArgumentException($"concat: y {y.ShapeString} must not overlap a {a.ShapeString} or b {b.ShapeString}");
    }

    public static Cost Concat(ReadOnlySpan<int> aShape, ReadOnlySpan<int> bShape)
    {
        long na = Tensor.ElementCount(aShape), nb = Tensor.ElementCount(bShape);
        return new Cost(0, 0, 0, 4 * (na + nb), 4 * (na + nb));
    }

    /// <summary>x: [N, C, H, W] → y: [N, C, 2H, 2W].</summary>
    public static void ValidateUpsample(Tensor x, Tensor y)
    {
        const string op = "upsample_nearest_2x";
        Shapes.RequireF32(op, "x", x); Shapes.RequireF32(op, "y", y);
        if (x.Rank != 4) throw new ArgumentException($"upsample_nearest_2x: x {x.ShapeString} must be [N, C, H, W]");
        Shapes.RequireNonEmpty(op, "x", x);
        int[] want = [x.Dim(0), x.Dim(1), 2 * x.Dim(2), 2 * x.Dim(3)];
        if (!y.Shape.SequenceEqual(want))
            throw new ArgumentException($"upsample_nearest_2x: y {y.ShapeString} must be {Tensor.FormatShape(want)} for x {x.ShapeString}");
        if (y.Overlaps(x)) throw new ArgumentException($"upsample_nearest_2x: y {y.ShapeString} must not overlap x {x.ShapeString}");
    }

    public static Cost Upsample(ReadOnlySpan<int> xShape)
    {
        long n = Tensor.ElementCount(xShape);
        return new Cost(0, 0, 0, 4 * n, 16 * n);
    }

    /// <summary>t: [N] → y: [N, dim]; the frequency denominator half − shift must not be 0.</summary>
    public static void ValidateTimestep(Tensor t, Tensor y, float downscaleFreqShift, float maxPeriod)
    {
        const string op = "timestep_embedding";
        Shapes.RequireF32(op, "t", t); Shapes.RequireF32(op, "y", y);
        if (t.Rank != 1) throw new ArgumentException($"timestep_embedding: t {t.ShapeString} must be [N]");
        Shapes.RequireNonEmpty(op, "t", t);
        if (y.Rank != 2 || y.Dim(0) != t.Dim(0) || y.Dim(1) < 1)
            throw new ArgumentException($"timestep_embedding: y {y.ShapeString} must be [N, dim] = [{t.Dim(0)}, dim ≥ 1] for t {t.ShapeString}");
        int half = y.Dim(1) / 2;
        if (half > 0 && half - (double)downscaleFreqShift == 0)
            throw new ArgumentException($"timestep_embedding: half dim {half} − downscale_freq_shift {downscaleFreqShift} is 0 (y {y.ShapeString})");
        if (!(maxPeriod > 0)) throw new ArgumentException($"timestep_embedding: max_period {maxPeriod} must be > 0 (y {y.ShapeString})");
        if (y.Overlaps(t)) throw new ArgumentException($"timestep_embedding: y {y.ShapeString} must not overlap t {t.ShapeString}");
    }

    public static Cost Timestep(int n, int dim)
    {
        long half = dim / 2;
        return new Cost(0, 2 * half + n * half, half + 2L * n * half, 4L * n, 4L * n * dim);
    }
}
