using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU GroupNorm (+ fused SiLU), the semantics of <see cref="GroupNormReference"/>:
/// <list type="bullet">
/// <item>ilgpu.v1-simt: one thread group per (n, group) item (grid-stride over items); two-pass statistics (sum, then
/// Σ(x − mean)²), each reduced by warp xor-shuffles and a shared-memory pass over the warps' partials; then the
/// normalise/affine/SiLU pass. In place (y = x) is fine: a group's values are all read before any is written.</item>
/// </list>
/// </summary>
internal sealed class GroupNormIlgpu
{
    private readonly Accelerator _acc;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        int, int, int, int, float, int> _kernel;

    public GroupNormIlgpu(Accelerator acc)
    {
        _acc = acc;
        _kernel = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, float, int>(Kernel);
    }

    /// <summary>Caps the grid when &gt; 0 (tests: exercises the grid-stride loop over items on small data).</summary>
    internal int MaxGroups { get; set; }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-simt"];

    public static string VariantName(int variant, Accelerator acc) => variant switch
    {
        0 or 1 => Variants[0],
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "group_norm: ILGPU variants are 0 (default) and 1 (simt)"),
    };

    /// <summary>
    /// fp32 sums of m = (C/G)·S values in ~m/256 sequential steps per thread plus a 13-level tree: the mean and
    /// variance are off by ≲ (m/256 + 13)·2⁻²⁴ relative, the normalised values (|v| ≲ 5 for these inputs) by a few
    /// 1e-7; ×gamma, +beta, SiLU (IlgpuKernelMath.Exp, a few ulp) add a few ulp: atol 2e-5, rtol 2e-5.
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant) => (2e-5, 2e-5);

    /// <summary>
    /// x, y: [N, C, S] (S = product of the spatial dims; y may be x); gamma, beta: [C], or an empty view for none.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int n, int c, int s, int groups,
        ArrayView<float> gamma, ArrayView<float> beta, float eps, bool fuseSilu, int variant)
    {
        VariantName(variant, _acc);
        int flags = (gamma.Length > 0 ? 1 : 0) | (beta.Length > 0 ? 2 : 0) | (fuseSilu ? 4 : 0);
        // An absent parameter is passed as x (never read): kernels take no null views.
        if (gamma.Length == 0) gamma = x;
        if (beta.Length == 0) beta = x;
        int items = n * groups, group = IlgpuGrid.GroupSize(_acc);
        int cap = MaxGroups > 0 ? MaxGroups : IlgpuGrid.MaxGroups(_acc, group);
        _kernel(stream, new KernelConfig(Math.Min(items, cap), group), x, y, gamma, beta, c, s, groups, items, eps, flags);
    }

    /// <summary>Sum over a warp, every lane gets it (butterfly).</summary>
    internal static float WarpSum(float v)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o >>= 1) v += Warp.ShuffleXor(v, o);
        return v;
    }

    /// <summary>Sum over the thread group, every thread gets it. <paramref name="partials"/>: shared, ≥ warps per group.</summary>
    internal static float GroupSum(float v, ArrayView<float> partials)
    {
        v = WarpSum(v);
        int warp = Group.IdxX / Warp.WarpSize, lane = Warp.LaneIdx;
        if (lane == 0) partials[warp] = v;
        Group.Barrier();
        int warps = (Group.DimX + Warp.WarpSize - 1) / Warp.WarpSize;
        float t = lane < warps ? partials[lane] : 0f;
        t = WarpSum(t);
        Group.Barrier(); // partials are reused by the next reduction
        return t;
    }

    // x, y: [N, C, S]; gamma, beta: [C] (read only when flags say so); flags: 1 gamma, 2 beta, 4 SiLU.
    private static void Kernel(ArrayView<float> x, ArrayView<float> y, ArrayView<float> gamma, ArrayView<float> beta,
        int c, int s, int groups, int items, float eps, int flags)
    {
        var partials = SharedMemory.Allocate<float>(32);
        int cpg = c / groups, m = cpg * s;
        float invM = 1f / m;
        for (int item = Grid.IdxX; item < items; item += Grid.DimX)
        {
            int b = item / groups, g = item - b * groups;
            long start = ((long)b * c + (long)g * cpg) * s;
            float sum = 0f;
            for (int i = Group.IdxX; i < m; i += Group.DimX) sum += x[start + i];
            float mean = GroupSum(sum, partials) * invM;
            float sq = 0f;
            for (int i = Group.IdxX; i < m; i += Group.DimX)
            {
                float d = x[start + i] - mean;
                sq += d * d;
            }
            float variance = GroupSum(sq, partials) * invM;
            float rstd = 1f / XMath.Sqrt(variance + eps);
            for (int i = Group.IdxX; i < m; i += Group.DimX)
            {
                int ch = g * cpg + i / s;
                float v = (x[start + i] - mean) * rstd;
                if ((flags & 1) != 0) v *= gamma[ch];
                if ((flags & 2) != 0) v += beta[ch];
                if ((flags & 4) != 0) v = IlgpuKernelMath.Silu(v);
                y[start + i] = v;
            }
        }
    }
}
