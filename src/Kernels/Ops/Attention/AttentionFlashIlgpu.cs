using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels;

/// <summary>Scalar arguments of one flash-attention launch (public: ILGPU's CPU backend builds its launcher in another
/// assembly).</summary>
public struct FlashArgs
{
    public int Lq, Lk, Heads, D, Causal;
    public float Scale;
}

/// <summary>
/// Fused multi-head attention on ILGPU tensor cores, the semantics of <see cref="Ops.Attention"/> (q: [B, Lq, H·D];
/// k, v: [B, Lk, H·D]; o like q; o = softmax(q kᵀ·scale [+ causal mask]) v per head), never materialising [Lq, Lk].
/// <list type="bullet">
/// <item>v1 "ilgpu.flash-tc-f16": a block = 64 query rows of one (batch, head), 4 warps × 16 rows; Q staged once in
/// shared memory as fp16 (head dim zero-padded to Dp, a multiple of 16, ≤ 160), then per 32-key tile: K (key-major) and
/// Vᵀ (dim-major) staged as fp16, S = Q·Kᵀ by mma.m16n8k16 into a 16×32 register tile per warp, scale + mask, running
/// row max/sum (reduced over the 4 lanes of a row by shuffles) with rescaling of the fp32 output accumulators, P turned
/// into fp16 A fragments in registers (the m16n8 accumulator layout of two key tiles is the A layout of one k16 step),
/// O += P·V by mma; at the end O / rowsum. Causal blocks stop at their last row's key tile. Register tiles are generated
/// (tools/codegen/mma_tiles.py) per padded head dim.</item>
/// </list>
/// Needs sm_80+ on CUDA; head dim ≤ 160 (SD's 40/64/80/160).
/// </summary>
internal sealed class AttentionFlashIlgpu
{
    private const int Warps = 4, Threads = Warps * 32, BR = Warps * 16, BC = 32, DpMax = 160;
    private const int SQMax = DpMax / 2 + 4;   // Q/K row stride in uints for the largest Dp (actual: Dp/2 + 4 ≡ 4 mod 8 → conflict-free)
    private const int SV = BC / 2 + 4;         // Vᵀ row stride (20 uints)

    /// <summary>The largest head dim the generated tiles cover.</summary>
    public const int MaxHeadDim = DpMax;

    private readonly Accelerator _acc;
    private readonly int _scratch;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FlashArgs>?[] _kernels =
        new Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FlashArgs>?[DpMax / 16];

    /// <summary>Kernels are compiled per padded head dim on first use (10 instantiations exist) and kept.</summary>
    public AttentionFlashIlgpu(Accelerator acc)
    {
        _acc = acc;
        _scratch = Mma.ScratchUInts(acc, Warps, FlashS.Slots);
    }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.flash-tc-f16"];

    public static bool IsSupported(Accelerator acc, int headDim) =>
        headDim <= MaxHeadDim && (acc is not CudaAccelerator cuda || cuda.Architecture is { } arch && arch.Major >= 8);

    public static string VariantName(int variant, Accelerator acc) => Name(variant);

    private static string Name(int variant) => Mma.VariantName(AttentionSpec.Op, Variants, variant);

    /// <summary>
    /// vs the fp64 reference with |q|, |k| ≤ qk and |v| ≤ vmax: q, k rounded to fp16 (relative u = 2⁻¹⁰, covering a
    /// truncating conversion) move each score by δ ≤ scale·D·qk²·(2u + u²); softmax weights then move by ≤ 2δ relative
    /// (e^δ − 1 for the numerator and the sum); P and V rounded to fp16 add 2u relative; the output, a convex combination
    /// of v, moves by ≤ vmax·(2δ + 2u) + fp32 rounding. The returned pair is (2u + u², 2u): see <see cref="Atol"/>.
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant)
    {
        _ = Name(variant);
        double u = Math.Pow(2, -10);
        return (2 * u + u * u, 2 * u);
    }

    /// <summary>The absolute tolerance of <see cref="Tolerance"/> for inputs bounded by qk (q, k) and vmax (v).</summary>
    public static double Atol(int variant, int d, float scale, double qk, double vmax)
    {
        var (perScore, perValue) = Tolerance(variant);
        double delta = Math.Abs(scale) * d * qk * qk * perScore;
        return vmax * (2.2 * delta + perValue) + 1e-6;
    }

    /// <summary>
    /// q: [batch, lq, heads·d]; k, v: [batch, lk, heads·d]; o: [batch, lq, heads·d], dense fp32. scale = 1/√d unless
    /// given; causal needs lq == lk (AttentionSpec.Validate). d ≤ <see cref="MaxHeadDim"/>.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o,
        int batch, int lq, int lk, int heads, int d, float scale, bool causal, int variant)
    {
        _ = Name(variant);
        if (d > MaxHeadDim)
            throw new NotSupportedException($"{AttentionSpec.Op}: {Variants[0]} covers head dims ≤ {MaxHeadDim} (got {d})");
        int slot = (d + 15) / 16 - 1;
        var kernel = _kernels[slot] ??= Load(slot);
        var cfg = new KernelConfig(new Index3D((lq + BR - 1) / BR, heads, batch), new Index3D(Threads, 1, 1),
            SharedMemoryConfig.RequestDynamic<uint>(_scratch));
        kernel(stream, cfg, q, k, v, o, new FlashArgs { Lq = lq, Lk = lk, Heads = heads, D = d, Causal = causal ? 1 : 0, Scale = scale });
    }

    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FlashArgs> Load(int slot) =>
        slot switch
        {
            0 => L<FlashO16>(), 1 => L<FlashO32>(), 2 => L<FlashO48>(), 3 => L<FlashO64>(), 4 => L<FlashO80>(),
            5 => L<FlashO96>(), 6 => L<FlashO112>(), 7 => L<FlashO128>(), 8 => L<FlashO144>(), _ => L<FlashO160>(),
        };

    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FlashArgs> L<TO>()
        where TO : struct, IFlashO =>
        _acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FlashArgs>(Kernel<TO>);

    // Grid: x = 64-row query tile, y = head, z = batch.
    [IlgpuKernel(KernelGrouping.Explicit, typeof(FlashO48))]
    [IlgpuKernel(KernelGrouping.Explicit, typeof(FlashO64))]
    private static void Kernel<TO>(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, FlashArgs p)
        where TO : struct, IFlashO
    {
        var sq = SharedMemory.Allocate<uint>(BR * SQMax);
        var sk = SharedMemory.Allocate<uint>(BC * SQMax);
        var sv = SharedMemory.Allocate<uint>(DpMax * SV);
        var scratch = SharedMemory.GetDynamic<uint>();
        int tid = Group.IdxX, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
        var wScratch = CudaAsm.IsSupported ? scratch : scratch.SubView(warp * FlashS.Slots * 32, FlashS.Slots * 32);
        int r0 = Grid.IdxX * BR, h = Grid.IdxY, n = Grid.IdxZ;
        var acc = default(TO);
        int dp = acc.Dp, pairs = dp / 2, s = pairs + 4;
        int c = p.Heads * p.D;
        long qBase = (long)n * p.Lq * c + (long)h * p.D, kBase = (long)n * p.Lk * c + (long)h * p.D;

        // Q tile [64 rows][Dp/2 pairs], zero past lq and d.
        for (int e = tid; e < BR * pairs; e += Threads)
        {
            int r = e / pairs, cp = e - r * pairs, row = r0 + r, d0 = 2 * cp;
            float v0 = 0f, v1 = 0f;
            if (row < p.Lq)
            {
                long i = qBase + (long)row * c + d0;
                if (d0 < p.D) v0 = q[i];
                if (d0 + 1 < p.D) v1 = q[i + 1];
            }
            sq[r * s + cp] = Mma.Pack(v0, v1);
        }

        int rowLo = r0 + warp * 16 + g;
        int qFrag = (warp * 16 + g) * s + t;
        float mLo = float.NegativeInfinity, mHi = float.NegativeInfinity, lLo = 0f, lHi = 0f;
        bool causal = p.Causal != 0;
        int kEnd = causal ? XMath.Min(p.Lk, r0 + BR) : p.Lk;
        for (int j0 = 0; j0 < kEnd; j0 += BC)
        {
            // K tile [32 keys][Dp/2 pairs] and Vᵀ tile [Dp dims][16 key pairs], zero past lk and d.
            for (int e = tid; e < BC * pairs; e += Threads)
            {
                int r = e / pairs, cp = e - r * pairs, key = j0 + r, d0 = 2 * cp;
                float v0 = 0f, v1 = 0f;
                if (key < p.Lk)
                {
                    long i = kBase + (long)key * c + d0;
                    if (d0 < p.D) v0 = k[i];
                    if (d0 + 1 < p.D) v1 = k[i + 1];
                }
                sk[r * s + cp] = Mma.Pack(v0, v1);
            }
            for (int e = tid; e < dp * (BC / 2); e += Threads)
            {
                int kp = e / dp, dd = e - kp * dp, key = j0 + 2 * kp;
                float v0 = 0f, v1 = 0f;
                if (dd < p.D)
                {
                    long i = kBase + (long)key * c + dd;
                    if (key < p.Lk) v0 = v[i];
                    if (key + 1 < p.Lk) v1 = v[i + c];
                }
                sv[dd * SV + kp] = Mma.Pack(v0, v1);
            }
            Group.Barrier();

            var sc = default(FlashS);
            for (int ks = 0; ks < pairs; ks += 8)
            {
                FragA qa;
                qa.R0 = sq[qFrag + ks]; qa.R1 = sq[qFrag + 8 * s + ks];
                qa.R2 = sq[qFrag + ks + 4]; qa.R3 = sq[qFrag + 8 * s + ks + 4];
                sc.AddQK(qa, sk, g * s + ks + t, s, wScratch);
            }
            float mxLo = mLo, mxHi = mHi;
            sc.ScaleMask(p.Scale, j0 + 2 * t, rowLo, p.Lk, causal, ref mxLo, ref mxHi);
            // The 4 lanes of a quad hold one row's columns.
            mxLo = XMath.Max(mxLo, Warp.ShuffleXor(mxLo, 1)); mxLo = XMath.Max(mxLo, Warp.ShuffleXor(mxLo, 2));
            mxHi = XMath.Max(mxHi, Warp.ShuffleXor(mxHi, 1)); mxHi = XMath.Max(mxHi, Warp.ShuffleXor(mxHi, 2));
            // Key 0 is visible to every row (causal or not), so the maxima are finite from the first tile on;
            // exp(−∞ − m) = 0 rescales the empty start.
            float aLo = XMath.Exp(mLo - mxLo), aHi = XMath.Exp(mHi - mxHi);
            mLo = mxLo; mHi = mxHi;
            lLo *= aLo; lHi *= aHi;
            sc.Exp(mLo, mHi, ref lLo, ref lHi);
            acc.Scale(aLo, aHi);
            acc.AddPV(sc, sv, g * SV + t, SV, wScratch);
            Group.Barrier();
        }
        lLo += Warp.ShuffleXor(lLo, 1); lLo += Warp.ShuffleXor(lLo, 2);
        lHi += Warp.ShuffleXor(lHi, 1); lHi += Warp.ShuffleXor(lHi, 2);
        long oLo = qBase + (long)rowLo * c, oHi = oLo + 8L * c;
        acc.Store(o, oLo, oHi, 2 * t, p.D, rowLo < p.Lq, rowLo + 8 < p.Lq, 1f / lLo, 1f / lHi);
    }

    /// <summary>−∞ for keys past lk or (causal) after the row; the score otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Masked(float x, int col, int row, int lk, bool causal) =>
        col >= lk || (causal && col > row) ? float.NegativeInfinity : x;

    /// <summary>Output of one m16n8 fragment (dims col, col+1 of rows lo/hi), divided by the row sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreFrag(FragC f, ArrayView<float> o, long loOff, long hiOff, int col, int d, bool lo, bool hi,
        float invLo, float invHi)
    {
        if (lo && col < d) o[loOff + col] = f.C0 * invLo;
        if (lo && col + 1 < d) o[loOff + col + 1] = f.C1 * invLo;
        if (hi && col < d) o[hiOff + col] = f.C2 * invHi;
        if (hi && col + 1 < d) o[hiOff + col + 1] = f.C3 * invHi;
    }
}
