using ILGPU;
using ILGPU.Runtime;

using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU gemm variants (fp32 SIMT, no tensor cores):
///  v1-simt:     shared-memory tiled SGEMM, 64×64 block tile, 16-deep K slab, 4×4 register micro-tile per thread
///               (256 threads), 16-byte global loads where the operand is aligned (generated: tools/codegen/simt_gemm.py);
///  v2-simt-128: the same loop nest with a 128×128 block tile, 8-deep K slab, 8×8 micro-tile (more reuse per shared read);
///  v3-naive:    one thread per output, the K loop straight from global memory (the baseline).
/// </summary>
internal sealed class GemmIlgpu
{
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SimtArgs> _t64, _t128, _naive;

    public GemmIlgpu(Accelerator acc)
    {
        _t64 = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SimtArgs>(SimtGemmKernels.GemmT64);
        _t128 = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SimtArgs>(SimtGemmKernels.GemmT128);
        _naive = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SimtArgs>(NaiveKernel);
    }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-simt", "ilgpu.v2-simt-128", "ilgpu.v3-naive"];

    /// <summary>Variant 0 resolves to the tiled kernel that fits the problem: the 128-tile when the output has enough
    /// 128×128 tiles to fill the device, else the 64-tile (see <see cref="Resolve(int, long, int, int, Accelerator)"/>).
    /// Without the sizes, 0 names the 64-tile (what small problems run); the ledger should pass them.</summary>
    public static string VariantName(int variant, Accelerator acc) => Variants[Resolve(variant, 1, 1, 1, acc) - 1];

    /// <summary>The variant <see cref="Run"/> runs for this problem (C is batch × [m, n]).</summary>
    public static string VariantName(int variant, Accelerator acc, long batch, int m, int n) => Variants[Resolve(variant, batch, m, n, acc) - 1];

    /// <summary>Variant number 1..3 for a request; 0 = the default for this problem size.</summary>
    public static int Resolve(int variant, long batch, int m, int n, Accelerator acc)
    {
        if (variant == 0)
        {
            long tiles128 = batch * ((m + 127) / 128) * ((n + 127) / 128);
            return tiles128 >= 2L * acc.NumMultiprocessors ? 2 : 1;
        }
        if (variant < 0 || variant > Variants.Count)
            throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{GemmSpec.Op}: no ILGPU variant {variant} (0 = default, 1..{Variants.Count}: {string.Join(", ", Variants)})");
        return variant;
    }

    /// <summary>
    /// Every variant sums the K products in fp32 (the tiled ones in k order within a thread, the naive one too), so the
    /// error vs the fp64 reference is the dot-product bound γ_K·Σ|a||b| with γ_K ≈ K·2⁻²⁴: for |a|,|b| ≤ 0.5 and K ≤ 256
    /// that is ≤ 2.5e-4 absolute at worst (observed ~1e-6). Tests use the K-dependent bound (TestData.DotAtol); these
    /// constants are that bound at K = 256, no relative part (the bound is on Σ|a||b|, not on |C|).
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant) => (2.5e-4, 0);

    /// <summary>
    /// C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] exactly as <see cref="Ops.Gemm"/> (dims from <see cref="GemmSpec.Validate"/>;
    /// rank-2 operands broadcast; beta = 0 never reads C). Enqueues on <paramref name="stream"/> only.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmDims d,
        bool transA, bool transB, float alpha, float beta, int variant)
    {
        int M = d.M, N = d.N, K = d.K;
        var p = new SimtArgs
        {
            M = M, N = N, K = K,
            SaM = transA ? 1 : K, SaK = transA ? M : 1,
            SbK = transB ? 1 : N, SbN = transB ? K : 1,
            Ldc = N, Inner = 1,
            A0 = d.ABatched ? (long)M * K : 0, B0 = d.BBatched ? (long)K * N : 0, C0 = d.CBatched ? (long)M * N : 0,
            Alpha = alpha, Beta = beta, BiasMode = 0,
        };
        RunStrided(stream, a, b, c, ArrayView<float>.Empty, p, d.Batch, variant);
    }

    /// <summary>The general launch behind every matmul-class op here: <paramref name="batches"/> = outer·p.Inner matrices,
    /// operands through the strides and offsets of <paramref name="p"/> (whose Vec flags are computed here).</summary>
    internal void RunStrided(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        ArrayView<float> bias, SimtArgs p, int batches, int variant)
    {
        p.VecA = VecOk(a, p.SaM, p.SaK, p.A0, p.A1) ? 1 : 0;
        p.VecB = VecOk(b, p.SbN, p.SbK, p.B0, p.B1) ? 1 : 0;
        switch (Resolve(variant, batches, p.M, p.N, stream.Accelerator))
        {
            case 1:
                _t64(stream, new KernelConfig(new Index3D((p.N + 63) / 64, (p.M + 63) / 64, batches), new Index3D(SimtTiles.Threads, 1, 1)),
                    a, b, c, bias, p);
                break;
            case 2:
                _t128(stream, new KernelConfig(new Index3D((p.N + 127) / 128, (p.M + 127) / 128, batches), new Index3D(SimtTiles.Threads, 1, 1)),
                    a, b, c, bias, p);
                break;
            default:
                _naive(stream, new KernelConfig(new Index3D((p.N + 15) / 16, (p.M + 15) / 16, batches), new Index3D(16, 16, 1)),
                    a, b, c, bias, p);
                break;
        }
    }

    /// <summary>
    /// Whether <see cref="SimtTiles.LoadStrided"/> may read this operand's four elements as one 16-byte load: the four
    /// run along the dimension it picks (k when sk = 1, else x), that stride must be 1, and the other stride, the batch
    /// offsets and the view's start must be multiples of 4 floats (device buffers themselves are 256-byte aligned).
    /// </summary>
    private static bool VecOk(ArrayView<float> v, int sx, int sk, long o0, long o1)
    {
        bool along = sk == 1 ? sx % 4 == 0 : sx == 1 && sk % 4 == 0;
        return along && o0 % 4 == 0 && o1 % 4 == 0 && ElementIndex(v) % 4 == 0;
    }

    /// <summary>The view's start in elements within its buffer (a constrained call: no boxing).</summary>
    internal static long ElementIndex<TView>(TView v) where TView : struct, IContiguousArrayView => v.Index;

    // Grid (⌈N/16⌉, ⌈M/16⌉, batch) of 16×16 groups; one output per thread.
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void NaiveKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, SimtArgs p)
    {
        int n = Grid.IdxX * 16 + Group.IdxX, m = Grid.IdxY * 16 + Group.IdxY, z = Grid.IdxZ;
        if (m >= p.M || n >= p.N) return;
        int zo = z / p.Inner, zi = z - zo * p.Inner;
        long pa = zo * p.A0 + zi * p.A1 + (long)m * p.SaM, pb = zo * p.B0 + zi * p.B1 + (long)n * p.SbN;
        float acc = 0f;
        for (int k = 0; k < p.K; k++) acc += a[pa + (long)k * p.SaK] * b[pb + (long)k * p.SbK];
        SimtTiles.Store(c, zo * p.C0 + zi * p.C1, bias, p, m, n, acc);
    }
}
