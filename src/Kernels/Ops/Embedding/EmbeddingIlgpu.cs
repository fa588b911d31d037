using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU embedding gather (the semantics of <see cref="EmbeddingReference"/>):
/// <list type="bullet">
/// <item>ilgpu.v1-simt: one output element per thread per grid-stride step; consecutive threads read consecutive
/// elements of one table row, so the gather is coalesced along D.</item>
/// </list>
/// Where the host can read the ids (cpu, ilgpu-cpu) the op entry checks them before launch; on CUDA it cannot without
/// a synchronising download, so the kernel writes NaN for an id outside [0, V) instead of reading out of bounds — the
/// error shows in the output rather than as an exception.
/// </summary>
internal sealed class EmbeddingIlgpu
{
    private readonly Accelerator _acc;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> _gather;

    public EmbeddingIlgpu(Accelerator acc)
    {
        _acc = acc;
        _gather = acc.LoadKernel<ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(GatherKernel);
    }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-simt"];

    public static string VariantName(int variant) => variant switch
    {
        0 or 1 => Variants[0],
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{EmbeddingSpec.Op}: ILGPU variants are 0 (default) and 1 (simt)"),
    };

    /// <summary>ids: [B·T], table: [V,D], positions: [P,D] or empty, y: [B·T·D].</summary>
    public void Run(AcceleratorStream stream, ArrayView<int> ids, ArrayView<float> table, ArrayView<float> positions, ArrayView<float> y,
        int tokens, int dim, int variant)
    {
        VariantName(variant);
        if (y.Length == 0) return;
        int vocab = (int)(table.Length / dim);
        _gather(stream, IlgpuGrid.Strided(_acc, y.Length), ids, table, positions, y, tokens, dim, vocab);
    }

    private static long Stride => (long)ILGPU.Grid.DimX * Group.DimX;

    // ids: [B·T], table: [V, D], positions: [P, D] (empty: none), y: [B·T, D]
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void GatherKernel(ArrayView<int> ids, ArrayView<float> table, ArrayView<float> positions, ArrayView<float> y,
        int tokens, int dim, int vocab)
    {
        for (long i = ILGPU.Grid.GlobalIndex.X; i < y.Length; i += Stride)
        {
            long r = i / dim;
            int j = (int)(i - r * dim);
            int id = ids[r];
            float v = id >= 0 && id < vocab ? table[(long)id * dim + j] : float.NaN;
            if (positions.Length > 0) v += positions[(r % tokens) * dim + j];
            y[i] = v;
        }
    }
}
