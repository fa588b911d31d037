using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels;

/// <summary>
/// CPU glue kernels. Variants: 1 — the scalar reference (fp32); 2 — TensorPrimitives/SIMD loops or block copies over
/// the worker threads (default). All are pure streaming: the only goal is to run at memory bandwidth.
/// The 256-bit path uses TensorPrimitives (which picks its own width from the hardware) and AVX for the upsample; when
/// the accelerator asks for Vector512 (ledger suffix "-v512") add/scale/bias run our own Vector512 loops (V512 ops) and
/// the upsample a cross-platform Vector512.Shuffle, so that path is chosen and testable like the others.
/// </summary>
internal static unsafe class GlueCpu
{
    private const long Grain = 32 * 1024;

    /// <summary>y = a + b (bv == null: y = a + s·1, scalar s) over n floats; any of them may alias.</summary>
    private static void Add512(float* a, float* b, float s, float* y, long n)
    {
        long i = 0;
        var sv = V512.Splat(s);
        for (; i + 16 <= n; i += 16) V512.Store(V512.Add(V512.Load(a + i), b == null ? sv : V512.Load(b + i)), y + i);
        for (; i < n; i++) y[i] = a[i] + (b == null ? s : b[i]);
    }

    private static void Scale512(float* x, float s, float* y, long n)
    {
        long i = 0;
        var sv = V512.Splat(s);
        for (; i + 16 <= n; i += 16) V512.Store(V512.Mul(V512.Load(x + i), sv), y + i);
        for (; i < n; i++) y[i] = x[i] * s;
    }

    public static void Add(CpuAccelerator cpu, Tensor a, Tensor b, Tensor y)
    {
        float* pa = a.F32Pointer, pb = b.F32Pointer, py = y.F32Pointer;
        if (cpu.UseVector512) { ActivationsCpu.ParallelChunks(cpu, y.Length, (s, e) => Add512(pa + s, pb + s, 0f, py + s, e - s)); return; }
        ActivationsCpu.ParallelChunks(cpu, y.Length, (s, e) =>
            TensorPrimitives.Add(new ReadOnlySpan<float>(pa + s, (int)(e - s)), new ReadOnlySpan<float>(pb + s, (int)(e - s)),
                new Span<float>(py + s, (int)(e - s))));
    }

    public static void Scale(CpuAccelerator cpu, Tensor x, float s, Tensor y)
    {
        float* px = x.F32Pointer, py = y.F32Pointer;
        if (cpu.UseVector512) { ActivationsCpu.ParallelChunks(cpu, y.Length, (b, e) => Scale512(px + b, s, py + b, e - b)); return; }
        ActivationsCpu.ParallelChunks(cpu, y.Length, (b, e) =>
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(px + b, (int)(e - b)), s, new Span<float>(py + b, (int)(e - b))));
    }

    /// <summary>Over planes (n, c): each is a span of S floats plus one scalar; chunks of ≥ 32 K floats per thread.</summary>
    public static void AddChannelBias(CpuAccelerator cpu, Tensor x, Tensor b, Tensor y)
    {
        long planes = (long)x.Dim(0) * x.Dim(1);
        int s = (int)(x.Length / planes);
        float* px = x.F32Pointer, pb = b.F32Pointer, py = y.F32Pointer;
        bool wide = cpu.UseVector512;
        cpu.ParallelFor(planes, Math.Max(1, Grain / s), (p0, p1) =>
        {
            if (wide)
            {
                if (s == 1) Add512(px + p0, pb + p0, 0f, py + p0, p1 - p0);
                else for (long p = p0; p < p1; p++) Add512(px + p * s, null, pb[p], py + p * s, s);
                return;
            }
            if (s == 1)
            {
                TensorPrimitives.Add(new ReadOnlySpan<float>(px + p0, (int)(p1 - p0)), new ReadOnlySpan<float>(pb + p0, (int)(p1 - p0)),
                    new Span<float>(py + p0, (int)(p1 - p0)));
                return;
            }
            for (long p = p0; p < p1; p++)
                TensorPrimitives.Add(new ReadOnlySpan<float>(px + p * s, s), pb[p], new Span<float>(py + p * s, s));
        });
    }

    /// <summary>y is N blocks of [a_n (Ca·S floats), b_n (Cb·S floats)]: copy by output ranges split over threads.</summary>
    public static void Concat(CpuAccelerator cpu, Tensor a, Tensor b, Tensor y)
    {
        int n = a.Dim(0);
        long sa = a.Length / n, sb = b.Length / n, sy = sa + sb;
        float* pa = a.F32Pointer, pb = b.F32Pointer, py = y.F32Pointer;
        ActivationsCpu.ParallelChunks(cpu, y.Length, (begin, end) =>
        {
            long i = begin;
            while (i < end)
            {
                long blk = i / sy, off = i % sy;
                float* src; long len;
                if (off < sa) { src = pa + blk * sa + off; len = Math.Min(sa - off, end - i); }
                else { src = pb + blk * sb + (off - sa); len = Math.Min(sy - off, end - i); }
                Buffer.MemoryCopy(src, py + i, len * 4, len * 4);
                i += len;
            }
        });
    }

    /// <summary>One input row of W floats becomes two identical output rows of 2W (each value written twice in a row).</summary>
    public static void Upsample(CpuAccelerator cpu, Tensor x, Tensor y)
    {
        int w = x.Dim(3);
        long rows = x.Length / w;
        float* px = x.F32Pointer, py = y.F32Pointer;
        bool wide = cpu.UseVector512;
        cpu.ParallelFor(rows, Math.Max(1, Grain / w), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* src = px + r * w, d0 = py + r * 4 * w, d1 = d0 + 2 * w;
                int j = 0;
                if (wide)
                {
                    // Cross-platform lane permutes (vpermps on AVX-512) instead of AVX's in-lane unpacks + 128-bit permutes.
                    var lo = Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
                    var hi = Vector512.Create(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
                    for (; j + 16 <= w; j += 16)
                    {
                        var v = Vector512.Load(src + j);
                        var first = Vector512.Shuffle(v, lo);
                        var second = Vector512.Shuffle(v, hi);
                        first.Store(d0 + 2 * j); second.Store(d0 + 2 * j + 16);
                        first.Store(d1 + 2 * j); second.Store(d1 + 2 * j + 16);
                    }
                }
                else if (Avx.IsSupported)
                {
                    for (; j + 8 <= w; j += 8)
                    {
                        var v = Avx.LoadVector256(src + j);
                        var lo = Avx.UnpackLow(v, v);   // x0 x0 x1 x1 | x4 x4 x5 x5
                        var hi = Avx.UnpackHigh(v, v);  // x2 x2 x3 x3 | x6 x6 x7 x7
                        var first = Avx.Permute2x128(lo, hi, 0x20);
                        var second = Avx.Permute2x128(lo, hi, 0x31);
                        first.Store(d0 + 2 * j); second.Store(d0 + 2 * j + 8);
                        first.Store(d1 + 2 * j); second.Store(d1 + 2 * j + 8);
                    }
                }
                for (; j < w; j++)
                {
                    float v = src[j];
                    d0[2 * j] = v; d0[2 * j + 1] = v; d1[2 * j] = v; d1[2 * j + 1] = v;
                }
            }
        });
    }

    /// <summary>The reference's fp32 arithmetic without the generic wrapper; the embedding is tiny (N·dim).</summary>
    public static void Timestep(Tensor t, Tensor y, bool flip, float shift, float maxPeriod)
    {
        var ts = t.AsSpan();
        var ys = y.AsSpan();
        int dim = y.Dim(1), half = dim / 2;
        Span<float> freq = half <= 4096 ? stackalloc float[half] : new float[half];
        float negLog = (float)-Math.Log(maxPeriod), denom = (float)(half - (double)shift);
        for (int i = 0; i < half; i++) freq[i] = MathF.Exp(i * negLog / denom);
        for (int b = 0; b < ts.Length; b++)
        {
            var row = ys.Slice(b * dim, dim);
            var first = row[..half];
            var second = row.Slice(half, half);
            for (int i = 0; i < half; i++)
            {
                float arg = ts[b] * freq[i];
                float s = MathF.Sin(arg), c = MathF.Cos(arg);
                first[i] = flip ? c : s;
                second[i] = flip ? s : c;
            }
            if ((dim & 1) == 1) row[dim - 1] = 0f;
        }
    }
}
