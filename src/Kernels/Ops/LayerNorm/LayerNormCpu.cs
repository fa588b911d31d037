using System.Runtime.Intrinsics;
using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels;

/// <summary>
/// CPU LayerNorm. Variants: 1 — the scalar reference in fp32, one thread; 2 — rows over the threads, each row's three
/// passes (sum, Σ(x − mean)², normalise with gamma/beta vectors) in SIMD while the row sits in L1/L2 (default);
/// Vector256, or Vector512 when the accelerator asks for it (ledger suffix "-v512"): one generic kernel for both widths.
/// </summary>
internal static unsafe class LayerNormCpu
{
    /// <summary>The ledger name; "-v512" marks the 512-bit path.</summary>
    public static string VariantName(int variant, CpuAccelerator? cpu = null) => variant switch
    {
        0 or 2 => cpu is { UseVector512: true } ? "cpu.v2-simd-rows-v512" : "cpu.v2-simd-rows",
        1 => "cpu.v1-reference",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "layer_norm variants are 0 (default), 1 (reference), 2 (simd)"),
    };

    public static void Run(CpuAccelerator cpu, Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps)
    {
        if (cpu.UseVector512) Run<V512, Vector512<float>>(cpu, x, gamma, beta, y, eps);
        else Run<V256, Vector256<float>>(cpu, x, gamma, beta, y, eps);
    }

    /// <summary>Variant 2 at one vector width (TO = V256 or V512).</summary>
    private static void Run<TO, TV>(CpuAccelerator cpu, Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps)
        where TO : struct, IVec<TV> where TV : struct
    {
        int d = x.Dim(-1), w = TO.Count;
        long rows = x.Length / d;
        float* px = x.F32Pointer, py = y.F32Pointer;
        float* pg = gamma is null ? null : gamma.F32Pointer, pb = beta is null ? null : beta.F32Pointer;
        cpu.ParallelFor(rows, Math.Max(1, 16 * 1024 / d), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* rx = px + r * d, ry = py + r * d;
                float mean = (float)(NormStats<TO, TV>.Sum(rx, d) / d);
                float rstd = (float)(1.0 / Math.Sqrt(NormStats<TO, TV>.SumSquaredDeviations(rx, d, mean) / d + eps));
                if (pg == null && pb == null) { NormStats<TO, TV>.Affine(rx, ry, d, mean, rstd, 0f, false); continue; }
                var mv = TO.Splat(mean); var rv = TO.Splat(rstd);
                int i = 0;
                for (; i + w <= d; i += w)
                {
                    var v = TO.Mul(TO.Sub(TO.Load(rx + i), mv), rv);
                    var g = pg == null ? TO.One : TO.Load(pg + i);
                    var b = pb == null ? TO.Zero : TO.Load(pb + i);
                    TO.Store(TO.Fma(v, g, b), ry + i);
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
