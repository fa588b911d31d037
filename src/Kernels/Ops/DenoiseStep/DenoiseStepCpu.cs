using System.Runtime.Intrinsics;
using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels;

/// <summary>
/// CPU denoise step. Variants: 1 — the scalar reference (fp32, one thread); 2 — one SIMD pass over the latent (default):
/// Vector256, or Vector512 when the accelerator asks for it (ledger suffix "-v512"), chunks of ≥ 32 K elements over the
/// worker threads. Pure streaming (3–6 loads and 1–2 stores per element against ≤ 14 FLOPs): it runs at memory bandwidth.
/// Products are fused into the running sum (FMA), so results differ from the reference's separate multiply and add by
/// an ulp or so; the scalar tail uses the same fused operations, so both widths give the same bits.
/// </summary>
internal static unsafe class DenoiseStepCpu
{
    public static string VariantName(int variant, CpuAccelerator? cpu = null) => variant switch
    {
        0 or 2 => cpu is { UseVector512: true } ? "cpu.v2-simd-threads-v512" : "cpu.v2-simd-threads",
        1 => "cpu.v1-reference",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{DenoiseStepSpec.Op}: variants are 0 (default), 1 (reference), 2 (simd)"),
    };

    /// <summary>Raw pointers of one call; cond, noise, hist, aux are null when absent.</summary>
    private readonly struct Args
    {
        public readonly float* X, Uncond, Cond, Noise, Hist, Y, Aux;
        public readonly DenoiseCoefficients C;

        public Args(float* x, float* uncond, float* cond, float* noise, float* hist, float* y, float* aux, DenoiseCoefficients c)
        {
            X = x; Uncond = uncond; Cond = cond; Noise = noise; Hist = hist; Y = y; Aux = aux; C = c;
        }
    }

    public static void Step(CpuAccelerator cpu, Tensor x, Tensor modelOut, Tensor? noise, Tensor? hist, Tensor y, Tensor? aux,
        DenoiseCoefficients c)
    {
        long n = x.Length;
        float* m = modelOut.F32Pointer;
        var a = new Args(x.F32Pointer, m, modelOut.Length == 2 * n ? m + n : null, noise == null ? null : noise.F32Pointer,
            hist == null ? null : hist.F32Pointer, y.F32Pointer, aux == null ? null : aux.F32Pointer, c);
        if (cpu.UseVector512) ActivationsCpu.ParallelChunks(cpu, n, (b, e) => Range<V512, Vector512<float>>(a, b, e));
        else ActivationsCpu.ParallelChunks(cpu, n, (b, e) => Range<V256, Vector256<float>>(a, b, e));
    }

    /// <summary>Elements [begin, end): every load of an element happens before its stores (in-place safe).</summary>
    private static void Range<TO, TV>(in Args a, long begin, long end) where TO : struct, IVec<TV> where TV : struct
    {
        var c = a.C;
        bool x0 = c.AuxKind == DenoiseAux.X0;
        TV g = TO.Splat(c.Guidance), cx = TO.Splat(c.Cx), ce = TO.Splat(c.Ce), cn = TO.Splat(c.Cn), ch = TO.Splat(c.Ch);
        TV ax = TO.Splat(c.Ax), ae = TO.Splat(c.Ae);
        long i = begin;
        for (; i + TO.Count <= end; i += TO.Count)
        {
            TV m = TO.Load(a.Uncond + i);
            if (a.Cond != null) m = TO.Fma(g, TO.Sub(TO.Load(a.Cond + i), m), m);
            TV xv = TO.Load(a.X + i);
            TV acc = TO.Fma(ce, m, TO.Mul(cx, xv));
            if (a.Noise != null) acc = TO.Fma(cn, TO.Load(a.Noise + i), acc);
            if (a.Hist != null) acc = TO.Fma(ch, TO.Load(a.Hist + i), acc);
            if (a.Aux != null) TO.Store(x0 ? TO.Fma(ae, m, TO.Mul(ax, xv)) : m, a.Aux + i);
            TO.Store(acc, a.Y + i);
        }
        for (; i < end; i++)
        {
            float m = a.Uncond[i];
            if (a.Cond != null) m = MathF.FusedMultiplyAdd(c.Guidance, a.Cond[i] - m, m);
            float xv = a.X[i];
            float acc = MathF.FusedMultiplyAdd(c.Ce, m, c.Cx * xv);
            if (a.Noise != null) acc = MathF.FusedMultiplyAdd(c.Cn, a.Noise[i], acc);
            if (a.Hist != null) acc = MathF.FusedMultiplyAdd(c.Ch, a.Hist[i], acc);
            if (a.Aux != null) a.Aux[i] = x0 ? MathF.FusedMultiplyAdd(c.Ae, m, c.Ax * xv) : m;
            a.Y[i] = acc;
        }
    }
}
