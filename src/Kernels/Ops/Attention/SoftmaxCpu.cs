using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>CPU softmax kernels.</summary>
internal static unsafe class SoftmaxCpu
{
    // variant 1: rows across threads; per row three SIMD passes (max, exp+sum, scale) with our own vector exp. A row
    // of ≤ 8 K floats stays in L1 between the passes, so DRAM sees x read once and y written once.
    // Path: 512-bit (cross-platform Vector512) when cpu.UseVector512, else 256-bit AVX2 + FMA, else the scalar reference.
    public static void V1Rows(CpuAccelerator cpu, Tensor x, Tensor y)
    {
        if (cpu.UseVector512) { V1Rows<V512, Vector512<float>>(cpu, x, y); return; }
        if (SimdMath.Avx2FmaSupported) { V1Rows<V256, Vector256<float>>(cpu, x, y); return; }
        int d = x.Dim(-1);
        long rows = x.Length / d;
        float* px = x.F32Pointer, py = y.F32Pointer;
        cpu.ParallelFor(rows, 1, (r0, r1) =>
        {
            var xs = new Span<float>(px + r0 * d, (int)((r1 - r0) * d));
            var ys = new Span<float>(py + r0 * d, (int)((r1 - r0) * d));
            SoftmaxReference.Run(MemoryMarshal.Cast<float, F32>(xs), MemoryMarshal.Cast<float, F32>(ys), (int)(r1 - r0), d);
        });
    }

    /// <summary>The ledger's variant name: the 512-bit path adds "-v512" (the 256-bit name is unchanged from round 1).</summary>
    public static string V1Name(CpuAccelerator? cpu) => cpu is { UseVector512: true } ? "cpu.v1-simd-rows-v512" : "cpu.v1-simd-rows";

    private static void V1Rows<V, TV>(CpuAccelerator cpu, Tensor x, Tensor y) where V : struct, IVec<TV> where TV : struct
    {
        int d = x.Dim(-1);
        long rows = x.Length / d;
        float* px = x.F32Pointer, py = y.F32Pointer;
        // ~16 K elements per chunk at least, so tiny tensors do not pay for a thread hand-off.
        long grain = Math.Max(1, 16384 / d);
        // Out of place and larger than the caches: y's lines would be read for ownership before being overwritten
        // (a third DRAM stream). Instead the exps go to an L1 scratch row and y is written with non-temporal stores.
        // Needs vector-aligned rows (tensors are 64-byte aligned, so d a multiple of the lane count).
        if (px != py && d % V.Count == 0 && d <= 1 << 16 && x.Bytes >= 16L << 20)
        {
            cpu.ParallelFor(rows, grain, (r0, r1) =>
            {
                float* scratch = (float*)NativeMemory.AlignedAlloc((nuint)d * 4, 64);
                try { for (long r = r0; r < r1; r++) RowStream<V, TV>(px + r * d, py + r * d, d, scratch); }
                finally { NativeMemory.AlignedFree(scratch); }
                V.StoreFence();  // make the weakly ordered streaming stores visible before the launch returns
            });
            return;
        }
        cpu.ParallelFor(rows, grain, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++) Row<V, TV>(px + r * d, py + r * d, d);
        });
    }

    /// <summary>Softmax of one row of n ≥ 1 floats; y may equal x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row<V, TV>(float* x, float* y, int n) where V : struct, IVec<TV> where TV : struct
    {
        int w = V.Count, j = 0;
        float m;
        if (n >= 2 * w)
        {
            var m0 = V.Load(x); var m1 = V.Load(x + w);
            for (j = 2 * w; j + 2 * w <= n; j += 2 * w)
            {
                m0 = V.Max(m0, V.Load(x + j));
                m1 = V.Max(m1, V.Load(x + j + w));
            }
            m = V.HMax(V.Max(m0, m1));
        }
        else m = x[0];
        for (; j < n; j++) m = MathF.Max(m, x[j]);

        var vm = V.Splat(m);
        // One vector per iteration: the exp's ten constants plus data fit the 16 ymm registers without spills;
        // out-of-order execution overlaps the independent iterations anyway.
        var s0 = V.Zero;
        for (j = 0; j + w <= n; j += w)
        {
            var e0 = SimdMath<V, TV>.ExpFlush(V.Sub(V.Load(x + j), vm));
            V.Store(e0, y + j);
            s0 = V.Add(s0, e0);
        }
        float sum = V.HSum(s0);
        for (; j < n; j++) { float e = SimdMath.ExpFlush(x[j] - m); y[j] = e; sum += e; }

        var inv = V.Splat(1f / sum);
        for (j = 0; j + w <= n; j += w) V.Store(V.Mul(V.Load(y + j), inv), y + j);
        float invs = 1f / sum;
        for (; j < n; j++) y[j] *= invs;
    }

    // Row() with the exps kept in an L1 scratch row and y (vector aligned, n a multiple of the lane count) written by
    // streaming stores.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowStream<V, TV>(float* x, float* y, int n, float* scratch) where V : struct, IVec<TV> where TV : struct
    {
        int w = V.Count;
        var m0 = V.Load(x);
        var m1 = m0;
        int j = w;
        for (; j + 2 * w <= n; j += 2 * w)
        {
            m0 = V.Max(m0, V.Load(x + j));
            m1 = V.Max(m1, V.Load(x + j + w));
        }
        for (; j < n; j += w) m0 = V.Max(m0, V.Load(x + j));
        var vm = V.Splat(V.HMax(V.Max(m0, m1)));
        var s0 = V.Zero;
        for (j = 0; j < n; j += w)
        {
            var e0 = SimdMath<V, TV>.ExpFlush(V.Sub(V.Load(x + j), vm));
            V.Store(e0, scratch + j);
            s0 = V.Add(s0, e0);
        }
        var inv = V.Splat(1f / V.HSum(s0));
        for (j = 0; j < n; j += w) V.StoreStream(V.Mul(V.Load(scratch + j), inv), y + j);
    }
}
