using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>
/// CPU activations. Variants:
///  1 — the scalar reference in fp32, one thread (the definition; slow);
///  2 — SIMD with our own exp/erf/tanh (SimdMath), chunks of ≥ 32 K elements over the worker threads (default);
///      Vector256, or Vector512 when the accelerator asks for it (ledger suffix "-v512"): one generic kernel for both.
/// They are memory-bound at SD sizes: one read and one write per element, ~20–40 vector instructions per 8 elements.
/// </summary>
internal static unsafe class ActivationsCpu
{
    public const int DefaultVariant = 2;
    private const long Grain = 32 * 1024;

    /// <summary>The ledger name; "-v512" marks the 512-bit path (see <see cref="CpuAccelerator.UseVector512"/>).</summary>
    public static string VariantName(int variant, CpuAccelerator? cpu = null) => variant switch
    {
        0 or 2 => cpu is { UseVector512: true } ? "cpu.v2-simd-threads-v512" : "cpu.v2-simd-threads",
        1 => "cpu.v1-reference",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "activation variants are 0 (default), 1 (reference), 2 (simd)"),
    };

    public struct SiluF : IVectorFunc
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TO, TV>(TV x) where TO : struct, IVec<TV> where TV : struct => SimdMath<TO, TV>.Silu(x);
    }

    public struct QuickGeluF : IVectorFunc
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TO, TV>(TV x) where TO : struct, IVec<TV> where TV : struct => SimdMath<TO, TV>.QuickGelu(x);
    }

    /// <summary>GELU = x·Φ(x) with our one-branch Φ (the reference computes x·½·(1 + erf(x/√2)): the same function).</summary>
    public struct GeluErfF : IVectorFunc
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TO, TV>(TV x) where TO : struct, IVec<TV> where TV : struct => TO.Mul(x, SimdMath<TO, TV>.NormalCdf(x));
    }

    public struct GeluTanhF : IVectorFunc
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TO, TV>(TV x) where TO : struct, IVec<TV> where TV : struct
        {
            const float c = 0.79788456080286535588f;
            var inner = TO.Mul(x, TO.Fma(TO.Mul(x, x), TO.Splat(c * 0.044715f), TO.Splat(c)));
            var h = TO.Mul(x, TO.Splat(0.5f));
            return TO.Fma(h, SimdMath<TO, TV>.Tanh(inner), h);
        }
    }

    /// <summary>Splits n elements over the threads at 16-float (cache line) boundaries.</summary>
    public static void ParallelChunks(CpuAccelerator cpu, long n, Action<long, long> body)
    {
        long blocks = (n + 15) / 16;
        cpu.ParallelFor(blocks, Grain / 16, (b, e) => body(b * 16, Math.Min(n, e * 16)));
    }

    public static void Unary<TF>(CpuAccelerator cpu, Tensor x, Tensor y) where TF : struct, IVectorFunc
    {
        float* px = x.F32Pointer, py = y.F32Pointer;
        bool wide = cpu.UseVector512;
        ParallelChunks(cpu, x.Length, (b, e) => SimdMath.Apply<TF>(px + b, py + b, e - b, wide));
    }

    public static Span<F32> AsF32(Tensor t) => MemoryMarshal.Cast<float, F32>(t.AsSpan());

    /// <summary>y[r, j] = a[r, j]·GELU_erf(g[r, j]) with a = x[r, :D], g = x[r, D:].</summary>
    public static void Geglu(CpuAccelerator cpu, Tensor x, Tensor y)
    {
        if (cpu.UseVector512) Geglu<V512, Vector512<float>>(cpu, x, y);
        else Geglu<V256, Vector256<float>>(cpu, x, y);
    }

    private static void Geglu<TO, TV>(CpuAccelerator cpu, Tensor x, Tensor y) where TO : struct, IVec<TV> where TV : struct
    {
        int d = y.Dim(-1), w = TO.Count;
        long rows = y.Length / d;
        float* px = x.F32Pointer, py = y.F32Pointer;
        cpu.ParallelFor(rows, Math.Max(1, Grain / d), (r0, r1) =>
        {
            float* buf = stackalloc float[16];
            for (long r = r0; r < r1; r++)
            {
                float* a = px + r * 2 * d, g = a + d, o = py + r * d;
                int j = 0;
                for (; j + w <= d; j += w)
                    TO.Store(TO.Mul(TO.Load(a + j), GeluErfF.Invoke<TO, TV>(TO.Load(g + j))), o + j);
                if (j < d)
                {
                    int rest = d - j;
                    for (int k = 0; k < w; k++) buf[k] = k < rest ? g[j + k] : 0f;
                    TO.Store(GeluErfF.Invoke<TO, TV>(TO.Load(buf)), buf);
                    for (int k = 0; k < rest; k++) o[j + k] = a[j + k] * buf[k];
                }
            }
        });
    }
}
