using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>
/// CPU conv2d variants:
///  v1-scalar: the reference over F32 (fallback without AVX2/FMA);
///  v2-implicit-gemm: y[n] = W[Cout, Cin·kh·kw] · im2col(x[n])[Cin·kh·kw, Ho·Wo] on the packed gemm core, where the
///    B-panel packer gathers the im2col columns straight from x (zero for padded taps); a 1×1 stride-1 unpadded conv is
///    a plain gemm on x[n] viewed as [Cin, H·W]; with the accelerator's 512-bit path (-v512) the core runs its 12×32
///    Vector512 micro-kernel and the packer fills 32-wide slivers (its 8-column gathers stay 256-bit: see Im2ColB).
/// Why implicit GEMM: it puts all the arithmetic in the same 6×16 FMA micro-kernel as gemm (≈ its efficiency at
/// K = Cin·9 ≥ 2880), the packer has to copy B into slivers anyway so gathering costs little extra, and nothing the
/// size of im2col is allocated (320 channels × 9 × 64² × 4 B = 47 MB at SD's first level; it would not stay in L3).
/// A direct convolution would need its own register-blocked kernel per stride and kernel size for the same result.
/// </summary>
internal static unsafe class Conv2dCpu
{
    public static string VariantName(CpuAccelerator cpu, int variant) =>
        GemmCpu.Resolve(variant) == 1 ? "cpu.v1-scalar" : cpu.UseVector512 ? "cpu.v2-implicit-gemm-v512" : "cpu.v2-implicit-gemm";

    public static void Run(CpuAccelerator cpu, Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dDims d, int variant)
    {
        if (GemmCpu.Resolve(variant) == 1)
        {
            var ys = new F32[y.Length];
            Conv2dReference.Conv2d<F32>(Widen(x), Widen(w), bias is null ? Array.Empty<F32>() : Widen(bias), ys, d);
            var dst = y.AsSpan();
            for (int i = 0; i < ys.Length; i++) dst[i] = ys[i].V;
            return;
        }
        float* px = x.F32Pointer, pw = w.F32Pointer, py = y.F32Pointer;
        var epi = new Epilogue(1f, 0f, bias is null ? null : bias.F32Pointer, null);
        int K = d.Cin * d.Kh * d.Kw, P = d.Ho * d.Wo;
        long xStride = (long)d.Cin * d.H * d.W, yStride = (long)d.Cout * P;
        if (d.Kh == 1 && d.Kw == 1 && d.Stride == 1 && d.Padding == 0)
        {
            GemmCore.Run(cpu, d.N, n => new GemmCore.Problem<StridedB>
            {
                M = d.Cout, N = P, K = K, A = pw, RsA = K, CsA = 1,
                B = new StridedB(px + n * xStride, P, 1),
                C = py + n * yStride, Ldc = P, Epi = epi,
            });
            return;
        }
        GemmCore.Run(cpu, d.N, n => new GemmCore.Problem<Im2ColB>
        {
            M = d.Cout, N = P, K = K, A = pw, RsA = K, CsA = 1,
            B = new Im2ColB(px + n * xStride, d),
            C = py + n * yStride, Ldc = P, Epi = epi,
        });
    }

    private static F32[] Widen(Tensor t)
    {
        var s = t.AsSpan();
        var r = new F32[s.Length];
        for (int i = 0; i < s.Length; i++) r[i] = new F32(s[i]);
        return r;
    }
}

/// <summary>
/// The im2col matrix of one image, never materialised: B(kk, p) with kk = (ci, ky, kx) and p = (oy, ox) is
/// x[ci, oy·s + ky − pad, ox·s + kx − pad], or 0 in the padding. Works for any sliver width NR that is a multiple of 8;
/// it stays on AVX2 (masked loads, gathers) for both kernels: AVX-512 machines have AVX2, and packing is a small part
/// of the time.
/// </summary>
internal readonly unsafe struct Im2ColB(float* x, Conv2dDims d) : IPackB
{
    public void Pack(int k0, int kc, int j0, int nc, int NR, float* dst)
    {
        int H = d.H, W = d.W, Wo = d.Wo, s = d.Stride, pad = d.Padding, kh = d.Kh, kw = d.Kw;
        int ci0 = k0 / (kh * kw), r0 = k0 % (kh * kw), ky0 = r0 / kw, kx0 = r0 % kw;
        for (int sl = 0; sl * NR < nc; sl++)
        {
            int jb = j0 + sl * NR, nr = Math.Min(NR, nc - sl * NR);
            float* dk = dst + (nint)sl * kc * NR;
            int oyb = jb / Wo, oxb = jb % Wo;
            int ci = ci0, ky = ky0, kx = kx0;
            for (int k = 0; k < kc; k++, dk += NR)
            {
                float* xc = x + (nint)ci * H * W;
                int oy = oyb, ox = oxb, j = 0;
                while (j < nr)
                {
                    // One run of columns within an output row.
                    int seg = Math.Min(nr - j, Wo - ox);
                    int iy = oy * s + ky - pad;
                    float* o = dk + j;
                    if ((uint)iy >= (uint)H)
                        for (int t = 0; t < seg; t++) o[t] = 0f;
                    else if ((j & 7) == 0)
                    {
                        // 8 columns at a time: masked loads (stride 1) or masked gathers (stride 2, …); masked-off
                        // lanes (padding, or past this row's run) become 0 and never touch memory. Stores stay within
                        // the sliver's NR slots, and a lane past the run is rewritten by the next run or the tail fill.
                        float* row = xc + (nint)iy * W;
                        int ix0 = ox * s + kx - pad;
                        if (s == 1 && ix0 >= 0 && ix0 + seg <= W)
                        {
                            // The whole run inside the row (all but the first and last run of a padded row): a copy.
                            int t = 0;
                            for (; t + 8 <= seg; t += 8) Vector256.Store(Vector256.Load(row + ix0 + t), o + t);
                            for (; t < seg; t++) o[t] = row[ix0 + t];
                        }
                        else for (int t0 = 0; t0 < seg; t0 += 8)
                        {
                            var lane = Iota + Vector256.Create(t0);
                            var ix = Vector256.Create(ix0) + lane * s;
                            var ok = Vector256.LessThan(lane, Vector256.Create(seg))
                                & Vector256.GreaterThanOrEqual(ix, Vector256<int>.Zero) & Vector256.LessThan(ix, Vector256.Create(W));
                            Vector256<float> v;
                            if (s == 1)
                                v = ok == Vector256<int>.AllBitsSet ? Vector256.Load(row + ix0 + t0) : Avx.MaskLoad(row + ix0 + t0, ok.AsSingle());
                            else if (s == 2 && ok == Vector256<int>.AllBitsSet && ix0 + 2 * t0 + 16 <= W)
                            {
                                // Stride 2 inside the row: two loads and a deinterleave beat a gather (slow on Zen 3).
                                var lo = Vector256.Load(row + ix0 + 2 * t0);
                                var hi = Vector256.Load(row + ix0 + 2 * t0 + 8);
                                var even = Avx.Shuffle(lo, hi, 0b10_00_10_00);              // lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6
                                v = Avx2.Permute4x64(even.AsDouble(), 0b11_01_10_00).AsSingle(); // lo0 lo2 lo4 lo6 hi0 hi2 hi4 hi6
                            }
                            else
                                v = Avx2.GatherMaskVector256(Vector256<float>.Zero, row, ix, ok.AsSingle(), 4);
                            Vector256.Store(v, o + t0);
                        }
                    }
                    else
                    {
                        float* row = xc + (nint)iy * W;
                        int ix0 = ox * s + kx - pad;
                        for (int t = 0; t < seg; t++)
                        {
                            int ix = ix0 + t * s;
                            o[t] = (uint)ix < (uint)W ? row[ix] : 0f;
                        }
                    }
                    j += seg; ox = 0; oy++;
                }
                for (int t = nr; t < NR; t++) dk[t] = 0f;
                if (++kx == kw) { kx = 0; if (++ky == kh) { ky = 0; ci++; } }
            }
        }
    }

    private static readonly Vector256<int> Iota = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
}
