using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PixelCost.Kernels.Ilgpu;
using Half = ILGPU.Half;

namespace PixelCost.Kernels;

/// <summary>An fp32 or fp16 operand read element by element (kernels are generic over it: fp16 weights stay fp16).</summary>
public interface IGemmSource
{
    float Get(long i);
}

public readonly struct F32Source(ArrayView<float> v) : IGemmSource
{
    private readonly ArrayView<float> _v = v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Get(long i) => _v[i];
}

public readonly struct F16Source(ArrayView<Half> v) : IGemmSource
{
    private readonly ArrayView<Half> _v = v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Get(long i) => _v[i];
}

/// <summary>The scalar arguments of one launch (one struct keeps the kernel's parameter count small). Kernel parameter
/// types are public: ILGPU's CPU backend builds its launcher in another assembly.</summary>
public struct GemmTcArgs
{
    public int M, N, K;
    public int TransA, TransB;
    public float Alpha, Beta;
    public long StrideA, StrideB, StrideC;   // per batch, 0 = broadcast
}

/// <summary>
/// Tensor-core GEMM on ILGPU, C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] with the semantics of <see cref="Ops.Gemm"/>.
/// <list type="bullet">
/// <item>v1 "ilgpu.tc-f16": block tile 128×128×32, 8 warps (2×4) each owning a 64×32 register tile of 4×4 m16n8
/// fp32 accumulators (<see cref="GemmTcAcc"/>, generated); A/B tiles converted to fp16 while staged in shared memory
/// (k-pairs packed in uints, row stride 20 uints so the 32 lanes' fragment loads hit 32 distinct banks), zero-filled out
/// of range; double-buffered (the next k tile is fetched into registers while the current one is multiplied);
/// mma.m16n8k16 fp16·fp16 → fp32; alpha/beta epilogue from the registers.</item>
/// </list>
/// Needs sm_80+ on CUDA (mma.m16n8k16); on ILGPU's CPU accelerator the mma is emulated (see <see cref="Mma"/>).
/// fp32 inputs are rounded to fp16: |x| &gt; 65504 becomes ±∞ and |x| &lt; 6.1e-5 loses relative precision (subnormal),
/// so callers with such data need an fp32 variant.
/// </summary>
internal sealed class GemmTensorCoreIlgpu
{
    internal const int BM = 128, BN = 128, BK = 32, Threads = 256;
    internal const int S = BK / 2 + 4;            // shared row stride in uints (fp16 pairs): ≡ 20 mod 32, conflict-free fragments
    internal const int TileU = BM * S;            // uints per staged operand tile (BM == BN)

    private readonly Action<AcceleratorStream, KernelConfig, F32Source, F32Source, ArrayView<float>, GemmTcArgs> _ff;
    private readonly Action<AcceleratorStream, KernelConfig, F32Source, F16Source, ArrayView<float>, GemmTcArgs> _fh;
    private readonly Action<AcceleratorStream, KernelConfig, F16Source, F32Source, ArrayView<float>, GemmTcArgs> _hf;

    private readonly int _scratch;

    public GemmTensorCoreIlgpu(Accelerator acc)
    {
        _scratch = Mma.ScratchUInts(acc, Threads / 32, GemmTcAcc.Slots);
        _ff = acc.LoadKernel<F32Source, F32Source, ArrayView<float>, GemmTcArgs>(Kernel);
        _fh = acc.LoadKernel<F32Source, F16Source, ArrayView<float>, GemmTcArgs>(Kernel);
        _hf = acc.LoadKernel<F16Source, F32Source, ArrayView<float>, GemmTcArgs>(Kernel);
    }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.tc-f16"];

    /// <summary>mma.m16n8k16 exists from sm_80 (Ampere); the CPU accelerator emulates it.</summary>
    public static bool IsSupported(Accelerator acc) =>
        acc is not CudaAccelerator cuda || cuda.Architecture is { } arch && arch.Major >= 8;

    public static string VariantName(int variant, Accelerator acc) => Name(variant);

    private static string Name(int variant) => Mma.VariantName(GemmSpec.Op, Variants, variant);

    /// <summary>
    /// Per-product rounding vs the fp64 reference: A and B are rounded to fp16 (relative ≤ u = 2⁻¹⁰, which also covers
    /// a truncating conversion; 2⁻¹¹ with CUDA's cvt.rn), so each product moves by ≤ (2u + u²)|a||b| and
    /// |err| ≤ Atol·|alpha|·K·max|a|·max|b| + the fp32 summation/epilogue bound (≈ K·2⁻²⁴ of the same, negligible);
    /// Atol = 2u + u² + 2⁻²⁰ margin. The returned Atol is per unit of |alpha|·K·max|a|·max|b| (see <see cref="Atol"/>).
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant)
    {
        _ = Name(variant);
        return (2 * Math.Pow(2, -10) + Math.Pow(2, -20) + Math.Pow(2, -20), 0);
    }

    /// <summary>The absolute tolerance of <see cref="Tolerance"/> for one problem: inputs bounded by aMax, bMax; plus
    /// the rounding of beta·C (|c| ≤ cMax).</summary>
    public static double Atol(int variant, int k, float alpha, double aMax, double bMax, float beta = 0, double cMax = 0) =>
        Tolerance(variant).Atol * Math.Abs(alpha) * k * aMax * bMax + Math.Abs(beta) * cMax * Math.Pow(2, -22) + 1e-7;

    /// <summary>fp32 A and B. a, b, c dense row-major with the shapes of <see cref="Ops.Gemm"/> (d from GemmSpec.Validate).</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmDims d,
        bool transA, bool transB, float alpha, float beta, int variant)
    {
        _ = Name(variant);
        _ff(stream, Config(d, _scratch), new F32Source(a), new F32Source(b), c, Args(d, transA, transB, alpha, beta));
    }

    /// <summary>fp32 A, fp16 B (e.g. activations × fp16 weights held on the GPU).</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> a, ArrayView<Half> b, ArrayView<float> c, GemmDims d,
        bool transA, bool transB, float alpha, float beta, int variant)
    {
        _ = Name(variant);
        _fh(stream, Config(d, _scratch), new F32Source(a), new F16Source(b), c, Args(d, transA, transB, alpha, beta));
    }

    /// <summary>fp16 A (e.g. fp16 weights × activations), fp32 B.</summary>
    public void Run(AcceleratorStream stream, ArrayView<Half> a, ArrayView<float> b, ArrayView<float> c, GemmDims d,
        bool transA, bool transB, float alpha, float beta, int variant)
    {
        _ = Name(variant);
        _hf(stream, Config(d, _scratch), new F16Source(a), new F32Source(b), c, Args(d, transA, transB, alpha, beta));
    }

    private static KernelConfig Config(GemmDims d, int scratch) =>
        new(new Index3D((d.N + BN - 1) / BN, (d.M + BM - 1) / BM, d.Batch), new Index3D(Threads, 1, 1),
            SharedMemoryConfig.RequestDynamic<uint>(scratch));

    private static GemmTcArgs Args(GemmDims d, bool transA, bool transB, float alpha, float beta) => new()
    {
        M = d.M, N = d.N, K = d.K, TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, Alpha = alpha, Beta = beta,
        StrideA = d.ABatched ? (long)d.M * d.K : 0, StrideB = d.BBatched ? (long)d.K * d.N : 0, StrideC = (long)d.M * d.N,
    };

    // Grid: x = column tile, y = row tile, z = batch. Block: 8 warps; warp w owns rows 64·(w/4).., columns 32·(w%4)..
    // Two shared buffers per operand: while tile kt is multiplied from one, tile kt+1's global loads are in flight in
    // registers (GemmTcPrefetch) and land in the other after the mmas; one barrier per k tile.
    [IlgpuKernel(KernelGrouping.Explicit, typeof(F32Source), typeof(F32Source))]
    [IlgpuKernel(KernelGrouping.Explicit, typeof(F32Source), typeof(F16Source))]
    private static void Kernel<TA, TB>(TA a, TB b, ArrayView<float> c, GemmTcArgs p)
        where TA : struct, IGemmSource where TB : struct, IGemmSource
    {
        var sa = SharedMemory.Allocate<uint>(2 * TileU);
        var sb = SharedMemory.Allocate<uint>(2 * TileU);
        int tid = Group.IdxX, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
        int n0 = Grid.IdxX * BN, m0 = Grid.IdxY * BM, batch = Grid.IdxZ;
        long aOff = batch * p.StrideA, bOff = batch * p.StrideB, cOff = batch * p.StrideC;
        // op(A)[m,k] is contiguous in k unless transA; op(B)[k,n], staged as [n][k], is contiguous in k when transB.
        bool aK = p.TransA == 0, bK = p.TransB != 0;
        int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
        // Emulation scratch (CPU accelerator only; one element on CUDA, never touched there).
        var scratch = SharedMemory.GetDynamic<uint>();
        var wScratch = CudaAsm.IsSupported ? scratch : scratch.SubView(warp * GemmTcAcc.Slots * 32, GemmTcAcc.Slots * 32);
        int aFrag = (wm + g) * S + t, bFrag = (wn + g) * S + t;
        var acc = default(GemmTcAcc);
        var next = default(GemmTcPrefetch);
        int tiles = (p.K + BK - 1) / BK;
        next.Load(a, aOff, aK, m0, p.M, b, bOff, bK, n0, p.N, 0, p.K, tid);
        next.Store(sa, aK, sb, bK, tid);
        Group.Barrier();
        for (int kt = 0; kt < tiles; kt++)
        {
            int cur = (kt & 1) * TileU, other = TileU - cur;
            bool more = kt + 1 < tiles;
            if (more) next.Load(a, aOff, aK, m0, p.M, b, bOff, bK, n0, p.N, (kt + 1) * BK, p.K, tid);
            acc.Step(sa, cur + aFrag, sb, cur + bFrag, S, wScratch);
            acc.Step(sa, cur + aFrag + 8, sb, cur + bFrag + 8, S, wScratch);
            if (more) next.Store(sa.SubView(other, TileU), aK, sb.SubView(other, TileU), bK, tid);
            Group.Barrier();
        }
        acc.Store(c, cOff, m0 + wm + g, n0 + wn + 2 * t, p.M, p.N, p.Alpha, p.Beta);
    }

    /// <summary>
    /// Staging element e (0 ≤ e &lt; 128·16) of op(X)[r0.., k0..] (X with R rows) as a packed fp16 pair, zero outside
    /// R×K. kContig: element (r,k) at r·K + k and threads walk k (coalesced); else at k·R + r and threads walk r.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Fetch<TX>(TX x, long off, bool kContig, int r0, int rows, int k0, int kTotal, int e)
        where TX : struct, IGemmSource
    {
        int r = kContig ? e >> 4 : e & (BM - 1);
        int kp = kContig ? e & 15 : e >> 7;
        int gr = r0 + r, gk = k0 + 2 * kp;
        float v0 = 0f, v1 = 0f;
        if (gr < rows)
        {
            long i0 = kContig ? off + (long)gr * kTotal + gk : off + (long)gk * rows + gr;
            long step = kContig ? 1 : rows;
            if (gk < kTotal) v0 = x.Get(i0);
            if (gk + 1 < kTotal) v1 = x.Get(i0 + step);
        }
        return Mma.Pack(v0, v1);
    }

    /// <summary>Where staging element e goes in a shared tile: row r, k-pair kp → r·S + kp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int SharedIndex(bool kContig, int e) => kContig ? (e >> 4) * S + (e & 15) : (e & (BM - 1)) * S + (e >> 7);

    /// <summary>Stages a whole tile into dst (single-buffered callers: the convolution's weights).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Stage<TX>(TX x, long off, bool kContig, int r0, int rows, int k0, int kTotal, ArrayView<uint> dst, int tid)
        where TX : struct, IGemmSource
    {
        for (int e = tid; e < BM * (BK / 2); e += Threads)
            dst[SharedIndex(kContig, e)] = Fetch(x, off, kContig, r0, rows, k0, kTotal, e);
    }

    /// <summary>Epilogue of one m16n8 fragment: this lane's (row, col), (row, col+1), (row+8, col), (row+8, col+1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreFrag(FragC f, ArrayView<float> c, long cOff, int row, int col, int m, int n, float alpha, float beta)
    {
        Put(f.C0, c, cOff, row, col, m, n, alpha, beta);
        Put(f.C1, c, cOff, row, col + 1, m, n, alpha, beta);
        Put(f.C2, c, cOff, row + 8, col, m, n, alpha, beta);
        Put(f.C3, c, cOff, row + 8, col + 1, m, n, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float v, ArrayView<float> c, long cOff, int row, int col, int m, int n, float alpha, float beta)
    {
        if (row >= m || col >= n) return;
        long i = cOff + (long)row * n + col;
        float r = alpha * v;
        // beta = 0 never reads C (BLAS semantics: NaNs there are ignored).
        if (beta != 0f) r += beta * c[i];
        c[i] = r;
    }
}
