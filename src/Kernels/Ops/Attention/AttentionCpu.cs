using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Ops;

/// <summary>
/// CPU attention kernels. Both variants share the packing and the register-blocked micro-kernels:
///  - K of each (batch, head) is packed transposed, Kt: [D][Lkp] (Lkp = Lk rounded up to 16, zero keys appended), so
///    S = Q·Kᵀ is a 6×16 outer-product micro-kernel: per d, 6 broadcasts of q and 2 vector loads of Kt feed 12 FMAs
///    into 12 ymm accumulators (Zen 3: 2 FMA pipes, 16 ymm registers).
///  - V is packed [Lkp][Dp] (Dp = D rounded up to 8, zero padded), so O += P·V is the same micro-kernel shape
///    (6 rows × 16 channels, plus a 6×8 one for a Dp ending in 8) reading P rows by broadcast. Any D works: the QKᵀ
///    reduction runs exactly D steps; V's and O's padding columns are zero and never stored.
///  - A query tile of up to TileQ rows is packed (and pre-scaled) as rows [TileQ][D]; its padding rows are zero.
/// Threads: one worker per thread pulls (batch, head, query tile) tasks from a shared counter (causal tiles differ in
/// work), with its own scratch.
/// </summary>
internal static unsafe class AttentionCpu
{
    private const int MR = 6, NR = 16;
    internal static int TileQ = 48;   // query rows per task: Q panel + accumulators stay in L1
    internal static int TileK = 128;  // keys per online-softmax step: S tile 48×128 floats = 24 KB

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    public static void Run(CpuAccelerator cpu, Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale, bool causal, bool tiled)
    {
        int b = q.Dim(0), lq = q.Dim(1), lk = k.Dim(1), c = q.Dim(2), d = c / heads;
        if (!VecExp.IsSupported)
        {
            AttentionReference.Run(MemoryMarshal.Cast<float, F32>(q.AsSpan()), MemoryMarshal.Cast<float, F32>(k.AsSpan()),
                MemoryMarshal.Cast<float, F32>(v.AsSpan()), MemoryMarshal.Cast<float, F32>(o.AsSpan()), b, lq, lk, heads, d,
                new F32(scale), causal);
            return;
        }
        int lkp = RoundUp(lk, NR), dp = RoundUp(d, 8), bh = b * heads;
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
                        PackQ(pq + ((long)n * lq + i0) * c + h * d, c, mq, mqp, d, qscale, qs);
                        float* ktH = kt + bhi * ktSize, vpH = vp + bhi * vpSize;
                        float* dst = po + ((long)n * lq + i0) * c + h * d;
                        if (tiled) TileTiled(qs, ktH, vpH, s, acc, mrow, lrow, i0, mq, mqp, lk, lkp, d, dp, tk, causal, dst, c);
                        else TileNaive(qs, ktH, vpH, s, acc, i0, mq, mqp, lk, lkp, d, dp, causal, dst, c);
                    }
                }
                finally { NativeMemory.AlignedFree(qs); }
            });
        }
        finally { NativeMemory.AlignedFree(kt); }
    }

    // q rows [mq] with channel stride c → rows [mqp][d] times qscale (a SIMD scale-copy); rows ≥ mq are zero.
    private static void PackQ(float* src, int c, int mq, int mqp, int d, float qscale, float* qs)
    {
        var vs = Vector256.Create(qscale);
        for (int i = 0; i < mq; i++)
        {
            float* row = src + (long)i * c, dst = qs + (long)i * d;
            int e = 0;
            for (; e + 8 <= d; e += 8) Avx.Store(dst + e, Avx.Multiply(Avx.LoadVector256(row + e), vs));
            for (; e < d; e++) dst[e] = row[e] * qscale;
        }
        new Span<float>(qs + (long)mq * d, (mqp - mq) * d).Clear();
    }

    // S[mqp][nkp] = Qpanels · Kt[:, j0 .. j0+nkp)
    private static void Scores(float* qs, float* ktH, int lkp, int j0, int nkp, int mqp, int d, float* s)
    {
        for (int p = 0; p < mqp; p += MR)
            for (int c0 = 0; c0 < nkp; c0 += NR)
                Qk6x16(qs + (long)p * d, d, ktH + j0 + c0, lkp, d, s + (long)p * nkp + c0, nkp);
    }

    // acc[mqp][dp] += P[mqp][nkp] · Vp[j0 .. j0+nkp)
    private static void Pv(float* s, int nkp, float* vpH, int j0, int mqp, int dp, float* acc)
    {
        for (int p = 0; p < mqp; p += MR)
        {
            float* pr = s + (long)p * nkp, vr = vpH + (long)j0 * dp, ar = acc + (long)p * dp;
            int c0 = 0;
            for (; c0 + 16 <= dp; c0 += 16) Pv6x16(pr, nkp, vr + c0, dp, nkp, ar + c0, dp);
            if (c0 < dp) Pv6x8(pr, nkp, vr + c0, dp, nkp, ar + c0, dp);
        }
    }

    // variant 1: materialise full score rows of the query tile (tq × Lk per worker), softmax them, multiply by V.
    private static void TileNaive(float* qs, float* ktH, float* vpH, float* s, float* acc, int i0, int mq, int mqp,
        int lk, int lkp, int d, int dp, bool causal, float* dst, int c)
    {
        int kEnd = causal ? Math.Min(lk, i0 + mq) : lk, nkp = RoundUp(kEnd, NR);
        Scores(qs, ktH, lkp, 0, nkp, mqp, d, s);
        for (int r = 0; r < mqp; r++)
        {
            float* row = s + (long)r * nkp;
            int nv = r >= mq ? 0 : causal ? Math.Min(kEnd, i0 + r + 1) : lk;
            if (nv > 0) SoftmaxCpu.Row(row, row, nv);
            new Span<float>(row + nv, nkp - nv).Clear();
        }
        new Span<float>(acc, mqp * dp).Clear();
        Pv(s, nkp, vpH, 0, mqp, dp, acc);
        for (int r = 0; r < mq; r++)
            new Span<float>(acc + (long)r * dp, d).CopyTo(new Span<float>(dst + (long)r * c, d));
    }

    // variant 2: key tiles with an online softmax (running max m and sum l per query row, in exp2 units).
    private static void TileTiled(float* qs, float* ktH, float* vpH, float* s, float* acc, float* mrow, float* lrow,
        int i0, int mq, int mqp, int lk, int lkp, int d, int dp, int tk, bool causal, float* dst, int c)
    {
        int kEnd = causal ? Math.Min(lk, i0 + mq) : lk;
        new Span<float>(acc, mqp * dp).Clear();
        for (int r = 0; r < mqp; r++) { mrow[r] = float.NegativeInfinity; lrow[r] = 0f; }
        for (int j0 = 0; j0 < kEnd; j0 += tk)
        {
            int nk = Math.Min(tk, kEnd - j0), nkp = RoundUp(nk, NR);
            Scores(qs, ktH, lkp, j0, nkp, mqp, d, s);
            for (int r = 0; r < mqp; r++)
            {
                float* row = s + (long)r * nkp;
                int nv = r >= mq ? 0 : causal ? Math.Min(nk, i0 + r - j0 + 1) : nk;
                if (nv <= 0) { new Span<float>(row, nkp).Clear(); continue; }
                OnlineRow(row, nv, nkp, ref mrow[r], ref lrow[r], acc + (long)r * dp, dp);
            }
            Pv(s, nkp, vpH, j0, mqp, dp, acc);
        }
        for (int r = 0; r < mq; r++)
        {
            float inv = 1f / lrow[r];
            float* a = acc + (long)r * dp, od = dst + (long)r * c;
            var vi = Vector256.Create(inv);
            int e = 0;
            for (; e + 8 <= d; e += 8) Avx.Store(od + e, Avx.Multiply(Avx.LoadVector256(a + e), vi));
            for (; e < d; e++) od[e] = a[e] * inv;
        }
    }

    private static readonly Vector256<int> Iota = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);

    // One query row of a key tile: scores row[0..nv) (valid), row[nv..nkp) garbage → probabilities (unnormalised,
    // relative to the new running max) with zeros past nv; rescales the row's accumulator when the max grew.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OnlineRow(float* row, int nv, int nkp, ref float m, ref float l, float* accRow, int dp)
    {
        var ninf = Vector256.Create(float.NegativeInfinity);
        var vmax = ninf;
        int j = 0;
        for (; j + 8 <= nv; j += 8) vmax = Avx.Max(vmax, Avx.LoadVector256(row + j));
        if (j < nv)
        {
            var keep = Avx2.CompareGreaterThan(Vector256.Create(nv - j), Iota).AsSingle();
            vmax = Avx.Max(vmax, Avx.BlendVariable(ninf, Avx.LoadVector256(row + j), keep));
        }
        float mNew = MathF.Max(m, SoftmaxCpu.HMax(vmax));
        var vm = Vector256.Create(mNew);
        var sum = Vector256<float>.Zero;
        for (j = 0; j + 8 <= nv; j += 8)
        {
            var e = VecExp.Exp2NonPositive(Avx.Subtract(Avx.LoadVector256(row + j), vm));
            Avx.Store(row + j, e);
            sum = Avx.Add(sum, e);
        }
        if (j < nv)
        {
            var keep = Avx2.CompareGreaterThan(Vector256.Create(nv - j), Iota).AsSingle();
            var e = Avx.And(keep, VecExp.Exp2NonPositive(Avx.Subtract(Avx.LoadVector256(row + j), vm)));
            Avx.Store(row + j, e);
            sum = Avx.Add(sum, e);
            j += 8;
        }
        for (; j < nkp; j += 8) Avx.Store(row + j, Vector256<float>.Zero);
        // 0 on the row's first tile (m = -inf; the accumulator is still zero), 1 when the max did not grow.
        float alpha = float.Exp2(m - mNew);
        l = l * alpha + SoftmaxCpu.HSum(sum);
        bool first = float.IsNegativeInfinity(m);
        m = mNew;
        if (alpha != 1f && !first)
        {
            var va = Vector256.Create(alpha);
            for (int e = 0; e < dp; e += 8) Avx.Store(accRow + e, Avx.Multiply(Avx.LoadVector256(accRow + e), va));
        }
    }

    // c[6][16] (row stride ldc) = a[6][k] (row stride lda) · b[k][16] (row stride ldb).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Qk6x16(float* a, int lda, float* b, int ldb, int k, float* c, int ldc)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda;
        for (int kk = 0; kk < k; kk++)
        {
            var b0 = Avx.LoadVector256(b); var b1 = Avx.LoadVector256(b + 8);
            var a0 = Avx.BroadcastScalarToVector256(a + kk);
            c00 = Fma.MultiplyAdd(a0, b0, c00); c01 = Fma.MultiplyAdd(a0, b1, c01);
            a0 = Avx.BroadcastScalarToVector256(a1 + kk);
            c10 = Fma.MultiplyAdd(a0, b0, c10); c11 = Fma.MultiplyAdd(a0, b1, c11);
            a0 = Avx.BroadcastScalarToVector256(a2 + kk);
            c20 = Fma.MultiplyAdd(a0, b0, c20); c21 = Fma.MultiplyAdd(a0, b1, c21);
            a0 = Avx.BroadcastScalarToVector256(a3 + kk);
            c30 = Fma.MultiplyAdd(a0, b0, c30); c31 = Fma.MultiplyAdd(a0, b1, c31);
            a0 = Avx.BroadcastScalarToVector256(a4 + kk);
            c40 = Fma.MultiplyAdd(a0, b0, c40); c41 = Fma.MultiplyAdd(a0, b1, c41);
            a0 = Avx.BroadcastScalarToVector256(a5 + kk);
            c50 = Fma.MultiplyAdd(a0, b0, c50); c51 = Fma.MultiplyAdd(a0, b1, c51);
            b += ldb;
        }
        Avx.Store(c, c00); Avx.Store(c + 8, c01); c += ldc;
        Avx.Store(c, c10); Avx.Store(c + 8, c11); c += ldc;
        Avx.Store(c, c20); Avx.Store(c + 8, c21); c += ldc;
        Avx.Store(c, c30); Avx.Store(c + 8, c31); c += ldc;
        Avx.Store(c, c40); Avx.Store(c + 8, c41); c += ldc;
        Avx.Store(c, c50); Avx.Store(c + 8, c51);
    }

    // c[6][16] (row stride ldc) += p[6][n] (row stride ldp) · v[n][16] (row stride ldv).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pv6x16(float* p, int ldp, float* v, int ldv, int n, float* c, int ldc)
    {
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
        Vector256<float> c00 = Avx.LoadVector256(c), c01 = Avx.LoadVector256(c + 8),
            c10 = Avx.LoadVector256(c1), c11 = Avx.LoadVector256(c1 + 8),
            c20 = Avx.LoadVector256(c2), c21 = Avx.LoadVector256(c2 + 8),
            c30 = Avx.LoadVector256(c3), c31 = Avx.LoadVector256(c3 + 8),
            c40 = Avx.LoadVector256(c4), c41 = Avx.LoadVector256(c4 + 8),
            c50 = Avx.LoadVector256(c5), c51 = Avx.LoadVector256(c5 + 8);
        float* p1 = p + ldp, p2 = p1 + ldp, p3 = p2 + ldp, p4 = p3 + ldp, p5 = p4 + ldp;
        for (int j = 0; j < n; j++)
        {
            var b0 = Avx.LoadVector256(v); var b1 = Avx.LoadVector256(v + 8);
            var a0 = Avx.BroadcastScalarToVector256(p + j);
            c00 = Fma.MultiplyAdd(a0, b0, c00); c01 = Fma.MultiplyAdd(a0, b1, c01);
            a0 = Avx.BroadcastScalarToVector256(p1 + j);
            c10 = Fma.MultiplyAdd(a0, b0, c10); c11 = Fma.MultiplyAdd(a0, b1, c11);
            a0 = Avx.BroadcastScalarToVector256(p2 + j);
            c20 = Fma.MultiplyAdd(a0, b0, c20); c21 = Fma.MultiplyAdd(a0, b1, c21);
            a0 = Avx.BroadcastScalarToVector256(p3 + j);
            c30 = Fma.MultiplyAdd(a0, b0, c30); c31 = Fma.MultiplyAdd(a0, b1, c31);
            a0 = Avx.BroadcastScalarToVector256(p4 + j);
            c40 = Fma.MultiplyAdd(a0, b0, c40); c41 = Fma.MultiplyAdd(a0, b1, c41);
            a0 = Avx.BroadcastScalarToVector256(p5 + j);
            c50 = Fma.MultiplyAdd(a0, b0, c50); c51 = Fma.MultiplyAdd(a0, b1, c51);
            v += ldv;
        }
        Avx.Store(c, c00); Avx.Store(c + 8, c01);
        Avx.Store(c1, c10); Avx.Store(c1 + 8, c11);
        Avx.Store(c2, c20); Avx.Store(c2 + 8, c21);
        Avx.Store(c3, c30); Avx.Store(c3 + 8, c31);
        Avx.Store(c4, c40); Avx.Store(c4 + 8, c41);
        Avx.Store(c5, c50); Avx.Store(c5 + 8, c51);
    }

    // c[6][8] += p[6][n] · v[n][8]: the last 8 channels when Dp is not a multiple of 16 (D = 40 → 16 + 16 + 8).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pv6x8(float* p, int ldp, float* v, int ldv, int n, float* c, int ldc)
    {
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
        Vector256<float> c0v = Avx.LoadVector256(c), c1v = Avx.LoadVector256(c1), c2v = Avx.LoadVector256(c2),
            c3v = Avx.LoadVector256(c3), c4v = Avx.LoadVector256(c4), c5v = Avx.LoadVector256(c5);
        float* p1 = p + ldp, p2 = p1 + ldp, p3 = p2 + ldp, p4 = p3 + ldp, p5 = p4 + ldp;
        for (int j = 0; j < n; j++)
        {
            var b0 = Avx.LoadVector256(v);
            c0v = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(p + j), b0, c0v);
            c1v = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(p1 + j), b0, c1v);
            c2v = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(p2 + j), b0, c2v);
            c3v = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(p3 + j), b0, c3v);
            c4v = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(p4 + j), b0, c4v);
            c5v = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(p5 + j), b0, c5v);
            v += ldv;
        }
        Avx.Store(c, c0v); Avx.Store(c1, c1v); Avx.Store(c2, c2v);
        Avx.Store(c3, c3v); Avx.Store(c4, c4v); Avx.Store(c5, c5v);
    }
}
