using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Ops;

/// <summary>CPU softmax kernels.</summary>
internal static unsafe class SoftmaxCpu
{
    // variant 1: rows across threads; per row three SIMD passes (max, exp+sum, scale) with our own vector exp. A row
    // of ≤ 8 K floats stays in L1 between the passes, so DRAM sees x read once and y written once.
    public static void V1Rows(CpuAccelerator cpu, Tensor x, Tensor y)
    {
        int d = x.Dim(-1);
        long rows = x.Length / d;
        float* px = x.F32Pointer, py = y.F32Pointer;
        if (!VecExp.IsSupported)
        {
            cpu.ParallelFor(rows, 1, (r0, r1) =>
            {
                var xs = new Span<float>(px + r0 * d, (int)((r1 - r0) * d));
                var ys = new Span<float>(py + r0 * d, (int)((r1 - r0) * d));
                SoftmaxReference.Run(MemoryMarshal.Cast<float, F32>(xs),
                    MemoryMarshal.Cast<float, F32>(ys), (int)(r1 - r0), d);
            });
            return;
        }
        // ~16 K elements per chunk at least, so tiny tensors do not pay for a thread hand-off.
        long grain = Math.Max(1, 16384 / d);
        // Out of place and larger than the caches: y's lines would be read for ownership before being overwritten
        // (a third DRAM stream). Instead the exps go to an L1 scratch row and y is written with non-temporal stores.
        // Needs 32-byte aligned rows (tensors are 64-byte aligned, so d % 8 == 0).
        if (px != py && d % 8 == 0 && d <= 1 << 16 && x.Bytes >= 16L << 20)
        {
            cpu.ParallelFor(rows, grain, (r0, r1) =>
            {
                float* scratch = (float*)NativeMemory.AlignedAlloc((nuint)d * 4, 64);
                try { for (long r = r0; r < r1; r++) RowStream(px + r * d, py + r * d, d, scratch); }
                finally { NativeMemory.AlignedFree(scratch); }
                Sse.StoreFence();  // make the weakly ordered streaming stores visible before the launch returns
            });
            return;
        }
        cpu.ParallelFor(rows, grain, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++) Row(px + r * d, py + r * d, d);
        });
    }

    /// <summary>Softmax of one row of n ≥ 1 floats; y may equal x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row(float* x, float* y, int n)
    {
        int j = 0;
        float m;
        if (n >= 16)
        {
            var m0 = Avx.LoadVector256(x); var m1 = Avx.LoadVector256(x + 8);
            for (j = 16; j + 16 <= n; j += 16)
            {
                m0 = Avx.Max(m0, Avx.LoadVector256(x + j));
                m1 = Avx.Max(m1, Avx.LoadVector256(x + j + 8));
            }
            m = HMax(Avx.Max(m0, m1));
        }
        else m = x[0];
        for (; j < n; j++) m = MathF.Max(m, x[j]);

        var vm = Vector256.Create(m);
        // One vector per iteration: the exp's ten constants plus data fit the 16 ymm registers without spills;
        // out-of-order execution overlaps the independent iterations anyway.
        var s0 = Vector256<float>.Zero;
        for (j = 0; j + 8 <= n; j += 8)
        {
            var e0 = VecExp.Exp(Avx.Subtract(Avx.LoadVector256(x + j), vm));
            Avx.Store(y + j, e0);
            s0 = Avx.Add(s0, e0);
        }
        float sum = HSum(s0);
        for (; j < n; j++) { float e = VecExp.Exp(x[j] - m); y[j] = e; sum += e; }

        var inv = Vector256.Create(1f / sum);
        for (j = 0; j + 8 <= n; j += 8) Avx.Store(y + j, Avx.Multiply(Avx.LoadVector256(y + j), inv));
        float invs = 1f / sum;
        for (; j < n; j++) y[j] *= invs;
    }

    // Row() with the exps kept in an L1 scratch row and y (32-byte aligned, n % 8 == 0) written by streaming stores.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowStream(float* x, float* y, int n, float* scratch)
    {
        var m0 = Avx.LoadVector256(x);
        var m1 = m0;
        int j = 8;
        for (; j + 16 <= n; j += 16)
        {
            m0 = Avx.Max(m0, Avx.LoadVector256(x + j));
            m1 = Avx.Max(m1, Avx.LoadVector256(x + j + 8));
        }
        for (; j < n; j += 8) m0 = Avx.Max(m0, Avx.LoadVector256(x + j));
        var vm = Vector256.Create(HMax(Avx.Max(m0, m1)));
        var s0 = Vector256<float>.Zero;
        for (j = 0; j < n; j += 8)
        {
            var e0 = VecExp.Exp(Avx.Subtract(Avx.LoadVector256(x + j), vm));
            Avx.Store(scratch + j, e0);
            s0 = Avx.Add(s0, e0);
        }
        var inv = Vector256.Create(1f / HSum(s0));
        for (j = 0; j < n; j += 8) Avx.StoreAlignedNonTemporal(y + j, Avx.Multiply(Avx.LoadVector256(scratch + j), inv));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float HSum(Vector256<float> v)
    {
        var s = Sse.Add(v.GetLower(), v.GetUpper());
        s = Sse.Add(s, Sse.MoveHighToLow(s, s));
        s = Sse.AddScalar(s, Sse.Shuffle(s, s, 0b01));
        return s.ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float HMax(Vector256<float> v)
    {
        var s = Sse.Max(v.GetLower(), v.GetUpper());
        s = Sse.Max(s, Sse.MoveHighToLow(s, s));
        s = Sse.MaxScalar(s, Sse.Shuffle(s, s, 0b01));
        return s.ToScalar();
    }
}
