using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>
/// CPU attention kernels, generic over the vector width W (8 floats: AVX2 path, 16: Vector512 path, chosen by
/// cpu.UseVector512). Both variants share the packing and the register-blocked micro-kernels:
///  - K of each (batch, head) is packed transposed, Kt: [D][Lkp] (Lkp = Lk rounded up to NR = 2W, zero keys appended),
///    so S = Q·Kᵀ is a 6×2W outer-product micro-kernel: per d, 6 broadcasts of q and 2 vector loads of Kt feed 12 FMAs
///    into 12 accumulators. AVX2 (6×16): 12 of the 16 ymm registers (Zen 3: 2 FMA pipes × 4 cycles latency needs ≥ 8).
///    AVX-512 (6×32): also 12 zmm accumulators. We chose 6×32 over 12×32 (24 accumulators of the 32 zmm registers):
///    12 independent chains already cover 2 FMA pipes × 4 cycles; the loads per FMA (8 per 12 = 0.67) stay under the
///    2 loads/cycle the cores with 2 zmm FMA pipes have; the QKᵀ reduction is only D (40–160) steps long, so 12×32
///    would not amortise its accumulator stores better; query tails pad to 6 rows, not 12; 27 live zmm values would
///    leave the JIT almost no spare registers; and one generic kernel source serves both widths.
///  - V is packed [Lkp][Dp] (Dp = D rounded up to W, zero padded), so O += P·V is the same micro-kernel shape
///    (6 rows × 2W channels, plus a 6×W one for a Dp ending in W: D = 40 → AVX2 16+16+8, AVX-512 Dp 48 = 32+16;
///    D = 80 → 32+32+16 both ways in floats; D = 64, 160 → only full blocks on AVX-512) reading P rows by broadcast.
///    Any D works: the QKᵀ reduction runs exactly D steps; V's and O's padding columns are zero and never stored.
///  - A query tile of up to TileQ rows is packed (and pre-scaled) as rows [TileQ][D]; its padding rows are zero.
/// Threads: one worker per thread pulls (batch, head, query tile) tasks from a shared counter (causal tiles differ in
/// work), with its own scratch.
/// </summary>
internal static unsafe class AttentionCpu
{
    private const int MR = 6;
    internal static int TileQ = 48;   // query rows per task: Q panel + accumulators stay in L1
    internal static int TileK = 128;  // keys per online-softmax step: S tile 48×128 floats = 24 KB

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    /// <summary>Suffix of the ledger's variant name for the path taken: "-v512" for the 512-bit one, "" otherwise.</summary>
    public static string PathSuffix(CpuAccelerator cpu) => cpu.UseVector512 ? "-v512" : "";

    public static void Run(CpuAccelerator cpu, Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale, bool causal, bool tiled)
    {
        if (cpu.UseVector512) { Run<V512, Vector512<float>>(cpu, q, k, v, o, heads, scale, causal, tiled); return; }
        if (SimdMath.Avx2FmaSupported) { Run<V256, Vector256<float>>(cpu, q, k, v, o, heads, scale, causal, tiled); return; }
        int b = q.Dim(0), lq = q.Dim(1), lk = k.Dim(1), d = q.Dim(2) / heads;
        AttentionReference.Run(MemoryMarshal.Cast<float, F32>(q.AsSpan()), MemoryMarshal.Cast<float, F32>(k.AsSpan()),
            MemoryMarshal.Cast<float, F32>(v.AsSpan()), MemoryMarshal.Cast<float, F32>(o.AsSpan()), b, lq, lk, heads, d,
            new F32(scale), causal);
    }

    private static void Run<V, TV>(CpuAccelerator cpu, Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale,
        bool causal, bool tiled) where V : struct, IVec<TV> where TV : struct
    {
        int b = q.Dim(0), lq = q.Dim(1), lk = k.Dim(1), c = q.Dim(2), d = c / heads;
        int nr = 2 * V.Count, lkp = RoundUp(lk, nr), dp = RoundUp(d, V.Count), bh = b * heads;
        float* pq = q.F32Pointer, pk = k.F32Pointer, pv = v.F32Pointer, po = o.F32Pointer;
        long ktSize = (long)d * lkp, vpSize = (long)lkp * dp;
        float* kt = (float*)NativeMemory.AlignedAlloc((nuint)(bh * (ktSize + vpSize) * 4), 64);
        float* vp = kt + bh * ktSize;
        try
        {
            cpu.ParallelFor(bh, 1, (t0, t1) =>
            {
                for (long t = t0; t < t1; t++)
                {
                    int n = (int)(t / heads), h = (int)(t % heads);
                    float* dk = kt + t * ktSize, dv = vp + t * vpSize;
                    for (int j = 0; j < lkp; j++)
                    {
                        float* sk = pk + ((long)n * lk + j) * c + h * d, sv = pv + ((long)n * lk + j) * c + h * d;
                        float* rv = dv + (long)j * dp;
                        if (j < lk)
                        {
                            for (int e = 0; e < d; e++) { dk[(long)e * lkp + j] = sk[e]; rv[e] = sv[e]; }
                        }
                        else for (int e = 0; e < d; e++) { dk[(long)e * lkp + j] = 0f; rv[e] = 0f; }
                        for (int e = d; e < dp; e++) rv[e] = 0f;
                    }
                }
            });

            int tq = TileQ, nqt = (lq + tq - 1) / tq, tasks = bh * nqt;
            int tk = tiled ? TileK : lkp;
            // Naive: scores of a whole query tile against all keys. Tiled: scores of one key tile.
            long sFloats = (long)tq * tk;
            // Folding log2 e into the scale lets the tiled kernel use exp2 (one multiply fewer per score).
            float qscale = tiled ? scale * 1.44269504088896341f : scale;
            int next = 0;
            int workers = Math.Min(cpu.Threads, tasks);
            cpu.ParallelTasks(workers, _ =>
            {
                long qsFloats = RoundUp(tq * d, 16);  // keeps the next regions 64-byte aligned
                float* qs = (float*)NativeMemory.AlignedAlloc((nuint)((qsFloats + sFloats + (long)tq * dp + 2 * tq) * 4), 64);
                float* s = qs + qsFloats, acc = s + sFloats, mrow = acc + (long)tq * dp, lrow = mrow + tq;
                try
                {
                    int t;
                    while ((t = Interlocked.Increment(ref next) - 1) < tasks)
                    {
                        int bhi = t / nqt, qt = t % nqt, n = bhi / heads, h = bhi % heads;
                        int i0 = qt * tq, mq = Math.Min(tq, lq - i0), mqp = RoundUp(mq, MR);
                        PackQ<V, TV>(pq + ((long)n * lq + i0) * c + h * d, c, mq, mqp, d, qscale, qs);
                        float* ktH = kt + bhi * ktSize, vpH = vp + bhi * vpSize;
                        float* dst = po + ((long)n * lq + i0) * c + h * d;
                        if (tiled) TileTiled<V, TV>(qs, ktH, vpH, s, acc, mrow, lrow, i0, mq, mqp, lk, lkp, d, dp, tk, causal, dst, c);
                        else TileNaive<V, TV>(qs, ktH, vpH, s, acc, i0, mq, mqp, lk, lkp, d, dp, causal, dst, c);
                    }
                }
                finally { NativeMemory.AlignedFree(qs); }
            });
        }
        finally { NativeMemory.AlignedFree(kt); }
    }

    // q rows [mq] with channel stride c → rows [mqp][d] times qscale (a SIMD scale-copy); rows ≥ mq are zero.
    private static void PackQ<V, TV>(float* src, int c, int mq, int mqp, int d, float qscale, float* qs)
        where V : struct, IVec<TV> where TV : struct
    {
        var vs = V.Splat(qscale);
        int w = V.Count;
        for (int i = 0; i < mq; i++)
        {
            float* row = src + (long)i * c, dst = qs + (long)i * d;
            int e = 0;
            for (; e + w <= d; e += w) V.Store(V.Mul(V.Load(row + e), vs), dst + e);
            for (; e < d; e++) dst[e] = row[e] * qscale;
        }
        new Span<float>(qs + (long)mq * d, (mqp - mq) * d).Clear();
    }

    // S[mqp][nkp] = Qpanels · Kt[:, j0 .. j0+nkp)
    private static void Scores<V, TV>(float* qs, float* ktH, int lkp, int j0, int nkp, int mqp, int d, float* s)
        where V : struct, IVec<TV> where TV : struct
    {
        int nr = 2 * V.Count;
        for (int p = 0; p < mqp; p += MR)
            for (int c0 = 0; c0 < nkp; c0 += nr)
                Mk6x2<V, TV>(qs + (long)p * d, d, ktH + j0 + c0, lkp, d, s + (long)p * nkp + c0, nkp, accumulate: false);
    }

    // acc[mqp][dp] += P[mqp][nkp] · Vp[j0 .. j0+nkp)
    private static void Pv<V, TV>(float* s, int nkp, float* vpH, int j0, int mqp, int dp, float* acc)
        where V : struct, IVec<TV> where TV : struct
    {
        int w = V.Count;
        for (int p = 0; p < mqp; p += MR)
        {
            float* pr = s + (long)p * nkp, vr = vpH + (long)j0 * dp, ar = acc + (long)p * dp;
            int c0 = 0;
            for (; c0 + 2 * w <= dp; c0 += 2 * w) Mk6x2<V, TV>(pr, nkp, vr + c0, dp, nkp, ar + c0, dp, accumulate: true);
            if (c0 < dp) Mk6x1<V, TV>(pr, nkp, vr + c0, dp, nkp, ar + c0, dp);
        }
    }

    // variant 1: materialise full score rows of the query tile (tq × Lk per worker), softmax them, multiply by V.
    private static void TileNaive<V, TV>(float* qs, float* ktH, float* vpH, float* s, float* acc, int i0, int mq, int mqp,
        int lk, int lkp, int d, int dp, bool causal, float* dst, int c) where V : struct, IVec<TV> where TV : struct
    {
        int kEnd = causal ? Math.Min(lk, i0 + mq) : lk, nkp = RoundUp(kEnd, 2 * V.Count);
        Scores<V, TV>(qs, ktH, lkp, 0, nkp, mqp, d, s);
        for (int r = 0; r < mqp; r++)
        {
            float* row = s + (long)r * nkp;
            int nv = r >= mq ? 0 : causal ? Math.Min(kEnd, i0 + r + 1) : lk;
            if (nv > 0) SoftmaxCpu.Row<V, TV>(row, row, nv);
            new Span<float>(row + nv, nkp - nv).Clear();
        }
        new Span<float>(acc, mqp * dp).Clear();
        Pv<V, TV>(s, nkp, vpH, 0, mqp, dp, acc);
        for (int r = 0; r < mq; r++)
            new Span<float>(acc + (long)r * dp, d).CopyTo(new Span<float>(dst + (long)r * c, d));
    }

    // variant 2: key tiles with an online softmax (running max m and sum l per query row, in exp2 units).
    private static void TileTiled<V, TV>(float* qs, float* ktH, float* vpH, float* s, float* acc, float* mrow, float* lrow,
        int i0, int mq, int mqp, int lk, int lkp, int d, int dp, int tk, bool causal, float* dst, int c)
        where V : struct, IVec<TV> where TV : struct
    {
        int w = V.Count, kEnd = causal ? Math.Min(lk, i0 + mq) : lk;
        new Span<float>(acc, mqp * dp).Clear();
        for (int r = 0; r < mqp; r++) { mrow[r] = float.NegativeInfinity; lrow[r] = 0f; }
        for (int j0 = 0; j0 < kEnd; j0 += tk)
        {
            int nk = Math.Min(tk, kEnd - j0), nkp = RoundUp(nk, 2 * w);
            Scores<V, TV>(qs, ktH, lkp, j0, nkp, mqp, d, s);
            for (int r = 0; r < mqp; r++)
            {
                float* row = s + (long)r * nkp;
                int nv = r >= mq ? 0 : causal ? Math.Min(nk, i0 + r - j0 + 1) : nk;
                if (nv <= 0) { new Span<float>(row, nkp).Clear(); continue; }
                OnlineRow<V, TV>(row, nv, nkp, ref mrow[r], ref lrow[r], acc + (long)r * dp, dp);
            }
            Pv<V, TV>(s, nkp, vpH, j0, mqp, dp, acc);
        }
        for (int r = 0; r < mq; r++)
        {
            float inv = 1f / lrow[r];
            float* a = acc + (long)r * dp, od = dst + (long)r * c;
            var vi = V.Splat(inv);
            int e = 0;
            for (; e + w <= d; e += w) V.Store(V.Mul(V.Load(a + e), vi), od + e);
            for (; e < d; e++) od[e] = a[e] * inv;
        }
    }

    // One query row of a key tile: scores row[0..nv) (valid), row[nv..nkp) garbage → probabilities (unnormalised,
    // relative to the new running max) with zeros past nv; rescales the row's accumulator when the max grew.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OnlineRow<V, TV>(float* row, int nv, int nkp, ref float m, ref float l, float* accRow, int dp)
        where V : struct, IVec<TV> where TV : struct
    {
        int w = V.Count;
        var vmax = V.Splat(float.NegativeInfinity);
        int j = 0;
        for (; j + w <= nv; j += w) vmax = V.Max(vmax, V.Load(row + j));
        if (j < nv) vmax = V.Max(vmax, V.KeepFirstElseNegInf(V.Load(row + j), nv - j));
        float mNew = MathF.Max(m, V.HMax(vmax));
        var vm = V.Splat(mNew);
        var sum = V.Zero;
        for (j = 0; j + w <= nv; j += w)
        {
            var e = SimdMath<V, TV>.Exp2NonPositive(V.Sub(V.Load(row + j), vm));
            V.Store(e, row + j);
            sum = V.Add(sum, e);
        }
        if (j < nv)
        {
            var e = V.KeepFirst(SimdMath<V, TV>.Exp2NonPositive(V.Sub(V.Load(row + j), vm)), nv - j);
            V.Store(e, row + j);
            sum = V.Add(sum, e);
            j += w;
        }
        for (; j < nkp; j += w) V.Store(V.Zero, row + j);
        // 0 on the row's first tile (m = -inf; the accumulator is still zero), 1 when the max did not grow.
        float alpha = float.Exp2(m - mNew);
        l = l * alpha + V.HSum(sum);
        bool first = float.IsNegativeInfinity(m);
        m = mNew;
        if (alpha != 1f && !first)
        {
            var va = V.Splat(alpha);
            for (int e = 0; e < dp; e += w) V.Store(V.Mul(V.Load(accRow + e), va), accRow + e);
        }
    }

    // c[6][2W] (row stride ldc) = (accumulate ? c : 0) + a[6][k] (row stride lda) · b[k][2W] (row stride ldb).
    // Q·Kᵀ (a = Q panel, b = Kt) and P·V (a = P, b = Vp) micro-kernel: 12 accumulators, 2 loads + 6 broadcasts per step.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Mk6x2<V, TV>(float* a, int lda, float* b, int ldb, int k, float* c, int ldc, bool accumulate)
        where V : struct, IVec<TV> where TV : struct
    {
        int w = V.Count;
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
        TV c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (accumulate)
        {
            c00 = V.Load(c); c01 = V.Load(c + w); c10 = V.Load(c1); c11 = V.Load(c1 + w);
            c20 = V.Load(c2); c21 = V.Load(c2 + w); c30 = V.Load(c3); c31 = V.Load(c3 + w);
            c40 = V.Load(c4); c41 = V.Load(c4 + w); c50 = V.Load(c5); c51 = V.Load(c5 + w);
        }
        else c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = V.Zero;
        float* a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda;
        for (int kk = 0; kk < k; kk++)
        {
            var b0 = V.Load(b); var b1 = V.Load(b + w);
            var a0 = V.Broadcast(a + kk);
            c00 = V.Fma(a0, b0, c00); c01 = V.Fma(a0, b1, c01);
            a0 = V.Broadcast(a1 + kk);
            c10 = V.Fma(a0, b0, c10); c11 = V.Fma(a0, b1, c11);
            a0 = V.Broadcast(a2 + kk);
            c20 = V.Fma(a0, b0, c20); c21 = V.Fma(a0, b1, c21);
            a0 = V.Broadcast(a3 + kk);
            c30 = V.Fma(a0, b0, c30); c31 = V.Fma(a0, b1, c31);
            a0 = V.Broadcast(a4 + kk);
            c40 = V.Fma(a0, b0, c40); c41 = V.Fma(a0, b1, c41);
            a0 = V.Broadcast(a5 + kk);
            c50 = V.Fma(a0, b0, c50); c51 = V.Fma(a0, b1, c51);
            b += ldb;
        }
        V.Store(c00, c); V.Store(c01, c + w);
        V.Store(c10, c1); V.Store(c11, c1 + w);
        V.Store(c20, c2); V.Store(c21, c2 + w);
        V.Store(c30, c3); V.Store(c31, c3 + w);
        V.Store(c40, c4); V.Store(c41, c4 + w);
        V.Store(c50, c5); V.Store(c51, c5 + w);
    }

    // c[6][W] += p[6][n] · v[n][W]: the last W channels when Dp is an odd number of vectors (D = 40: AVX2 → 16 + 16 + 8,
    // AVX-512 → 32 + 16).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Mk6x1<V, TV>(float* p, int ldp, float* v, int ldv, int n, float* c, int ldc)
        where V : struct, IVec<TV> where TV : struct
    {
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
        TV c0v = V.Load(c), c1v = V.Load(c1), c2v = V.Load(c2), c3v = V.Load(c3), c4v = V.Load(c4), c5v = V.Load(c5);
        float* p1 = p + ldp, p2 = p1 + ldp, p3 = p2 + ldp, p4 = p3 + ldp, p5 = p4 + ldp;
        for (int j = 0; j < n; j++)
        {
            var b0 = V.Load(v);
            c0v = V.Fma(V.Broadcast(p + j), b0, c0v);
            c1v = V.Fma(V.Broadcast(p1 + j), b0, c1v);
            c2v = V.Fma(V.Broadcast(p2 + j), b0, c2v);
            c3v = V.Fma(V.Broadcast(p3 + j), b0, c3v);
            c4v = V.Fma(V.Broadcast(p4 + j), b0, c4v);
            c5v = V.Fma(V.Broadcast(p5 + j), b0, c5v);
            v += ldv;
        }
        V.Store(c0v, c); V.Store(c1v, c1); V.Store(c2v, c2);
        V.Store(c3v, c3); V.Store(c4v, c4); V.Store(c5v, c5);
    }
}
