namespace PixelCost.Kernels;

/// <summary>
/// Shape rules and cost of <c>copy</c>: a (possibly strided) view into a dense tensor of the same shape and dtype — how
/// a slice along an inner dimension (e.g. GEGLU's halves, a chunk of channels) becomes an op input. No arithmetic; bytes
/// are one read and one write per element.
/// </summary>
public static class CopySpec
{
    public const string Op = "copy";

    /// <summary>Strided copies walk up to this many dimensions (the runtime's tensors have at most 4).</summary>
    public const int MaxRank = 6;

    public static void Validate(Tensor src, Tensor dst)
    {
        string s = $"src {src.ShapeString}, dst {dst.ShapeString}";
        if (!src.Shape.SequenceEqual(dst.Shape)) throw new ArgumentException($"{Op}: src and dst shapes differ: {s}");
        if (src.DType != dst.DType) throw new ArgumentException($"{Op}: src is {src.DType} but dst is {dst.DType}: {s}");
        if (src.Rank > MaxRank) throw new ArgumentException($"{Op}: rank {src.Rank} > {MaxRank}: {s}");
        if (dst.Overlaps(src)) throw new ArgumentException($"{Op}: dst overlaps src: {s}");
    }

    public static Cost Cost(Tensor src) => new(0, 0, 0, src.Bytes, src.Bytes);

    /// <summary>Shape and strides padded on the left to <see cref="MaxRank"/> dims (size 1, stride 0).</summary>
    public static (int[] Shape, long[] Strides) Padded(Tensor src)
    {
        var shape = new int[MaxRank];
        var strides = new long[MaxRank];
        int pad = MaxRank - src.Rank;
        for (int i = 0; i < MaxRank; i++)
        {
            shape[i] = i < pad ? 1 : src.Dim(i - pad);
            strides[i] = i < pad ? 0 : src.Strides[i - pad];
        }
        return (shape, strides);
    }
}
