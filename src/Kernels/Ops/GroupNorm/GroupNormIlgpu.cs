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
/// <item>ilgpu.v2-split (default): each item is split into chunks so that the grid fills the device even when N·G is
/// small (SD: 32 or 64 items on a 132-SM GPU, m up to 10⁶ values in the VAE). Launch 1: one thread group per chunk
/// computes the chunk's mean and M2 = Σ(x − mean_c)² (two-pass within the chunk) into a scratch buffer. Launch 2: one
/// thread group per chunk merges its item's chunk statistics (Chan et al.: mean = Σ n_c·mean_c / m, M2 = Σ M2_c +
/// n_c·(mean_c − mean)²) and normalises its chunk. In place is fine: launch 2 starts after launch 1 has read all of x.</item>
/// </list>
/// </summary>
internal sealed class GroupNormIlgpu : IDisposable
{
    private readonly Accelerator _acc;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        int, int, int, int, float, int> _kernel;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, GroupNormSplitShape> _stats;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, GroupNormSplitShape, float, int> _normalize;
    // Chunk statistics (mean, M2) of v2: allocated once, grown when a call needs more; outgrown buffers are kept
    // until Dispose, since a launch still queued on some stream may use them.
    private MemoryBuffer1D<float, Stride1D.Dense>? _scratch;
    private readonly List<MemoryBuffer1D<float, Stride1D.Dense>> _retired = [];

    public GroupNormIlgpu(Accelerator acc)
    {
        _acc = acc;
        _kernel = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, float, int>(Kernel);
        _stats = acc.LoadKernel<ArrayView<float>, ArrayView<float>, GroupNormSplitShape>(ChunkStatsKernel);
        _normalize = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GroupNormSplitShape, float, int>(
            SplitNormalizeKernel);
    }

    /// <summary>Caps the grid when &gt; 0 (tests: exercises the grid-stride loop over items on small data).</summary>
    internal int MaxGroups { get; set; }

    /// <summary>v2: the fewest values per chunk (0 = 16 per thread); tests set it low to get several chunks on small data.</summary>
    internal int MinChunk { get; set; }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-simt", "ilgpu.v2-split"];

    public static string VariantName(int variant, Accelerator acc) => variant switch
    {
        1 => Variants[0],
        0 or 2 => Variants[1],
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "group_norm: ILGPU variants are 0 (default = 2), 1 (simt) and 2 (split)"),
    };

    public void Dispose()
    {
        _scratch?.Dispose();
        foreach (var b in _retired) b.Dispose();
        _retired.Clear();
    }

    /// <summary>
    /// fp32 sums of m = (C/G)·S values in ~m/256 sequential steps per thread plus a 13-level tree: the mean and
    /// variance are off by ≲ (m/256 + 13)·2⁻²⁴ relative, the normalised values (|v| ≲ 5 for these inputs) by a few
    /// 1e-7; ×gamma, +beta, SiLU (IlgpuKernelMath.Exp, a few ulp) add a few ulp: atol 2e-5, rtol 2e-5. v2's chunk
    /// sums are shorter and Chan's merge is exact up to rounding (no cancellation: M2 terms are non-negative): the same.
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
        if (VariantName(variant, _acc) == Variants[0])
        {
            _kernel(stream, new KernelConfig(Math.Min(items, cap), group), x, y, gamma, beta, c, s, groups, items, eps, flags);
            return;
        }
        // Enough chunks to fill the device's grid, none shorter than MinChunk values (MaxGroups only caps the grid).
        int m = c / groups * s, fill = IlgpuGrid.MaxGroups(_acc, group);
        int minChunk = MinChunk > 0 ? MinChunk : 16 * group;
        int chunks = (int)Math.Max(1, Math.Min((fill + (long)items - 1) / items, ((long)m + minChunk - 1) / minChunk));
        int chunkLen = (m + chunks - 1) / chunks;
        chunks = (m + chunkLen - 1) / chunkLen; // no empty chunk
        var shape = new GroupNormSplitShape { C = c, S = s, Groups = groups, Items = items, M = m, Chunks = chunks, ChunkLen = chunkLen };
        long need = 2L * items * chunks;
        if (_scratch is null || _scratch.Length < need)
        {
            if (_scratch is not null) _retired.Add(_scratch);
            _scratch = _acc.Allocate1D<float>(Math.Max(need, 2 * (_scratch?.Length ?? 0)));
        }
        var config = new KernelConfig((int)Math.Min((long)items * chunks, cap), group);
        _stats(stream, config, x, _scratch.View, shape);
        _normalize(stream, config, x, y, gamma, beta, _scratch.View, shape, eps, flags);
    }

    // x: [N, C, S]; stats: [Items, Chunks, 2] ← (mean, M2) of each chunk.
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void ChunkStatsKernel(ArrayView<float> x, ArrayView<float> stats, GroupNormSplitShape sh)
    {
        var partials = SharedMemory.Allocate<float>(32);
        int cpg = sh.C / sh.Groups;
        for (int blk = Grid.IdxX; blk < sh.Items * sh.Chunks; blk += Grid.DimX)
        {
            int item = blk / sh.Chunks, chunk = blk - item * sh.Chunks;
            int b = item / sh.Groups, g = item - b * sh.Groups;
            int lo = chunk * sh.ChunkLen, len = XMathMin(sh.ChunkLen, sh.M - lo);
            long start = ((long)b * sh.C + (long)g * cpg) * sh.S + lo;
            float sum = 0f;
            for (int i = Group.IdxX; i < len; i += Group.DimX) sum += x[start + i];
            float mean = GroupSum(sum, partials) / len;
            float sq = 0f;
            for (int i = Group.IdxX; i < len; i += Group.DimX)
            {
                float d = x[start + i] - mean;
                sq += d * d;
            }
            float m2 = GroupSum(sq, partials);
            if (Group.IdxX == 0)
            {
                stats[2L * blk] = mean;
                stats[2L * blk + 1] = m2;
            }
        }
    }

    private static int XMathMin(int a, int b) => a < b ? a : b;

    // x, y: [N, C, S]; stats: [Items, Chunks, 2] from ChunkStatsKernel; flags: 1 gamma, 2 beta, 4 SiLU.
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void SplitNormalizeKernel(ArrayView<float> x, ArrayView<float> y, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> stats, GroupNormSplitShape sh, float eps, int flags)
    {
        int cpg = sh.C / sh.Groups;
        float invM = 1f / sh.M;
        for (int blk = Grid.IdxX; blk < sh.Items * sh.Chunks; blk += Grid.DimX)
        {
            int item = blk / sh.Chunks, chunk = blk - item * sh.Chunks;
            int b = item / sh.Groups, g = item - b * sh.Groups;
            // Every thread merges the item's chunks itself (a few dozen values, the same for the whole group: cached).
            long first = 2L * item * sh.Chunks;
            float total = 0f;
            for (int k = 0; k < sh.Chunks; k++) total += XMathMin(sh.ChunkLen, sh.M - k * sh.ChunkLen) * stats[first + 2 * k];
            float mean = total * invM;
            float m2 = 0f;
            for (int k = 0; k < sh.Chunks; k++)
            {
                float d = stats[first + 2 * k] - mean;
                m2 += stats[first + 2 * k + 1] + XMathMin(sh.ChunkLen, sh.M - k * sh.ChunkLen) * (d * d);
            }
            float rstd = 1f / XMath.Sqrt(m2 * invM + eps);
            int lo = chunk * sh.ChunkLen, len = XMathMin(sh.ChunkLen, sh.M - lo);
            long start = ((long)b * sh.C + (long)g * cpg) * sh.S;
            for (int i = lo + Group.IdxX; i < lo + len; i += Group.DimX)
            {
                int ch = g * cpg + i / sh.S;
                float v = (x[start + i] - mean) * rstd;
                if ((flags & 1) != 0) v *= gamma[ch];
                if ((flags & 2) != 0) v += beta[ch];
                if ((flags & 4) != 0) v = IlgpuKernelMath.Silu(v);
                y[start + i] = v;
            }
        }
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
    [IlgpuKernel(KernelGrouping.Explicit)]
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

/// <summary>
/// The shape of a <see cref="GroupNormIlgpu"/> v2 launch: x: [N, C, S] as Items = N·G items of M values, each in Chunks
/// chunks of ChunkLen values (the last one shorter). Public because ILGPU's CPU accelerator can only pass public
/// structures to kernels.
/// </summary>
public struct GroupNormSplitShape
{
    public int C, S, Groups, Items, M, Chunks, ChunkLen;
}
