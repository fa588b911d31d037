using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels;

/// <summary>
/// SIMD partial sums for the norms, written once for both widths (TO = <see cref="V256"/> or <see cref="V512"/>). Each
/// block of ≤ 1024 values is summed in 4 vectors of fp32 lanes (≤ 32 values per lane at 8 lanes, ≤ 16 at 16 lanes, so
/// the fp32 error stays at a few ulp of the block sum), and blocks are added in double: the statistics of a
/// 40960-value SD group come out with ~1e-7 relative error, far better than a sequential fp32 sum (~1e-5). The two
/// widths add in a different order, so they agree to rounding, not bit for bit.
/// </summary>
internal static unsafe class NormStats<TO, TV> where TO : struct, IVec<TV> where TV : struct
{
    private const int Block = 1024;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Reduce(TV a0, TV a1, TV a2, TV a3) => TO.Sum(TO.Add(TO.Add(a0, a1), TO.Add(a2, a3)));

    public static double Sum(float* p, long n)
    {
        int w = TO.Count;
        double total = 0;
        long i = 0;
        while (i < n)
        {
            long end = Math.Min(n, i + Block);
            var a0 = TO.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            for (; i + 4 * w <= end; i += 4 * w)
            {
                a0 = TO.Add(a0, TO.Load(p + i)); a1 = TO.Add(a1, TO.Load(p + i + w));
                a2 = TO.Add(a2, TO.Load(p + i + 2 * w)); a3 = TO.Add(a3, TO.Load(p + i + 3 * w));
            }
            for (; i + w <= end; i += w) a0 = TO.Add(a0, TO.Load(p + i));
            double t = Reduce(a0, a1, a2, a3);
            for (; i < end; i++) t += p[i];
            total += t;
        }
        return total;
    }

    /// <summary>Σ (x − mean)² with mean rounded to fp32, like the reference's second pass.</summary>
    public static double SumSquaredDeviations(float* p, long n, float mean)
    {
        int w = TO.Count;
        double total = 0;
        var mv = TO.Splat(mean);
        long i = 0;
        while (i < n)
        {
            long end = Math.Min(n, i + Block);
            var a0 = TO.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            for (; i + 4 * w <= end; i += 4 * w)
            {
                var d0 = TO.Sub(TO.Load(p + i), mv); var d1 = TO.Sub(TO.Load(p + i + w), mv);
                var d2 = TO.Sub(TO.Load(p + i + 2 * w), mv); var d3 = TO.Sub(TO.Load(p + i + 3 * w), mv);
                a0 = TO.Fma(d0, d0, a0); a1 = TO.Fma(d1, d1, a1);
                a2 = TO.Fma(d2, d2, a2); a3 = TO.Fma(d3, d3, a3);
            }
            for (; i + w <= end; i += w) { var d = TO.Sub(TO.Load(p + i), mv); a0 = TO.Fma(d, d, a0); }
            double t = Reduce(a0, a1, a2, a3);
            for (; i < end; i++) { double d = p[i] - mean; t += d * d; }
            total += t;
        }
        return total;
    }

    /// <summary>y = (x − mean)·scale + shift over n values (one channel), with optional SiLU; y may be x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Affine(float* x, float* y, long n, float mean, float scale, float shift, bool silu)
    {
        int w = TO.Count;
        var mv = TO.Splat(mean); var sv = TO.Splat(scale); var bv = TO.Splat(shift);
        long i = 0;
        if (silu)
        {
            for (; i + w <= n; i += w)
                TO.Store(SimdMath<TO, TV>.Silu(TO.Fma(TO.Sub(TO.Load(x + i), mv), sv, bv)), y + i);
            for (; i < n; i++)
            {
                float v = (x[i] - mean) * scale + shift;
                y[i] = v / (1f + MathF.Exp(-v));
            }
        }
        else
        {
            for (; i + 2 * w <= n; i += 2 * w)
            {
                var v0 = TO.Fma(TO.Sub(TO.Load(x + i), mv), sv, bv);
                var v1 = TO.Fma(TO.Sub(TO.Load(x + i + w), mv), sv, bv);
                TO.Store(v0, y + i); TO.Store(v1, y + i + w);
            }
            for (; i + w <= n; i += w) TO.Store(TO.Fma(TO.Sub(TO.Load(x + i), mv), sv, bv), y + i);
            for (; i < n; i++) y[i] = (x[i] - mean) * scale + shift;
        }
    }
}

/// <summary>
/// CPU GroupNorm. Variants:
///  1 — the scalar reference in fp32, one thread;
///  2 — per (n, group) task: SIMD sum, SIMD Σ(x − mean)², SIMD normalise (+SiLU); a 160 KB SD group stays in L2
///      between the three passes, so DRAM sees one read and one write. Tasks go over the threads; when there are fewer
///      tasks than threads, each group's passes are split over the threads instead (default). Vector256, or Vector512
///      when the accelerator asks for it (ledger suffix "-v512"): one generic kernel for both widths.
/// </summary>
internal static unsafe class GroupNormCpu
{
    /// <summary>The ledger name; "-v512" marks the 512-bit path.</summary>
    public static string VariantName(int variant, CpuAccelerator? cpu = null) => variant switch
    {
        0 or 2 => cpu is { UseVector512: true } ? "cpu.v2-simd-l2-passes-v512" : "cpu.v2-simd-l2-passes",
        1 => "cpu.v1-reference",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "group_norm variants are 0 (default), 1 (reference), 2 (simd)"),
    };

    public static void Run(CpuAccelerator cpu, Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y, float eps, bool silu)
    {
        if (cpu.UseVector512) Run<V512, Vector512<float>>(cpu, x, groups, gamma, beta, y, eps, silu);
        else Run<V256, Vector256<float>>(cpu, x, groups, gamma, beta, y, eps, silu);
    }

    /// <summary>Variant 2 at one vector width (TO = V256 or V512).</summary>
    private static void Run<TO, TV>(CpuAccelerator cpu, Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y, float eps, bool silu)
        where TO : struct, IVec<TV> where TV : struct
    {
        int n = x.Dim(0), c = x.Dim(1), cpg = c / groups;
        long s = x.Length / ((long)n * c), m = cpg * s;
        float* px = x.F32Pointer, py = y.F32Pointer;
        float* pg = gamma is null ? null : gamma.F32Pointer, pb = beta is null ? null : beta.F32Pointer;
        int tasks = n * groups;

        if (tasks >= cpu.Threads || m < 64 * 1024)
        {
            cpu.ParallelFor(tasks, Math.Max(1, 16 * 1024 / m), (t0, t1) =>
            {
                for (long t = t0; t < t1; t++)
                {
                    long start = t * m;
                    float* gx = px + start;
                    float mean = (float)(NormStats<TO, TV>.Sum(gx, m) / m);
                    double var = NormStats<TO, TV>.SumSquaredDeviations(gx, m, mean) / m;
                    float rstd = (float)(1.0 / Math.Sqrt(var + eps));
                    int ch0 = (int)(t % groups) * cpg;
                    for (int ch = 0; ch < cpg; ch++)
                    {
                        int channel = ch0 + ch;
                        float scale = pg == null ? rstd : rstd * pg[channel];
                        float shift = pb == null ? 0f : pb[channel];
                        NormStats<TO, TV>.Affine(gx + ch * s, py + start + ch * s, s, mean, scale, shift, silu);
                    }
                }
            });
            return;
        }

        // Few big groups: split each group's three passes over the threads (partials combined in double).
        int parts = cpu.Threads;
        var partial = new double[parts];
        for (int t = 0; t < tasks; t++)
        {
            long start = (long)t * m;
            float* gx = px + start;
            cpu.ParallelTasks(parts, k => { var (b, e) = Part(m, parts, k); partial[k] = NormStats<TO, TV>.Sum(gx + b, e - b); });
            float mean = (float)(partial.Sum() / m);
            cpu.ParallelTasks(parts, k => { var (b, e) = Part(m, parts, k); partial[k] = NormStats<TO, TV>.SumSquaredDeviations(gx + b, e - b, mean); });
            float rstd = (float)(1.0 / Math.Sqrt(partial.Sum() / m + eps));
            int ch0 = (t % groups) * cpg;
            cpu.ParallelTasks(parts, k =>
            {
                var (b, e) = Part(m, parts, k);
                // The range may start and end inside a channel: walk it channel by channel.
                for (long i = b; i < e;)
                {
                    long ch = i / s, end = Math.Min(e, (ch + 1) * s);
                    int channel = ch0 + (int)ch;
                    float scale = pg == null ? rstd : rstd * pg[channel];
                    float shift = pb == null ? 0f : pb[channel];
                    NormStats<TO, TV>.Affine(gx + i, py + start + i, end - i, mean, scale, shift, silu);
                    i = end;
                }
            });
        }
    }

    /// <summary>Part k of [0, m) split in `parts` ranges at 16-float (cache line) boundaries.</summary>
    private static (long, long) Part(long m, int parts, int k)
    {
        long blocks = (m + 15) / 16;
        return (Math.Min(m, blocks * k / parts * 16), Math.Min(m, blocks * (k + 1) / parts * 16));
    }
}
