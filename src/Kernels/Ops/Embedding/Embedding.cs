namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>
    /// Embedding lookup: y[b,t,:] = table[ids[b,t],:] (+ positions[t,:] when given, fused). ids: I32 [B,T]; table: F32
    /// [V,D]; positions: F32 [P ≥ T, D]; y: F32 [B,T,D]. Where the host can read the ids (cpu, ilgpu-cpu) an id outside
    /// [0, V) is an ArgumentException naming the op, its position and the id, before anything is launched; on CUDA the
    /// kernel writes NaN for such an id (checking there would need a synchronising download).
    /// </summary>
    public static void Embedding(IAccelerator acc, Tensor ids, Tensor table, Tensor? positions, Tensor y, int variant = 0)
    {
        CheckTensors(EmbeddingSpec.Op, acc, ("ids", ids), ("table", table), ("positions", positions), ("y", y));
        EmbeddingSpec.Validate(ids, table, positions, y);
        if (ids.IsHostAccessible && !acc.DryRun)
        {
            acc.Synchronize();   // the ids may come from a launch still in flight
            EmbeddingSpec.CheckIds(ids.AsSpan<int>(), ids.Dim(1), table.Dim(0));
        }
        string shape = $"ids{ids.ShapeString} table{table.ShapeString}{(positions is null ? "" : " +pos")}";
        acc.Launch(EmbeddingSpec.Op, shape, EmbeddingSpec.Cost(ids.Dim(0), ids.Dim(1), table.Dim(1), positions is not null),
            acc.Kernels.Embedding(ids, table, positions, y, variant));
    }
}
