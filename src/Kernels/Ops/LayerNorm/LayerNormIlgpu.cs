using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU LayerNorm over the last dimension, the semantics of <see cref="LayerNormReference"/>:
/// <list type="bullet">
/// <item>ilgpu.v1-simt: one warp per row (rows grid-stride over the warps); two-pass statistics reduced by warp
/// xor-shuffles (no shared memory, no barriers); the lanes stride the row, so loads are coalesced. y may be x.</item>
/// </list>
/// </summary>
internal sealed class LayerNormIlgpu
{
    private readonly Accelerator _acc;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        int, int, float, int> _kernel;

    public LayerNormIlgpu(Accelerator acc)
    {
        _acc = acc;
        _kernel = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float, int>(Kernel);
    }

    /// <summary>Caps the grid when &gt; 0 (tests: exercises the grid-stride loop over rows on small data).</summary>
    internal int MaxGroups { get; set; }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-simt"];

    public static string VariantName(int variant, Accelerator acc) => variant switch
    {
        0 or 1 => Variants[0],
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "layer_norm: ILGPU variants are 0 (default) and 1 (simt)"),
    };

    /// <summary>
    /// fp32 row sums in D/32 sequential steps per lane plus a 5-level butterfly: mean/variance off by ≲ (D/32 + 5)·2⁻²⁴
    /// relative; normalised values |v| ≲ 5, then ×gamma +beta: atol 1e-5, rtol 1e-5.
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant) => (1e-5, 1e-5);

    /// <summary>x, y: [rows, D] (y may be x); gamma, beta: [D], or an empty view for none.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int rows, int d,
        ArrayView<float> gamma, ArrayView<float> beta, float eps, int variant)
    {
        VariantName(variant, _acc);
        if (rows == 0) return;
        int flags = (gamma.Length > 0 ? 1 : 0) | (beta.Length > 0 ? 2 : 0);
        if (gamma.Length == 0) gamma = x; // never read; kernels take no null views
        if (beta.Length == 0) beta = x;
        int group = IlgpuGrid.GroupSize(_acc), warpsPerGroup = group / _acc.WarpSize;
        var grid = IlgpuGrid.Strided(_acc, (long)rows * _acc.WarpSize, MaxGroups);
        _kernel(stream, new KernelConfig(Math.Min(grid.GridDim.X, (rows + warpsPerGroup - 1) / warpsPerGroup), group),
            x, y, gamma, beta, rows, d, eps, flags);
    }

    // x, y: [rows, D]; gamma, beta: [D] (read only when flags say so: 1 gamma, 2 beta).
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void Kernel(ArrayView<float> x, ArrayView<float> y, ArrayView<float> gamma, ArrayView<float> beta,
        int rows, int d, float eps, int flags)
    {
        int warpsPerGroup = Group.DimX / Warp.WarpSize, lane = Warp.LaneIdx;
        float invD = 1f / d;
        // The row loop depends only on the warp, so every lane of a warp takes the same iterations (shuffles are safe).
        for (int row = Grid.IdxX * warpsPerGroup + Group.IdxX / Warp.WarpSize; row < rows; row += Grid.DimX * warpsPerGroup)
        {
            long start = (long)row * d;
            float sum = 0f;
            for (int i = lane; i < d; i += Warp.WarpSize) sum += x[start + i];
            float mean = GroupNormIlgpu.WarpSum(sum) * invD;
            float sq = 0f;
            for (int i = lane; i < d; i += Warp.WarpSize)
            {
                float dv = x[start + i] - mean;
                sq += dv * dv;
            }
            float rstd = 1f / XMath.Sqrt(GroupNormIlgpu.WarpSum(sq) * invD + eps);
            for (int i = lane; i < d; i += Warp.WarpSize)
            {
                float v = (x[start + i] - mean) * rstd;
                if ((flags & 1) != 0) v *= gamma[i];
                if ((flags & 2) != 0) v += beta[i];
                y[start + i] = v;
            }
        }
    }
}
