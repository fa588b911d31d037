using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelCost.Kernels.Cpu;

/// <summary>
/// Packs a block of the (possibly virtual) B operand of C = A·B into NR-column slivers. GEMM uses a strided matrix;
/// convolution gathers im2col columns on the fly, so no im2col buffer ever exists.
/// </summary>
internal unsafe interface IPackB
{
    /// <summary>
    /// Rows [k0, k0+kc) and columns [j0, j0+nc) of B into <paramref name="dst"/>: sliver s holds columns
    /// j0 + s·NR … as dst[s·kc·NR + k·NR + j], zero-padded to NR columns. NR is the micro-kernel's width (16 for the
    /// 256-bit kernel, 32 for the 512-bit one), a multiple of 8.
    /// </summary>
    void Pack(int k0, int kc, int j0, int nc, int NR, float* dst);
}

/// <summary>B(k, j) = p[k·rs + j·cs]: plain (cs = 1) or transposed (rs = 1) row-major storage.</summary>
internal readonly unsafe struct StridedB(float* p, nint rs, nint cs) : IPackB
{
    public void Pack(int k0, int kc, int j0, int nc, int NR, float* dst)
    {
        for (int s = 0; s * NR < nc; s++)
        {
            int jb = j0 + s * NR, nr = Math.Min(NR, nc - s * NR);
            float* d = dst + (nint)s * kc * NR;
            if (cs == 1 && nr == NR)
            {
                // Rows of B are contiguous: NR/8 vector copies per k (Vector256 for both kernels: a copy is load/store
                // bound either way, and a 512-bit machine runs these natively).
                float* src = p + k0 * rs + jb;
                if (NR == 16)
                    for (int k = 0; k < kc; k++, src += rs, d += NR)
                    {
                        Vector256.Store(Vector256.Load(src), d);
                        Vector256.Store(Vector256.Load(src + 8), d + 8);
                    }
                else
                    for (int k = 0; k < kc; k++, src += rs, d += NR)
                        for (int q = 0; q < NR; q += 8) Vector256.Store(Vector256.Load(src + q), d + q);
            }
            else if (rs == 1)
            {
                // Transposed B (x·Wᵀ, Q·Kᵀ): each column is contiguous in k; a transpose into the k-major sliver.
                if (nr < NR) for (int k = 0; k < kc; k++) new Span<float>(d + k * NR + nr, NR - nr).Clear();
                Transpose.Block(p + jb * cs + k0, cs, nr, kc, d, NR);
            }
            else
            {
                for (int k = 0; k < kc; k++)
                {
                    float* src = p + (k0 + k) * rs + jb * cs;
                    int j = 0;
                    for (; j < nr; j++) d[k * NR + j] = src[j * cs];
                    for (; j < NR; j++) d[k * NR + j] = 0f;
                }
            }
        }
    }
}

/// <summary>
/// dst[c·ds + r] = src[r·ss + c] for r &lt; rows, c &lt; cols: packing a row-major operand into k-major slivers (A rows,
/// or the rows of a linear layer's weight as B columns). 8×8 blocks go through registers (unpack/shuffle/permute, 24
/// shuffles per 64 floats), a remaining 4-row band as 4×8 blocks, the rest element by element. The scalar loop it
/// replaces wrote every float to its own cache line of the sliver and cost ~1 ns per element: as much as the 640
/// FLOPs each A element of the ff-out linear ([4096,1280]→320) takes part in.
/// </summary>
internal static unsafe class Transpose
{
    public static void Block(float* src, nint ss, int rows, int cols, float* dst, nint ds)
    {
        int r = 0, c8 = cols & ~7;
        for (; r + 8 <= rows; r += 8)
            for (int c = 0; c < c8; c += 8) Eight(src + r * ss + c, ss, dst + c * ds + r, ds);
        for (; r + 4 <= rows; r += 4)
            for (int c = 0; c < c8; c += 8) Four(src + r * ss + c, ss, dst + c * ds + r, ds);
        // Rows left below the blocks (all columns), then the columns right of them (the block rows).
        for (int i = r; i < rows; i++)
            for (int c = 0; c < cols; c++) dst[c * ds + i] = src[i * ss + c];
        for (int i = 0; i < r; i++)
            for (int c = c8; c < cols; c++) dst[c * ds + i] = src[i * ss + c];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Eight(float* s, nint ss, float* d, nint ds)
    {
        // Rows a…h; after the unpacks tN hold pairs (a0 b0 a1 b1 | a4 b4 a5 b5), the shuffles quads (a0 b0 c0 d0 | a4 b4 c4 d4),
        // and the lane permutes join the a–d and e–h halves of each column.
        var a = Avx.LoadVector256(s); var b = Avx.LoadVector256(s + ss);
        var c = Avx.LoadVector256(s + 2 * ss); var e = Avx.LoadVector256(s + 3 * ss);
        var f = Avx.LoadVector256(s + 4 * ss); var g = Avx.LoadVector256(s + 5 * ss);
        var h = Avx.LoadVector256(s + 6 * ss); var k = Avx.LoadVector256(s + 7 * ss);
        var t0 = Avx.UnpackLow(a, b); var t1 = Avx.UnpackHigh(a, b);
        var t2 = Avx.UnpackLow(c, e); var t3 = Avx.UnpackHigh(c, e);
        var t4 = Avx.UnpackLow(f, g); var t5 = Avx.UnpackHigh(f, g);
        var t6 = Avx.UnpackLow(h, k); var t7 = Avx.UnpackHigh(h, k);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + ds, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * ds, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * ds, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * ds, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * ds, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * ds, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * ds, Avx.Permute2x128(u3, u7, 0x31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four(float* s, nint ss, float* d, nint ds)
    {
        var a = Avx.LoadVector256(s); var b = Avx.LoadVector256(s + ss);
        var c = Avx.LoadVector256(s + 2 * ss); var e = Avx.LoadVector256(s + 3 * ss);
        var t0 = Avx.UnpackLow(a, b); var t1 = Avx.UnpackHigh(a, b);
        var t2 = Avx.UnpackLow(c, e); var t3 = Avx.UnpackHigh(c, e);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);   // columns 0 | 4, 1 | 5
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);   // columns 2 | 6, 3 | 7
        Sse.Store(d, u0.GetLower()); Sse.Store(d + ds, u1.GetLower());
        Sse.Store(d + 2 * ds, u2.GetLower()); Sse.Store(d + 3 * ds, u3.GetLower());
        Sse.Store(d + 4 * ds, u0.GetUpper()); Sse.Store(d + 5 * ds, u1.GetUpper());
        Sse.Store(d + 6 * ds, u2.GetUpper()); Sse.Store(d + 7 * ds, u3.GetUpper());
    }
}

/// <summary>What the write-back adds on the first K block: C = alpha·AB + beta·C + rowBias[i] + colBias[j].</summary>
internal readonly unsafe struct Epilogue(float alpha, float beta, float* rowBias, float* colBias)
{
    public readonly float Alpha = alpha, Beta = beta;
    public readonly float* RowBias = rowBias, ColBias = colBias;
}

/// <summary>
/// GotoBLAS/BLIS-style fp32 GEMM, C[M,N] (row stride ldc) = A·B with A(i,k) = a[i·rsA + k·csA].
/// Loop nest (outer → inner): jc over NC columns (B panel, L3) → pc over KC (pack B panel) → ic over MC rows
/// (pack A block, L2) → jr over NR slivers (B sliver stays in L1) → ir over MR slivers → 6×16 micro-kernel.
/// Sizes for Zen 3 (L1d 32 KB, L2 512 KB per core, L3 32 MB shared):
///  - micro-kernel 6×16: 12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of the 16 ymm registers; per k it issues
///    12 FMAs against 2 vector loads + 6 broadcasts, enough independent chains (12 > 2 pipes × 4-cycle latency);
///  - KC = 256: the B sliver (KC·NR·4 = 16 KB) plus an A sliver (6 KB) fit L1 together;
///  - MC ≤ 144: the packed A block (≤ 144 KB) sits in L2 next to the streamed B slivers;
///  - NC ≤ 3072: a B panel (≤ 3 MB per thread) stays in L3.
/// KC and MC are balanced (K = 2880 → 12 blocks of 240, not 11 of 256 plus a 64 sliver).
/// Threads: the output is cut into one contiguous part per thread along N (or M when M is the larger side in tiles),
/// and each thread runs the whole loop nest on its part with its own packing buffers. With 2 cores there is nothing
/// to gain from sharing a packed B panel (BLIS's ic-parallel scheme needs a barrier per KC block); the price is that
/// both threads pack the same A block, which is MC·KC copies per MC·KC·(N/2)·2 FLOPs — under 0.1% at N = 4096.
/// Narrow problems (≤ DirectMaxN columns per thread, row-major A) skip packing A and read its rows in place (both
/// kernels); the edge sliver of fewer than MR rows is packed instead, since rows past M may lie past the end of A.
/// Row-major A (packed) and transposed B (x·Wᵀ) are packed through 8×8 register transposes (<see cref="Transpose"/>).
/// Edge tiles: panels are zero-padded to MR/NR, the micro-kernel always computes a full tile and a partial tile is
/// written back from a stack buffer.
/// Two micro-kernels share this loop nest (see <see cref="IMicroKernel"/>), chosen by <see cref="CpuAccelerator.UseVector512"/>:
/// the 6×16 AVX2 kernel below and the 12×32 Vector512 kernel (<see cref="Vec512Kernel12x32"/>). Packed callers need
/// Avx2 + Fma either way: the B packers use 256-bit loads, masked loads and gathers (every AVX-512 machine has AVX2).
/// </summary>
internal static unsafe class GemmCore
{
    /// <summary>The 256-bit kernel's tile and blocking (<see cref="Avx2Kernel6x16"/>).</summary>
    public const int MR = 6, NR = 16;
    // Measured on the Zen 3 (thread CPU time, 2048³, one thread): KC/MC of 256/144, 384/96 and 256/72 within noise
    // (≈ 86 GFLOP/s each), 512/48 ≈ 5% slower.
    public const int KCMax = 256, MCMax = 144, NCMax = 3072;
    // Measured (one thread, thread CPU time): reading A in place lifts conv 1280→1280 @8² (N = 64) from 51% to 77% of
    // peak and linear 4096×1280→320 from 76% to 86%, but costs ~5% at N = 2048, where packing is amortised. The 512-bit
    // kernel on Zen 4 agrees (see Vec512Kernel12x32), so both use this threshold.
    public const int DirectMaxN = 512;

    [ThreadStatic] private static float* t_packA, t_packB;
    [ThreadStatic] private static long t_packALen, t_packBLen;

    private static float* Buffer(ref float* p, ref long len, long floats)
    {
        if (len < floats)
        {
            if (p != null) NativeMemory.AlignedFree(p);
            p = (float*)NativeMemory.AlignedAlloc((nuint)(floats * 4), 64);
            len = floats;
        }
        return p;
    }

    /// <summary>One GEMM problem; <see cref="Run"/> spreads one or many over the threads.</summary>
    public struct Problem<TB> where TB : struct, IPackB
    {
        public int M, N, K;
        public float* A; public nint RsA, CsA;
        public TB B;
        public float* C; public nint Ldc;
        public Epilogue Epi;
    }

    /// <summary>Runs <paramref name="count"/> independent problems (a batch), each cut into parts so every thread works.</summary>
    public static void Run<TB>(CpuAccelerator cpu, int count, Func<int, Problem<TB>> problem) where TB : struct, IPackB
    {
        if (cpu.UseVector512) Run<TB, Vec512Kernel12x32>(cpu, count, problem);
        else Run<TB, Avx2Kernel6x16>(cpu, count, problem);
    }

    private static void Run<TB, TK>(CpuAccelerator cpu, int count, Func<int, Problem<TB>> problem)
        where TB : struct, IPackB where TK : struct, IMicroKernel
    {
        int threads = cpu.Threads;
        if (threads <= 1) { for (int i = 0; i < count; i++) { var p = problem(i); Serial<TB, TK>(ref p, 0, p.M, 0, p.N); } return; }
        // Enough whole problems to keep every thread busy evenly: one task per problem. Otherwise cut each problem.
        if (count % threads == 0 || count >= 4 * threads)
        {
            cpu.ParallelTasks(count, i => { var p = problem(i); Serial<TB, TK>(ref p, 0, p.M, 0, p.N); });
            return;
        }
        for (int i = 0; i < count; i++)
        {
            var p = problem(i);
            int tilesM = (p.M + TK.MR - 1) / TK.MR, tilesN = (p.N + TK.NR - 1) / TK.NR;
            bool splitN = tilesN >= tilesM || tilesM < threads;
            int tiles = splitN ? tilesN : tilesM, tile = splitN ? TK.NR : TK.MR;
            int parts = Math.Min(threads, tiles);
            cpu.ParallelTasks(parts, t =>
            {
                var q = p;
                int b = (int)((long)tiles * t / parts) * tile, e = (int)Math.Min((long)tiles * (t + 1) / parts * tile, splitN ? q.N : q.M);
                if (splitN) Serial<TB, TK>(ref q, 0, q.M, b, e); else Serial<TB, TK>(ref q, b, e, 0, q.N);
            });
        }
    }

    private static int Balanced(int total, int max, int unit)
    {
        int blocks = (total + max - 1) / max;
        int size = (total + blocks - 1) / blocks;
        return (size + unit - 1) / unit * unit;
    }

    /// <summary>Largest MR·NR of any micro-kernel: the partial-tile buffer.</summary>
    private const int MaxTile = 12 * 32;

    /// <summary>The loop nest on rows [m0,m1) and columns [n0,n1) of one problem, on the calling thread.</summary>
    public static void Serial<TB, TK>(ref Problem<TB> p, int m0, int m1, int n0, int n1) where TB : struct, IPackB where TK : struct, IMicroKernel
    {
        int K = p.K, mR = TK.MR, nR = TK.NR;
        int kcB = Balanced(K, TK.KCMax, 1), mcB = Balanced(m1 - m0, TK.MCMax, mR), ncB = Balanced(n1 - n0, NCMax, nR);
        float* packA = Buffer(ref t_packA, ref t_packALen, (long)mcB * kcB);
        float* packB = Buffer(ref t_packB, ref t_packBLen, (long)ncB * kcB);
        float* tile = stackalloc float[MaxTile];
        // Narrow outputs (conv at 8², attention-sized N) use each packed A element only 2·N times, so packing A would
        // cost a sizable fraction of the FLOPs: there the micro-kernel reads A's rows in place (row-major A only).
        bool direct = TK.ReadsAInPlace && p.CsA == 1 && n1 - n0 <= DirectMaxN;
        for (int jc = n0; jc < n1; jc += ncB)
        {
            int nc = Math.Min(ncB, n1 - jc);
            for (int pc = 0; pc < K; pc += kcB)
            {
                int kc = Math.Min(kcB, K - pc);
                bool first = pc == 0;
                p.B.Pack(pc, kc, jc, nc, nR, packB);
                for (int ic = m0; ic < m1; ic += mcB)
                {
                    int mc = Math.Min(mcB, m1 - ic);
                    if (!direct) PackA(p.A, p.RsA, p.CsA, ic, mc, pc, kc, mR, packA);
                    for (int jr = 0; jr < nc; jr += nR)
                    {
                        int nr = Math.Min(nR, nc - jr);
                        float* bs = packB + (nint)jr * kc;
                        for (int ir = 0; ir < mc; ir += mR)
                        {
                            int mr = Math.Min(mR, mc - ir);
                            float* cp = p.C + (ic + ir) * p.Ldc + jc + jr;
                            float* ap;
                            nint lda = 0;
                            if (!direct) ap = packA + (nint)ir * kc;
                            else if (mr == mR) { ap = p.A + (ic + ir) * p.RsA + pc; lda = p.RsA; }
                            else
                            {
                                // The edge sliver: the in-place kernels read MR rows, and rows past M may be past the
                                // end of A; pack the rows that exist (zero-padded) instead (one sliver per B sliver).
                                PackA(p.A, p.RsA, p.CsA, ic + ir, mr, pc, kc, mR, packA);
                                ap = packA;
                            }
                            TK.Tile(kc, ap, lda, bs, cp, p.Ldc, mr, nr, first, p.Epi, ic + ir, jc + jr, tile);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Rows [i0, i0+mc), columns [k0, k0+kc) of A into MR-row slivers dst[s·kc·MR + k·MR + i], zero-padded.</summary>
    private static void PackA(float* a, nint rs, nint cs, int i0, int mc, int k0, int kc, int MR, float* dst)
    {
        for (int s = 0; s * MR < mc; s++)
        {
            int ib = i0 + s * MR, mr = Math.Min(MR, mc - s * MR);
            float* d = dst + (nint)s * kc * MR;
            if (cs == 1)
            {
                // Rows of A are contiguous in k: a transpose into the k-major sliver.
                Transpose.Block(a + ib * rs + k0, rs, mr, kc, d, MR);
                for (int i = mr; i < MR; i++)
                    for (int k = 0; k < kc; k++) d[k * MR + i] = 0f;
            }
            else
            {
                for (int k = 0; k < kc; k++)
                {
                    float* src = a + (k0 + k) * cs + ib * rs;
                    int i = 0;
                    for (; i < mr; i++) d[k * MR + i] = src[i * rs];
                    for (; i < MR; i++) d[k * MR + i] = 0f;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* dst, Vector256<float> v, bool first, in Epilogue e, float rowBias, float* colBias)
    {
        if (e.Alpha != 1f) v *= Vector256.Create(e.Alpha);
        if (first)
        {
            if (e.Beta != 0f) v = Fma.MultiplyAdd(Vector256.Create(e.Beta), Vector256.Load(dst), v);
            if (e.RowBias != null) v += Vector256.Create(rowBias);
            if (colBias != null) v += Vector256.Load(colBias);
        }
        else v += Vector256.Load(dst);
        Vector256.Store(v, dst);
    }

    /// <summary>
    /// The 6×16 register tile over kc steps of packed slivers, then the write-back (full tiles straight from registers,
    /// partial tiles through <paramref name="tile"/>). <paramref name="gi"/>, <paramref name="gj"/>: the tile's position
    /// in C, for the biases.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Micro6x16(int kc, float* a, nint lda, float* b, float* c, nint ldc, int mr, int nr, bool first,
        in Epilogue e, int gi, int gj, float* tile)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        // The loads of the C tile wait at the end of the kernel; start them now (rows are ldc apart, often in other pages).
        for (int i = 0; i < MR; i++) { Sse.Prefetch0(c + i * ldc); Sse.Prefetch0(c + i * ldc + NR - 1); }
        int k = 0;
        if (lda != 0)
        {
            // Unpacked A: row i at a + i·lda; rows past the edge re-read the last row (their results are dropped).
            nint o1 = Math.Min(1, mr - 1) * lda, o2 = Math.Min(2, mr - 1) * lda, o3 = Math.Min(3, mr - 1) * lda,
                o4 = Math.Min(4, mr - 1) * lda, o5 = Math.Min(5, mr - 1) * lda;
            for (; k < kc; k++)
            {
                var b0 = Avx.LoadAlignedVector256(b);
                var b1 = Avx.LoadAlignedVector256(b + 8);
                var av = Avx.BroadcastScalarToVector256(a);
                c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Avx.BroadcastScalarToVector256(a + o1);
                c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Avx.BroadcastScalarToVector256(a + o2);
                c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Avx.BroadcastScalarToVector256(a + o3);
                c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Avx.BroadcastScalarToVector256(a + o4);
                c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Avx.BroadcastScalarToVector256(a + o5);
                c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
                a++; b += NR;
            }
        }
        // Two k steps per trip: halves the loop's counter/branch work next to 24 FMAs.
        else for (; k + 1 < kc; k += 2)
        {
            var b0 = Avx.LoadAlignedVector256(b);
            var b1 = Avx.LoadAlignedVector256(b + 8);
            var av = Avx.BroadcastScalarToVector256(a);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Avx.BroadcastScalarToVector256(a + 1);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Avx.BroadcastScalarToVector256(a + 2);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Avx.BroadcastScalarToVector256(a + 3);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Avx.BroadcastScalarToVector256(a + 4);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Avx.BroadcastScalarToVector256(a + 5);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);

            b0 = Avx.LoadAlignedVector256(b + 16);
            b1 = Avx.LoadAlignedVector256(b + 24);
            av = Avx.BroadcastScalarToVector256(a + 6);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Avx.BroadcastScalarToVector256(a + 7);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Avx.BroadcastScalarToVector256(a + 8);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Avx.BroadcastScalarToVector256(a + 9);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Avx.BroadcastScalarToVector256(a + 10);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Avx.BroadcastScalarToVector256(a + 11);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            a += 2 * MR; b += 2 * NR;
        }
        for (; k < kc; k++)
        {
            var b0 = Avx.LoadAlignedVector256(b);
            var b1 = Avx.LoadAlignedVector256(b + 8);
            var av = Avx.BroadcastScalarToVector256(a);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Avx.BroadcastScalarToVector256(a + 1);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Avx.BroadcastScalarToVector256(a + 2);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Avx.BroadcastScalarToVector256(a + 3);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Avx.BroadcastScalarToVector256(a + 4);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Avx.BroadcastScalarToVector256(a + 5);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            a += MR; b += NR;
        }
        float* cb = e.ColBias != null ? e.ColBias + gj : null;
        float* rb = e.RowBias != null ? e.RowBias + gi : null;
        if (mr == MR && nr == NR)
        {
            Put(c, c00, first, e, rb != null ? rb[0] : 0f, cb); Put(c + 8, c01, first, e, rb != null ? rb[0] : 0f, cb == null ? null : cb + 8); c += ldc;
            Put(c, c10, first, e, rb != null ? rb[1] : 0f, cb); Put(c + 8, c11, first, e, rb != null ? rb[1] : 0f, cb == null ? null : cb + 8); c += ldc;
            Put(c, c20, first, e, rb != null ? rb[2] : 0f, cb); Put(c + 8, c21, first, e, rb != null ? rb[2] : 0f, cb == null ? null : cb + 8); c += ldc;
            Put(c, c30, first, e, rb != null ? rb[3] : 0f, cb); Put(c + 8, c31, first, e, rb != null ? rb[3] : 0f, cb == null ? null : cb + 8); c += ldc;
            Put(c, c40, first, e, rb != null ? rb[4] : 0f, cb); Put(c + 8, c41, first, e, rb != null ? rb[4] : 0f, cb == null ? null : cb + 8); c += ldc;
            Put(c, c50, first, e, rb != null ? rb[5] : 0f, cb); Put(c + 8, c51, first, e, rb != null ? rb[5] : 0f, cb == null ? null : cb + 8);
            return;
        }
        Vector256.Store(c00, tile); Vector256.Store(c01, tile + 8);
        Vector256.Store(c10, tile + 16); Vector256.Store(c11, tile + 24);
        Vector256.Store(c20, tile + 32); Vector256.Store(c21, tile + 40);
        Vector256.Store(c30, tile + 48); Vector256.Store(c31, tile + 56);
        Vector256.Store(c40, tile + 64); Vector256.Store(c41, tile + 72);
        Vector256.Store(c50, tile + 80); Vector256.Store(c51, tile + 88);
        PutPartial(tile, NR, c, ldc, mr, nr, first, e, rb, cb);
    }

    /// <summary>An edge tile (mr × nr of a tile stored row-major with width <paramref name="tileNr"/>) into C, element by element.</summary>
    internal static void PutPartial(float* tile, int tileNr, float* c, nint ldc, int mr, int nr, bool first, in Epilogue e, float* rb, float* cb)
    {
        for (int i = 0; i < mr; i++)
        {
            float* ci = c + i * ldc;
            for (int j = 0; j < nr; j++)
            {
                float v = tile[i * tileNr + j];
                if (e.Alpha != 1f) v *= e.Alpha;
                if (first)
                {
                    // beta = 0 never reads C (BLAS): NaN/garbage in C must not leak.
                    if (e.Beta != 0f) v = MathF.FusedMultiplyAdd(e.Beta, ci[j], v);
                    if (rb != null) v += rb[i];
                    if (cb != null) v += cb[j];
                }
                else v += ci[j];
                ci[j] = v;
            }
        }
    }
}

/// <summary>
/// A register-tile micro-kernel and the cache blocking that goes with it; <see cref="GemmCore"/>'s loop nest is generic
/// over it, so each kernel gets its own specialised copy of the nest with MR/NR/KC/MC as JIT-time constants.
/// </summary>
internal unsafe interface IMicroKernel
{
    static abstract int MR { get; }
    static abstract int NR { get; }
    static abstract int KCMax { get; }
    static abstract int MCMax { get; }
    /// <summary>Can read row-major A in place (lda ≠ 0) instead of from a packed sliver.</summary>
    static abstract bool ReadsAInPlace { get; }

    /// <summary>
    /// C tile (mr ≤ MR rows, nr ≤ NR columns at c, row stride ldc) = Σ over kc steps of the A sliver × the packed B
    /// sliver, written back with the epilogue (first K block) or accumulated into C; tile: MR·NR floats of scratch.
    /// </summary>
    static abstract void Tile(int kc, float* a, nint lda, float* b, float* c, nint ldc, int mr, int nr, bool first,
        in Epilogue e, int gi, int gj, float* tile);
}

/// <summary>256-bit path: the 6×16 AVX2/FMA kernel and the Zen 3 blocking described on <see cref="GemmCore"/>.</summary>
internal readonly unsafe struct Avx2Kernel6x16 : IMicroKernel
{
    public static int MR => GemmCore.MR;
    public static int NR => GemmCore.NR;
    public static int KCMax => GemmCore.KCMax;
    public static int MCMax => GemmCore.MCMax;
    public static bool ReadsAInPlace => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile(int kc, float* a, nint lda, float* b, float* c, nint ldc, int mr, int nr, bool first,
        in Epilogue e, int gi, int gj, float* tile) => GemmCore.Micro6x16(kc, a, lda, b, c, ldc, mr, nr, first, e, gi, gj, tile);
}

/// <summary>
/// 512-bit path: a 12×32 register tile (two Vector512 columns of B, twelve broadcast rows of A), written with the
/// cross-platform Vector512 API so it compiles to AVX-512 where the CPU has it and runs in software elsewhere (tests).
/// Tile choice, by the register-budget model of Low, Igual, Smith &amp; Quintana-Ortí ("Analytical modeling is enough for
/// high-performance BLIS", ACM TOMS 2016) for 32 zmm registers, 16 floats each, 2 FMA pipes of latency 4:
///  - latency hiding needs ≥ 2·4 = 8 independent accumulators, i.e. MR·NR ≥ 8·16 = 128 floats;
///  - registers: MR·NR/16 accumulators + NR/16 B vectors + ≥ 1 broadcast ≤ 32. With NR = 32 that allows MR ≤ 14.
///    14×32 (28 + 2 + 1 = 31 registers) is the densest, but leaves no slack: this is JIT output, not hand assembly, and
///    one extra temporary would spill an accumulator inside the hot loop. 12×32 uses 24 + 2 + 1 = 27 and leaves room for
///    the JIT to keep several broadcasts in flight; it is also the transpose of BLIS's own Skylake-X sgemm tile (32×12).
///    8×32 (16 accumulators) would be safe too but issues only 16 FMAs per 10 loads instead of 24 per 14.
///  - per k step: 24 FMAs (12 cycles on 2 pipes) against 2 vector loads + 12 broadcast loads (7 cycles on 2 load ports),
///    so the FMA pipes, not the loads, set the pace.
/// Blocking, measured on a 2-core AMD EPYC with AVX-512 (Zen 4: 32 KB L1d, 1 MB L2 per core; one zmm FMA per cycle
/// per core, as two 256-bit halves), one thread, thread CPU time, ours and OpenBLAS interleaved: in isolation (L1-resident
/// operands) the tile runs at 95% of the FMA peak, so what is left is the memory side.
///  - KC = 256 (not 128): every K block re-reads and re-writes the C tile, and the fixed cost per tile (prefetch, the
///    scratch round trip, the write-back) is spread over twice the FMAs. 2048³: 82 → 97 GFLOP/s with A packed (KC 384
///    the same); the B sliver (32 KB) no longer stays in L1 next to A, which costs less than the C passes it saves.
///  - The C tile is prefetched before the k loop (as the 256-bit kernel does): its rows are ldc apart, in other pages,
///    and were evicted since the last K block; 2048³: 0.81 → 0.89 of OpenBLAS with this alone.
///  - A is read in place (lda ≠ 0) for N ≤ <see cref="GemmCore.DirectMaxN"/>, like the 256-bit kernel: each packed
///    element of A would be used only 2·N times (ff out [4096,1280]→320: packing was ~20% of the time). Rows are
///    reached from four base pointers plus lda and 2·lda (see the generator). For wider N packing wins (2048³: 97 vs
///    89 GFLOP/s in place), the A block streams from L2 either way.
///  - MC = 384: the packed A block (384·256·4 = 384 KB) in a 1 MB L2.
/// </summary>
internal readonly unsafe partial struct Vec512Kernel12x32 : IMicroKernel
{
    public static int MR => 12;
    public static int NR => 32;
    public static int KCMax => 256;
    public static int MCMax => 384;
    public static bool ReadsAInPlace => true;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, nint lda, float* b, float* c, nint ldc, int mr, int nr, bool first,
        in Epilogue e, int gi, int gj, float* tile)
    {
        // The product (generated: GemmMicroKernels.g.cs) leaves the accumulators in the scratch tile for every tile
        // (24 stores + loads against kc·24 FMAs, < 1% at kc = 256): one write-back loop instead of 24 hand-written ones.
        Product(kc, a, lda, b, c, ldc, tile);
        float* cbias = e.ColBias != null ? e.ColBias + gj : null;
        float* rbias = e.RowBias != null ? e.RowBias + gi : null;
        // Tiles short of rows (M = 320, 640, 1280 leave a sliver of 8 or 4) still write whole vectors per row; only
        // tiles short of columns go element by element.
        if (nr < 32) { GemmCore.PutPartial(tile, 32, c, ldc, mr, nr, first, e, rbias, cbias); return; }
        for (int i = 0; i < mr; i++, c += ldc)
            for (int q = 0; q < 32; q += 16)
            {
                var v = Vector512.Load(tile + i * 32 + q);
                if (e.Alpha != 1f) v *= Vector512.Create(e.Alpha);
                if (first)
                {
                    if (e.Beta != 0f) v = Vector512.FusedMultiplyAdd(Vector512.Create(e.Beta), Vector512.Load(c + q), v);
                    if (rbias != null) v += Vector512.Create(rbias[i]);
                    if (cbias != null) v += Vector512.Load(cbias + q);
                }
                else v += Vector512.Load(c + q);
                Vector512.Store(v, c + q);
            }
    }
}
