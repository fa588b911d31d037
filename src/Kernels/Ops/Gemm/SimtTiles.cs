using System.Runtime.CompilerServices;
using ILGPU;

namespace PixelCost.Kernels;

/// <summary>16 bytes as four floats: a global load of one is a 128-bit load (ld.global.v4.f32) when the address is 16-byte aligned.</summary>
public struct F4
{
    public float X, Y, Z, W;
}

/// <summary>
/// The parameters of one launch of a SIMT tiled GEMM kernel (<see cref="SimtGemmKernels"/>): C(m,n) = alpha·Σ_k A(m,k)·B(k,n)
/// (+ beta·C) (+ bias), with every operand addressed through strides, so transposes, a head's channel slice and
/// broadcast batches are all just strides. The grid's z index z = outer·Inner + inner picks the matrices:
/// A at outer·A0 + inner·A1 (likewise B, C); a broadcast operand has zero batch offsets.
/// </summary>
public struct SimtArgs
{
    public int M, N, K;
    /// <summary>A(m,k) = a[offA + m·SaM + k·SaK]; B(k,n) = b[offB + k·SbK + n·SbN]; C(m,n) = c[offC + m·Ldc + n].</summary>
    public int SaM, SaK, SbK, SbN, Ldc;
    public int Inner;
    public long A0, A1, B0, B1, C0, C1;
    public float Alpha, Beta;
    /// <summary>0: no bias; 1: bias[m] (conv: per output channel); 2: bias[n] (linear: per output feature).</summary>
    public int BiasMode;
    /// <summary>1 when that operand's tile may be read with 16-byte loads (see <see cref="SimtTiles.LoadStrided"/>).</summary>
    public int VecA, VecB;
}

/// <summary>Geometry of a convolution seen as an implicit GEMM: B(k, n) = x[img, ci, oy·s+ky−p, ox·s+kx−p] with
/// k = (ci·Kh + ky)·Kw + kx and n = oy·Wo + ox (zero outside the image).</summary>
public struct ConvGeom
{
    public int Cin, H, W, Kh, Kw, KhKw, Stride, Pad, Wo;
    /// <summary>Floats per input image (Cin·H·W).</summary>
    public long XImage;
}

/// <summary>
/// Shared-memory tile loaders of the SIMT GEMM kernels. A tile holds rows x0..x0+bx−1 of an operand (m for A, n for B)
/// and the K slab k0..k0+bk−1, stored k-major (sh[kk·bx + x]) so the compute loop reads a row of the micro-tile's
/// operands at one k from consecutive words. bx·bk = 1024 and groups are 256 threads: each thread loads exactly four
/// consecutive elements along the operand's contiguous dimension (coalesced), zero outside the matrix (the tails).
/// </summary>
internal static class SimtTiles
{
    public const int Threads = 256;

    /// <summary>
    /// Element (x, k) at src[off + x·sx + k·sk]. When sk = 1 the four elements run along k; otherwise along x (coalesced
    /// when sx = 1). vec: the four elements are contiguous and 16-byte aligned whenever all four are inside (the host
    /// checks stride 1 along them, the other stride, every batch offset and the view's start are multiples of 4).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadStrided(ArrayView<float> src, long off, int sx, int sk, int xCount, int kCount, int x0, int k0,
        ArrayView<float> sh, int bx, int bk, bool vec, int tid)
    {
        if (sk == 1)
        {
            int per = bk >> 2, x = tid / per, kq = (tid - x * per) << 2;
            int row = x0 + x, k = k0 + kq;
            float v0 = 0f, v1 = 0f, v2 = 0f, v3 = 0f;
            if (row < xCount)
            {
                long p = off + (long)row * sx + k;
                if (vec && k + 3 < kCount)
                {
                    F4 f = src.Cast<F4>()[p >> 2];
                    v0 = f.X; v1 = f.Y; v2 = f.Z; v3 = f.W;
                }
                else
                {
                    if (k < kCount) v0 = src[p];
                    if (k + 1 < kCount) v1 = src[p + 1];
                    if (k + 2 < kCount) v2 = src[p + 2];
                    if (k + 3 < kCount) v3 = src[p + 3];
                }
            }
            int s = kq * bx + x;
            sh[s] = v0; sh[s + bx] = v1; sh[s + 2 * bx] = v2; sh[s + 3 * bx] = v3;
        }
        else
        {
            int per = bx >> 2, kk = tid / per, xq = (tid - kk * per) << 2;
            int k = k0 + kk, col = x0 + xq;
            float v0 = 0f, v1 = 0f, v2 = 0f, v3 = 0f;
            if (k < kCount)
            {
                long p = off + (long)k * sk + (long)col * sx;
                if (vec && col + 3 < xCount)
                {
                    F4 f = src.Cast<F4>()[p >> 2];
                    v0 = f.X; v1 = f.Y; v2 = f.Z; v3 = f.W;
                }
                else
                {
                    if (col < xCount) v0 = src[p];
                    if (col + 1 < xCount) v1 = src[p + sx];
                    if (col + 2 < xCount) v2 = src[p + 2L * sx];
                    if (col + 3 < xCount) v3 = src[p + 3L * sx];
                }
            }
            int s = kk * bx + xq;
            sh[s] = v0; sh[s + 1] = v1; sh[s + 2] = v2; sh[s + 3] = v3;
        }
    }

    /// <summary>
    /// The im2col tile of a convolution, gathered on the fly: four consecutive output pixels n (along a row of the
    /// output, wrapping to the next row) at one k; taps in the zero padding and pixels past N are 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadIm2col(ArrayView<float> x, long off, ConvGeom g, int nCount, int kCount, int n0, int k0,
        ArrayView<float> sh, int bx, int bk, int tid)
    {
        int per = bx >> 2, kk = tid / per, nq = (tid - kk * per) << 2;
        int k = k0 + kk, n = n0 + nq, s = kk * bx + nq;
        if (k < kCount)
        {
            int ci = k / g.KhKw, r = k - ci * g.KhKw, ky = r / g.Kw, kx = r - ky * g.Kw;
            int oy = n / g.Wo, ox = n - oy * g.Wo;
            long plane = off + (long)ci * g.H * g.W;
            for (int e = 0; e < 4; e++)
            {
                float v = 0f;
                int iy = oy * g.Stride + ky - g.Pad, ix = ox * g.Stride + kx - g.Pad;
                if (n + e < nCount && iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) v = x[plane + (long)iy * g.W + ix];
                sh[s + e] = v;
                if (++ox == g.Wo) { ox = 0; oy++; }
            }
        }
        else
        {
            sh[s] = 0f; sh[s + 1] = 0f; sh[s + 2] = 0f; sh[s + 3] = 0f;
        }
    }

    /// <summary>The epilogue of one output: alpha, then beta·C (never read when beta = 0, as BLAS), then the bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ArrayView<float> c, long offC, ArrayView<float> bias, SimtArgs p, int m, int n, float acc)
    {
        if (m >= p.M || n >= p.N) return;
        long i = offC + (long)m * p.Ldc + n;
        float v = p.Alpha == 1f ? acc : p.Alpha * acc;
        if (p.Beta != 0f) v += p.Beta * c[i];
        if (p.BiasMode == 1) v += bias[m];
        else if (p.BiasMode == 2) v += bias[n];
        c[i] = v;
    }
}
