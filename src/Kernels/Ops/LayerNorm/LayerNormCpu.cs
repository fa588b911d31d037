using System.Runtime.Intrinsics;
using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels.Ops;

/// <summary>
/// CPU LayerNorm. Variants: 1 — the scalar reference in fp32, one thread; 2 — rows over the threads, each row's three
/// passes (sum, Σ(x − mean)², normalise with gamma/beta vectors) in SIMD while the row sits in L1/L2 (default).
/// </summary>
internal static unsafe class LayerNormCpu
{
    public static string VariantName(int variant) => variant switch
    {
        0 or 2 => "2-simd-rows",
        1 => "1-reference",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "layer_norm variants are 0 (default), 1 (reference), 2 (simd)"),
    };

    public static void Run(CpuAccelerator cpu, Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps)
    {
        int d = x.Dim(-1);
        long rows = x.Length / d;
        float* px = x.F32Pointer, py = y.F32Pointer;
        float* pg = gamma is null ? null : gamma.F32Pointer, pb = beta is null ? null : beta.F32Pointer;
        cpu.ParallelFor(rows, Math.Max(1, 16 * 1024 / d), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* rx = px + r * d, ry = py + r * d;
                float mean = (float)(NormStats.Sum(rx, d) / d);
                float rstd = (float)(1.0 / Math.Sqrt(NormStats.SumSquaredDeviations(rx, d, mean) / d + eps));
                if (pg == null && pb == null) { NormStats.Affine(rx, ry, d, mean, rstd, 0f, false); continue; }
                var mv = Vector256.Create(mean); var rv = Vector256.Create(rstd);
                int i = 0;
                for (; i + 8 <= d; i += 8)
                {
                    var v = (Vector256.Load(rx + i) - mv) * rv;
                    var g = pg == null ? Vector256<float>.One : Vector256.Load(pg + i);
                    var b = pb == null ? Vector256<float>.Zero : Vector256.Load(pb + i);
                    Vector256.FusedMultiplyAdd(v, g, b).Store(ry + i);
                }
                for (; i < d; i++)
                {
                    float v = (rx[i] - mean) * rstd;
                    ry[i] = v * (pg == null ? 1f : pg[i]) + (pb == null ? 0f : pb[i]);
                }
            }
        });
    }
}
