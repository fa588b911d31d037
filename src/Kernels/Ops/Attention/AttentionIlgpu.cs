using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU multi-head attention (fp32 SIMT), heads packed in channels as <see cref="Ops.Attention"/>:
///  v1-naive:        scores = scale·Q_h·K_hᵀ for every (batch, head) into a scratch [B·H, Lq, Lk] by the gemm kernel, the row
///                   softmax (causal rows: masked keys written 0), then O_h = P·V_h by the gemm kernel, written in place
///                   into o's head slice;
///  v2-tiled-online: one 128-thread group per (batch·head, 16-query tile); 32-key tiles of K through shared memory,
///                   online softmax per query row, the thread's share of the 16×D output tile in registers (head dims
///                   ≤ 64: 8 rows × 1 dim per thread, else 16 rows × ⌈D/128⌉ dims); never the
///                   [Lq, Lk] matrix (generated: tools/codegen/attention_tiled.py). Head dims ≤ 512 (larger fall back to v1).
/// </summary>
internal sealed class AttentionIlgpu : IDisposable
{
    private const int MaxTiledDim = 512;
    private readonly Accelerator _acc;
    private readonly GemmIlgpu _gemm;
    private readonly SoftmaxIlgpu _softmax;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttnArgs> _d64, _d128, _d256, _d512;
    private MemoryBuffer1D<float, Stride1D.Dense>? _scores;
    // A grown-out scratch may still be read by work queued on a stream: kept until Dispose, never freed under it.
    private readonly List<MemoryBuffer1D<float, Stride1D.Dense>> _retired = [];

    public AttentionIlgpu(Accelerator acc) : this(acc, new GemmIlgpu(acc), new SoftmaxIlgpu(acc)) { }

    /// <summary>Shares gemm and softmax kernels already loaded for this accelerator.</summary>
    internal AttentionIlgpu(Accelerator acc, GemmIlgpu gemm, SoftmaxIlgpu softmax)
    {
        _acc = acc;
        _gemm = gemm;
        _softmax = softmax;
        _d64 = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttnArgs>(AttentionTiledKernels.TiledD64);
        _d128 = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttnArgs>(AttentionTiledKernels.TiledD128);
        _d256 = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttnArgs>(AttentionTiledKernels.TiledD256);
        _d512 = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttnArgs>(AttentionTiledKernels.TiledD512);
    }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-naive", "ilgpu.v2-tiled-online"];

    /// <summary>Variant 0 = v2 (tiled). <paramref name="headDim"/> > 512 runs v1 whatever was asked for v2.</summary>
    public static string VariantName(int variant, Accelerator acc, int headDim = 64) => Variants[Resolve(variant, headDim) - 1];

    public static int Resolve(int variant, int headDim)
    {
        if (variant < 0 || variant > Variants.Count)
            throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{AttentionSpec.Op}: no ILGPU variant {variant} (0 = default, 1 = naive, 2 = tiled)");
        if (variant == 0) variant = 2;
        return variant == 2 && headDim > MaxTiledDim ? 1 : variant;
    }

    /// <summary>
    /// For |q|, |k|, |v| ≤ 1, head dims ≤ 512 and Lk ≤ 256 (what the tests run): each score is an fp32 sum of D products,
    /// whose rounding grows like √D·2⁻²⁴ for random signs (≲ 1e-6 in the exponent after the 1/√D scale) — the worst-case
    /// linear bound D·2⁻²⁴·Σ|q||k| is not what this covers; e^x adds XMath.Exp's few ulps; the row sum (Lk/32 + 5)·2⁻²⁴
    /// relative; o = Σ p·v with Σp = 1 adds the P·V sum's ≲ Lk·2⁻²⁴ absolute; v2's online rescaling a few roundings per key
    /// tile. atol 2e-5 and rtol 1e-4 leave a margin of ~10× over those (observed worst errors are ~1e-6).
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant) => (2e-5, 1e-4);

    /// <summary>
    /// o = softmax(q·kᵀ·scale [+ causal mask])·v per (batch, head) as <see cref="Ops.Attention"/>: q, o [batch, lq, heads·d];
    /// k, v [batch, lk, heads·d]; causal needs lq = lk. Enqueues on <paramref name="stream"/> only (v1 grows its scratch
    /// buffer, a host-side allocation, when a larger problem comes).
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o,
        int batch, int lq, int lk, int heads, int d, float scale, bool causal, int variant)
    {
        int c = heads * d;
        if (Resolve(variant, d) == 2)
        {
            var p = new AttnArgs { Lq = lq, Lk = lk, Heads = heads, D = d, C = c, Scale = scale, Causal = causal ? 1 : 0 };
            var cfg = new KernelConfig(new Index2D((lq + 15) / 16, batch * heads), new Index2D(128, 1));
            (d <= 64 ? _d64 : d <= 128 ? _d128 : d <= 256 ? _d256 : _d512)(stream, cfg, q, k, v, o, p);
            return;
        }
        long per = (long)lq * lk, total = per * batch * heads;
        if (_scores is null || _scores.Length < total)
        {
            if (_scores is not null) _retired.Add(_scores);
            _scores = _acc.Allocate1D<float>(total);
        }
        var s = _scores.View.SubView(0, total);
        int bh = batch * heads;
        // S[z] = scale · Q_h · K_hᵀ: A(i, e) = q[b, i, h·d + e], B(e, j) = k[b, j, h·d + e]; z = b·heads + h.
        var ps = new SimtArgs
        {
            M = lq, N = lk, K = d, SaM = c, SaK = 1, SbK = 1, SbN = c, Ldc = lk, Inner = heads,
            A0 = (long)lq * c, A1 = d, B0 = (long)lk * c, B1 = d, C0 = heads * per, C1 = per,
            Alpha = scale, Beta = 0f,
        };
        _gemm.RunStrided(stream, q, k, s, ArrayView<float>.Empty, ps, bh, 0);
        _softmax.Launch(stream, s, s, bh * lq, lk, causal ? lq : 0);
        // O_h = P · V_h: A(i, j) = S[z, i, j], B(j, e) = v[b, j, h·d + e], C(i, e) = o[b, i, h·d + e].
        var po = new SimtArgs
        {
            M = lq, N = d, K = lk, SaM = lk, SaK = 1, SbK = c, SbN = 1, Ldc = c, Inner = heads,
            A0 = heads * per, A1 = per, B0 = (long)lk * c, B1 = d, C0 = (long)lq * c, C1 = d,
            Alpha = 1f, Beta = 0f,
        };
        _gemm.RunStrided(stream, s, v, o, ArrayView<float>.Empty, po, bh, 0);
    }

    public void Dispose()
    {
        _scores?.Dispose();
        foreach (var b in _retired) b.Dispose();
        _retired.Clear();
        _scores = null;
    }
}

/// <summary>Sizes of one tiled attention launch (channels C = Heads·D; Causal 0/1).</summary>
public struct AttnArgs
{
    public int Lq, Lk, Heads, D, C, Causal;
    public float Scale;
}

/// <summary>Helpers of the generated tiled attention kernels (<see cref="AttentionTiledKernels"/>).</summary>
internal static class AttnTiles
{
    /// <summary>
    /// Stages dims e0..e0+31 of the 16 query rows (sQ[r·33 + e]) and of the 32 keys (sK[j·33 + e]) of this tile; zero
    /// past Lq, Lk or D. Rows are padded to 33 words so the score loop's column reads hit distinct banks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadChunks(ArrayView<float> q, ArrayView<float> k, long qb, long kb, AttnArgs p, int q0, int k0, int e0,
        ArrayView<float> sQ, ArrayView<float> sK, int t)
    {
        int e = t & 31, de = e0 + e;
        for (int r = t >> 5; r < 16; r += 4)
            sQ[r * 33 + e] = q0 + r < p.Lq && de < p.D ? q[qb + (long)(q0 + r) * p.C + de] : 0f;
        for (int j = t >> 5; j < 32; j += 4)
            sK[j * 33 + e] = k0 + j < p.Lk && de < p.D ? k[kb + (long)(k0 + j) * p.C + de] : 0f;
    }

    /// <summary>The score, or −∞ for a key past Lk or (causal) after the query.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Masked(float s, int query, int key, AttnArgs p) =>
        key >= p.Lk || p.Causal != 0 && key > query ? float.NegativeInfinity : s;

    /// <summary>
    /// Online softmax of one query row's 32 scores (lane = key): new running max m, probabilities e^(s−m) written over
    /// the scores, running sum l ← l·e^(m_old−m) + Σp and that correction factor for the output accumulators.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OnlineSoftmaxRow(ArrayView<float> sS, ArrayView<float> sM, ArrayView<float> sL, ArrayView<float> sC, int r, int lane)
    {
        // Read the running state before the shuffles: they order every lane's reads before lane 0's writes below.
        float mOld = sM[r], lOld = sL[r];
        float s = sS[r * 33 + lane], mx = s;
        for (int o = 16; o > 0; o >>= 1) mx = XMath.Max(mx, Warp.ShuffleXor(mx, o));
        float mNew = XMath.Max(mOld, mx);
        float pj = s == float.NegativeInfinity ? 0f : XMath.Exp(s - mNew);
        float corr = mOld == float.NegativeInfinity ? 0f : XMath.Exp(mOld - mNew);
        float sum = pj;
        for (int o = 16; o > 0; o >>= 1) sum += Warp.ShuffleXor(sum, o);
        sS[r * 33 + lane] = pj;
        if (lane == 0)
        {
            sM[r] = mNew;
            sL[r] = lOld * corr + sum;
            sC[r] = corr;
        }
    }
}
