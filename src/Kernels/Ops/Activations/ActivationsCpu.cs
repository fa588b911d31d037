using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Ops;

/// <summary>
/// CPU activations. Variants:
///  1 — the scalar reference in fp32, one thread (the definition; slow);
///  2 — Vector256 with our own exp/erf/tanh (SimdMath), chunks of ≥ 32 K elements over the worker threads (default).
/// They are memory-bound at SD sizes: one read and one write per element, ~20–40 vector instructions per 8 elements.
/// </summary>
internal static unsafe class ActivationsCpu
{
    public const int DefaultVariant = 2;
    private const long Grain = 32 * 1024;

    public static string VariantName(int variant) => variant switch
    {
        0 or 2 => "2-simd-threads",
        1 => "1-reference",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "activation variants are 0 (default), 1 (reference), 2 (simd)"),
    };

    public struct SiluF : IVectorFunc
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x) => SimdMath.Silu(x);
    }

    public struct QuickGeluF : IVectorFunc
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x) => x / (Vector256<float>.One + SimdMath.ExpInRange(
            SimdMath.VMin(SimdMath.VMax(x * Vector256.Create(-1.702f), Vector256.Create(-87f)), Vector256.Create(88f))));
    }

    /// <summary>GELU = x·Φ(x) with our one-branch Φ (the reference computes x·½·(1 + erf(x/√2)): the same function).</summary>
    public struct GeluErfF : IVectorFunc
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x) => x * SimdMath.NormalCdf(x);
    }

    public struct GeluTanhF : IVectorFunc
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x)
        {
            const float c = 0.79788456080286535588f;
            var inner = x * Vector256.FusedMultiplyAdd(x * x, Vector256.Create(c * 0.044715f), Vector256.Create(c));
            var h = x * Vector256.Create(0.5f);
            return Vector256.FusedMultiplyAdd(h, SimdMath.Tanh(inner), h);
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
        ParallelChunks(cpu, x.Length, (b, e) => SimdMath.Apply<TF>(px + b, py + b, e - b));
    }

    public static Span<F32> AsF32(Tensor t) => MemoryMarshal.Cast<float, F32>(t.AsSpan());

    /// <summary>y[r, j] = a[r, j]·GELU_erf(g[r, j]) with a = x[r, :D], g = x[r, D:].</summary>
    public static void Geglu(CpuAccelerator cpu, Tensor x, Tensor y)
    {
        int d = y.Dim(-1);
        long rows = y.Length / d;
        float* px = x.F32Pointer, py = y.F32Pointer;
        cpu.ParallelFor(rows, Math.Max(1, Grain / d), (r0, r1) =>
        {
            float* buf = stackalloc float[8];
            for (long r = r0; r < r1; r++)
            {
                float* a = px + r * 2 * d, g = a + d, o = py + r * d;
                int j = 0;
                for (; j + 8 <= d; j += 8)
                    (Vector256.Load(a + j) * GeluErfF.Invoke(Vector256.Load(g + j))).Store(o + j);
                if (j < d)
                {
                    int rest = d - j;
                    for (int k = 0; k < 8; k++) buf[k] = k < rest ? g[j + k] : 0f;
                    var v = GeluErfF.Invoke(Vector256.Load(buf));
                    v.Store(buf);
                    for (int k = 0; k < rest; k++) o[j + k] = a[j + k] * buf[k];
                }
            }
        });
    }
}
