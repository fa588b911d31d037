using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Noise;

namespace PixelCost.Kernels.Pixels;

/// <summary>
/// CPU kernels of the pixel maps. All are row-parallel and bitwise equal to the F32 reference: they perform the same
/// float operations in the same order, only hoisted out of loops (a column's smoothstep is the same on every row).
/// </summary>
public static unsafe class PixelsCpu
{
    // v1 — the only variant: row tables + Vector256 rows (Vector512 rows when the accelerator takes the 512-bit
    // path), threads over rows.
    public static string Variant(CpuAccelerator cpu) => cpu.UseVector512 ? "cpu.v1-rows-v512" : "cpu.v1-rows";
    public static string QuantizeVariant(CpuAccelerator cpu) => cpu.UseVector512 ? "cpu.v1-simd-v512" : "cpu.v1-simd";

    // Checkerboard only copies rows (Span.CopyTo, the runtime's own vectorised memmove): no SIMD path of ours to pick.
    public const string CheckerboardVariant = "cpu.v1-rows-copy";

    /// <summary>Rows per thread chunk: at least ~64 KiB of output so scheduling cost stays negligible.</summary>
    private static long RowGrain(int w) => Math.Max(1, 16384 / (3L * w));

    public static void SmoothNoise(CpuAccelerator cpu, Tensor dst, ulong seed, int scale)
    {
        int h = dst.Dim(0), w = dst.Dim(1), row = 3 * w;
        var (gh, gw) = PixelsSpec.Lattice(h, w, scale);
        float invS = (float)(1.0 / scale);

        // Column tables: lattice column and smoothstep weight per output value j = 3x + c.
        var gxOf = new int[w];
        var sxOf = new float[w];
        for (int x = 0; x < w; x++)
        {
            gxOf[x] = x / scale;
            float tx = (float)(x % scale) * invS;
            sxOf[x] = tx * tx * (3f - 2f * tx);
        }

        // Horizontal pass once per lattice row: rowX[gy][3x + c] = lerp(L[gy, gx], L[gy, gx+1], sx). The reference
        // computes exactly these values (its "top" and "bottom") for every pixel; here each is computed once.
        var rowX = GC.AllocateUninitializedArray<float>(gh * row);
        cpu.ParallelFor(gh, Math.Max(1, 4096 / gw), (g0, g1) =>
        {
            var latRow = new float[gw * 3];
            for (long gy = g0; gy < g1; gy++)
            {
                for (int gx = 0; gx < gw; gx++)
                {
                    var (x0, x1, x2, _) = Philox4x32.Block((uint)gx, (uint)gy, PixelsSpec.LatticeStreamWord,
                        PixelsSpec.LatticeStreamWord, (uint)seed, (uint)(seed >> 32));
                    latRow[3 * gx] = (float)(x0 >> 8) * NoiseSpec.Inv24;
                    latRow[3 * gx + 1] = (float)(x1 >> 8) * NoiseSpec.Inv24;
                    latRow[3 * gx + 2] = (float)(x2 >> 8) * NoiseSpec.Inv24;
                }
                var r = rowX.AsSpan((int)gy * row, row);
                for (int x = 0; x < w; x++)
                {
                    int g = 3 * gxOf[x];
                    float sx = sxOf[x];
                    for (int c = 0; c < 3; c++)
                    {
                        float a = latRow[g + c], b = latRow[g + 3 + c];
                        r[3 * x + c] = a + (b - a) * sx;
                    }
                }
            }
        });

        // Vertical pass per output row: contiguous, so plain vector lerps.
        float* img = dst.F32Pointer;
        bool wide = cpu.UseVector512;
        cpu.ParallelFor(h, RowGrain(w), (y0, y1) =>
        {
            fixed (float* rx = rowX)
            {
                for (long y = y0; y < y1; y++)
                {
                    int gy = (int)y / scale;
                    float ty = (float)((int)y % scale) * invS;
                    float sy = ty * ty * (3f - 2f * ty);
                    Lerp(rx + (long)gy * row, rx + (long)(gy + 1) * row, sy, img + y * row, row, wide);
                }
            }
        });
    }

    private static void Lerp(float* a, float* b, float t, float* dst, int n, bool wide)
    {
        int i = 0;
        if (wide)
        {
            // Vector512 path: the same mul-then-add as below, 16 lanes.
            var vt = Vector512.Create(t);
            for (; i <= n - 16; i += 16)
            {
                var va = Vector512.Load(a + i);
                Vector512.Store(va + (Vector512.Load(b + i) - va) * vt, dst + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vt = Vector256.Create(t);
            for (; i <= n - 8; i += 8)
            {
                var va = Vector256.Load(a + i);
                // mul then add, never fused: the reference rounds twice.
                Vector256.Store(va + (Vector256.Load(b + i) - va) * vt, dst + i);
            }
        }
        for (; i < n; i++) dst[i] = a[i] + (b[i] - a[i]) * t;
    }

    public static void Gradient(CpuAccelerator cpu, Tensor dst)
    {
        int h = dst.Dim(0), w = dst.Dim(1), row = 3 * w;
        // value(j, y) = (baseNum[j] + y·yStep[j]) · scale[j] for j = 3x + c: integer numerator, one float multiply.
        var baseNum = new int[row];
        var yStep = new int[row];
        var scale = new float[row];
        float invW2 = (float)(1.0 / (2.0 * w)), invH2 = (float)(1.0 / (2.0 * h)), invWH = (float)(1.0 / ((double)w + h));
        for (int x = 0; x < w; x++)
        {
            (baseNum[3 * x], yStep[3 * x], scale[3 * x]) = (2 * x + 1, 0, invW2);
            (baseNum[3 * x + 1], yStep[3 * x + 1], scale[3 * x + 1]) = (1, 2, invH2);
            (baseNum[3 * x + 2], yStep[3 * x + 2], scale[3 * x + 2]) = (x + 1, 1, invWH);
        }
        float* img = dst.F32Pointer;
        bool wide = cpu.UseVector512;
        cpu.ParallelFor(h, RowGrain(w), (y0, y1) =>
        {
            fixed (int* bn = baseNum, ys = yStep)
            fixed (float* sc = scale)
            {
                for (long y = y0; y < y1; y++)
                {
                    float* o = img + y * row;
                    int yi = (int)y, j = 0;
                    if (wide)
                    {
                        // Vector512 path: the same integer numerator and one rounding multiply, 16 lanes.
                        var vy = Vector512.Create(yi);
                        for (; j <= row - 16; j += 16)
                        {
                            var num = Vector512.Load(bn + j) + Vector512.Load(ys + j) * vy;
                            Vector512.Store(Vector512.ConvertToSingle(num) * Vector512.Load(sc + j), o + j);
                        }
                    }
                    else if (Vector256.IsHardwareAccelerated)
                    {
                        var vy = Vector256.Create(yi);
                        for (; j <= row - 8; j += 8)
                        {
                            var num = Vector256.Load(bn + j) + Vector256.Load(ys + j) * vy;
                            // int → float rounds to nearest like the scalar (float)int: bitwise the same.
                            Vector256.Store(Vector256.ConvertToSingle(num) * Vector256.Load(sc + j), o + j);
                        }
                    }
                    for (; j < row; j++) o[j] = (float)(bn[j] + ys[j] * yi) * sc[j];
                }
            }
        });
    }

    public static void Checkerboard(CpuAccelerator cpu, Tensor dst, int cell)
    {
        int h = dst.Dim(0), w = dst.Dim(1), row = 3 * w;
        // Two row patterns (cell row parity 0 and 1); every image row is a copy of one (a vectorised memmove).
        var pattern = new float[2 * row];
        for (int p = 0; p < 2; p++)
            for (int x = 0; x < w; x++)
            {
                float v = ((x / cell + p) & 1) == 0 ? 1f : 0f;
                pattern[p * row + 3 * x] = pattern[p * row + 3 * x + 1] = pattern[p * row + 3 * x + 2] = v;
            }
        float* img = dst.F32Pointer;
        cpu.ParallelFor(h, RowGrain(w), (y0, y1) =>
        {
            for (long y = y0; y < y1; y++)
                pattern.AsSpan((int)((y / cell) & 1) * row, row).CopyTo(new Span<float>(img + y * row, row));
        });
    }

    public const int QuantizeGroup = 32;

    public static void Quantize(CpuAccelerator cpu, Tensor src, Tensor dst)
    {
        float* s = src.F32Pointer;
        byte* d = (byte*)dst.Handle;
        long n = src.Length;
        bool wide = cpu.UseVector512;
        cpu.ParallelFor((n + QuantizeGroup - 1) / QuantizeGroup, 2048, (g0, g1) =>
        {
            long i = g0 * QuantizeGroup, end = Math.Min(g1 * QuantizeGroup, n);
            if (wide)
                for (; i + 64 <= end; i += 64)
                {
                    var a = Q16(s + i); var b = Q16(s + i + 16); var c = Q16(s + i + 32); var e = Q16(s + i + 48);
                    Vector512.Store(Vector512.Narrow(Vector512.Narrow(a, b), Vector512.Narrow(c, e)), d + i);
                }
            else if (Avx2.IsSupported)
                for (; i + QuantizeGroup <= end; i += QuantizeGroup)
                {
                    var a = Q8(s + i); var b = Q8(s + i + 8); var c = Q8(s + i + 16); var e = Q8(s + i + 24);
                    // Values are already 0…255, so narrowing (truncating) is exact.
                    Vector256.Store(Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, e)), d + i);
                }
            for (; i < end; i++)
            {
                float q = MathF.Floor(MathF.Min(MathF.Max(s[i], 0f), 1f) * 255f + 0.5f);
                d[i] = float.IsNaN(q) ? (byte)0 : (byte)q;
            }
        });
    }


    private static Vector256<uint> Q8(float* p)
    {
        // vmaxps returns its second operand when the first is NaN: NaN → 0, as the reference's NaN → 0.
        var v = Avx.Min(Avx.Max(Vector256.Load(p), Vector256<float>.Zero), Vector256<float>.One);
        var q = Avx.Floor(v * Vector256.Create(255f) + Vector256.Create(0.5f));
        return Avx.ConvertToVector256Int32WithTruncation(q).AsUInt32();
    }

    /// <summary>
    /// The Vector512 twin of <see cref="Q8"/> in cross-platform operations. Vector512.Max/Min follow IEEE 754-2019
    /// (NaN in, NaN out) rather than vmaxps's "second operand on NaN", so NaN is mapped to 0 explicitly first (x == x
    /// is false only for NaN); after that the clamp, floor and truncating conversion match the reference.
    /// </summary>
    private static Vector512<uint> Q16(float* p)
    {
        var x = Vector512.Load(p);
        x = Vector512.ConditionalSelect(Vector512.Equals(x, x), x, Vector512<float>.Zero);
        var v = Vector512.Min(Vector512.Max(x, Vector512<float>.Zero), Vector512<float>.One);
        var q = Vector512.Floor(v * Vector512.Create(255f) + Vector512.Create(0.5f));
        return Vector512.ConvertToInt32(q).AsUInt32();
    }
}
