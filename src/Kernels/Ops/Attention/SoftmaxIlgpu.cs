using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU softmax over the last dimension:
///  v1-warp-rows: one warp per row (8 rows per 256-thread group, grid-stride over rows); lanes stride the row; max and
///                sum by butterfly warp shuffles; y = e^(x−max) · (1/sum), as <see cref="SoftmaxReference.Row{T}"/>.
/// </summary>
internal sealed class SoftmaxIlgpu
{
    private const int RowsPerGroup = 8;
    private const int MaxGroups = 1 << 16;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int, int> _rows;

    public SoftmaxIlgpu(Accelerator acc)
    {
        _rows = acc.LoadKernel<ArrayView<float>, ArrayView<float>, int, int, int>(RowsKernel);
    }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-warp-rows"];

    public static string VariantName(int variant, Accelerator acc)
    {
        if (variant < 0 || variant > Variants.Count)
            throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{SoftmaxSpec.Op}: no ILGPU variant {variant} (0 = default, 1 = {Variants[0]})");
        return Variants[0];
    }

    /// <summary>
    /// Each output is e^(x−max) rounded (the exponent x − max ≤ 0 is exact to 1 ulp of max; XMath.Exp ≲ 2 ulp) times
    /// 1/sum, where the fp32 sum of d terms in ≥ 1 is off by ≲ (d/32 + 5)·2⁻²⁴ relative (each lane sums d/32, then 5
    /// shuffle levels). For d ≤ 4096 that is ≤ 1e-5 relative; atol only covers results that underflow.
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant) => (1e-30, 2e-5);

    /// <summary>y = softmax(x) over rows of d (x: [rows, d], any leading dims flattened); y may be x (in place).</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int rows, int d, int variant) =>
        Launch(stream, x, y, rows, d, 0);

    /// <summary>
    /// The causal rows of attention scores: row r (query i = r mod <paramref name="causalRows"/>) is the softmax of its
    /// first i + 1 entries; the rest of the row is written 0 (masked keys have probability 0). 0 = every row whole.
    /// </summary>
    internal void Launch(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int rows, int d, int causalRows)
    {
        int groups = Math.Min((rows + RowsPerGroup - 1) / RowsPerGroup, MaxGroups);
        _rows(stream, new KernelConfig(groups, RowsPerGroup * 32), x, y, rows, d, causalRows);
    }

    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void RowsKernel(ArrayView<float> x, ArrayView<float> y, int rows, int d, int causalRows)
    {
        int lane = Warp.LaneIdx, warp = Group.IdxX >> 5;
        for (int row = Grid.IdxX * RowsPerGroup + warp; row < rows; row += Grid.DimX * RowsPerGroup)
        {
            long b = (long)row * d;
            int len = causalRows > 0 ? row % causalRows + 1 : d;
            float m = float.NegativeInfinity;
            for (int j = lane; j < len; j += 32) m = XMath.Max(m, x[b + j]);
            for (int o = 16; o > 0; o >>= 1) m = XMath.Max(m, Warp.ShuffleXor(m, o));
            // Every element is read and written by the same lane, so y = x (in place) is safe.
            float s = 0f;
            for (int j = lane; j < len; j += 32)
            {
                float e = XMath.Exp(x[b + j] - m);
                y[b + j] = e;
                s += e;
            }
            for (int o = 16; o > 0; o >>= 1) s += Warp.ShuffleXor(s, o);
            float inv = 1f / s;
            for (int j = lane; j < len; j += 32) y[b + j] *= inv;
            for (int j = len + lane; j < d; j += 32) y[b + j] = 0f;
        }
    }
}
