using System.Numerics.Tensors;
using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels;

/// <summary>
/// CPU embedding gather. Variants: 1 — the scalar reference (fp32); 2 — rows over the threads, each a block copy of
/// the table row or one TensorPrimitives add of table row + position row (default). The ids were checked by the op
/// entry before launch (host memory), so the kernel indexes without bounds checks.
/// </summary>
internal static unsafe class EmbeddingCpu
{
    public static string VariantName(int variant) => variant switch
    {
        0 or 2 => "cpu.v2-rows",
        1 => "cpu.v1-reference",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{EmbeddingSpec.Op}: cpu variants are 0 (default), 1 (reference), 2 (rows)"),
    };

    public static void Run(CpuAccelerator cpu, Tensor ids, Tensor table, Tensor? positions, Tensor y)
    {
        int tokens = ids.Dim(1), d = table.Dim(1);
        int* pi = (int*)ids.Handle;
        float* pt = table.F32Pointer, pp = positions is null ? null : positions.F32Pointer, py = y.F32Pointer;
        cpu.ParallelFor(ids.Length, Math.Max(1, 16384 / d), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* row = pt + (long)pi[r] * d, dst = py + r * d;
                if (pp == null) Buffer.MemoryCopy(row, dst, 4L * d, 4L * d);
                else TensorPrimitives.Add(new ReadOnlySpan<float>(row, d), new ReadOnlySpan<float>(pp + r % tokens * d, d), new Span<float>(dst, d));
            }
        });
    }
}
