namespace PixelCost.Kernels;

/// <summary>
/// Shape rules and cost of <c>embedding</c>: y[b,t,:] = table[ids[b,t],:] (+ positions[t,:]). The gather itself is
/// data movement (0 FLOPs); the fused position add is one OtherFlop per output element. Bytes: the ids, the gathered
/// rows, the position rows used (each read once) and the output.
/// </summary>
public static class EmbeddingSpec
{
    public const string Op = "embedding";

    /// <summary>ids: I32 [B,T]; table: F32 [V,D]; positions: F32 [P,D] with P ≥ T (rows 0..T−1 are added); y: F32 [B,T,D].</summary>
    public static void Validate(Tensor ids, Tensor table, Tensor? positions, Tensor y)
    {
        string s = $"ids {ids.ShapeString}, table {table.ShapeString}{(positions is null ? "" : $", positions {positions.ShapeString}")}, y {y.ShapeString}";
        if (ids.DType != DType.I32) throw new ArgumentException($"{Op}: ids must be I32, not {ids.DType}: {s}");
        if (ids.Rank != 2) throw new ArgumentException($"{Op}: ids must be [B,T]: {s}");
        Shapes.RequireF32(Op, "table", table);
        Shapes.RequireF32(Op, "y", y);
        if (table.Rank != 2 || table.Length == 0) throw new ArgumentException($"{Op}: table must be a non-empty [V,D]: {s}");
        Shapes.RequireNonEmpty(Op, "ids", ids);
        int b = ids.Dim(0), t = ids.Dim(1), d = table.Dim(1);
        if (positions is not null)
        {
            Shapes.RequireF32(Op, "positions", positions);
            if (positions.Rank != 2 || positions.Dim(1) != d || positions.Dim(0) < t)
                throw new ArgumentException($"{Op}: positions must be [P ≥ {t}, {d}]: {s}");
        }
        if (y.Rank != 3 || y.Dim(0) != b || y.Dim(1) != t || y.Dim(2) != d)
            throw new ArgumentException($"{Op}: y must be [{b},{t},{d}]: {s}");
        if (y.Overlaps(table) || y.Overlaps(ids) || (positions is not null && y.Overlaps(positions)))
            throw new ArgumentException($"{Op}: y must not overlap its inputs: {s}");
    }

    public static Cost Cost(int batch, int tokens, int dim, bool positions)
    {
        long rows = (long)batch * tokens, n = rows * dim;
        return new Cost(0, positions ? n : 0, 0, 4 * rows + 4 * n + (positions ? 4L * tokens * dim : 0), 4 * n);
    }

    /// <summary>The ids must lie in [0, V): the first that does not gives an ArgumentException naming the op, its
    /// position (b, t) and the id.</summary>
    public static void CheckIds(ReadOnlySpan<int> ids, int tokens, int vocab)
    {
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocab)
                throw new ArgumentException($"{Op}: id {ids[i]} at position (batch {i / tokens}, token {i % tokens}) is outside the table's [0, {vocab})");
    }
}
