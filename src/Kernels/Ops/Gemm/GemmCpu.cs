using System.Runtime.Intrinsics.X86;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>
/// CPU gemm variants:
///  v1-scalar: the reference over F32 (the fallback where AVX2/FMA is missing);
///  v2-packed: GotoBLAS/BLIS packed panels + 6×16 Vector256 FMA micro-kernel, threads split N or M (see GemmCore);
///  v2-packed-v512: the same loop nest with the 12×32 Vector512 micro-kernel, when the accelerator takes the 512-bit path.
/// </summary>
internal static unsafe class GemmCpu
{
    public static bool PackedSupported => Fma.IsSupported && Avx2.IsSupported;

    public static string VariantName(CpuAccelerator cpu, int variant) => Resolve(variant) switch
    {
        1 => "cpu.v1-scalar",
        _ => cpu.UseVector512 ? "cpu.v2-packed-v512" : "cpu.v2-packed",
    };

    public static int Resolve(int variant) => variant switch
    {
        0 => PackedSupported ? 2 : 1,
        1 => 1,
        2 when PackedSupported => 2,
        2 => throw new NotSupportedException("gemm variant 2 needs AVX2 + FMA"),
        _ => throw new ArgumentException($"gemm: no variant {variant} (0 = default, 1 = scalar, 2 = packed)"),
    };

    public static void Run(CpuAccelerator cpu, Tensor a, Tensor b, Tensor c, GemmDims d, bool transA, bool transB,
        float alpha, float beta, int variant)
    {
        if (Resolve(variant) == 1)
        {
            var cs = c.AsSpan();
            var ref32 = new F32[cs.Length];
            for (int i = 0; i < cs.Length; i++) ref32[i] = new F32(cs[i]);
            GemmReference.Gemm<F32>(Widen(a), Widen(b), ref32, d, transA, transB, alpha, beta);
            for (int i = 0; i < cs.Length; i++) cs[i] = ref32[i].V;
            return;
        }
        float* pa = a.F32Pointer, pb = b.F32Pointer, pc = c.F32Pointer;
        int M = d.M, N = d.N, K = d.K;
        long aStride = d.ABatched ? (long)M * K : 0, bStride = d.BBatched ? (long)K * N : 0, cStride = (long)M * N;
        // op(A)(i,k) = a[i·rs + k·cs]; op(B)(k,j) likewise.
        nint rsA = transA ? 1 : K, csA = transA ? M : 1;
        nint rsB = transB ? 1 : N, csB = transB ? K : 1;
        var epi = new Epilogue(alpha, beta, null, null);
        GemmCore.Run(cpu, d.Batch, i => new GemmCore.Problem<StridedB>
        {
            M = M, N = N, K = K,
            A = pa + i * aStride, RsA = rsA, CsA = csA,
            B = new StridedB(pb + i * bStride, rsB, csB),
            C = pc + i * cStride, Ldc = N, Epi = epi,
        });
    }

    private static F32[] Widen(Tensor t)
    {
        var s = t.AsSpan();
        var r = new F32[s.Length];
        for (int i = 0; i < s.Length; i++) r[i] = new F32(s[i]);
        return r;
    }

    public static void Linear(CpuAccelerator cpu, Tensor x, Tensor w, Tensor? bias, Tensor y, LinearDims d, int variant)
    {
        if (Resolve(variant) == 1)
        {
            var ys = new F32[y.Length];
            LinearReference.Linear<F32>(Widen(x), Widen(w), bias is null ? Array.Empty<F32>() : Widen(bias), ys, d);
            var dst = y.AsSpan();
            for (int i = 0; i < ys.Length; i++) dst[i] = ys[i].V;
            return;
        }
        float* px = x.F32Pointer, pw = w.F32Pointer, py = y.F32Pointer;
        float* pbias = bias is null ? null : bias.F32Pointer;
        var epi = new Epilogue(1f, 0f, null, pbias);
        int K = d.K;
        // y = x · wᵀ: B(k, n) = w[n·K + k] is the transposed layout; the bias is added per column in the write-back.
        GemmCore.Run(cpu, 1, _ => new GemmCore.Problem<StridedB>
        {
            M = d.Rows, N = d.N, K = K,
            A = px, RsA = K, CsA = 1,
            B = new StridedB(pw, 1, K),
            C = py, Ldc = d.N, Epi = epi,
        });
    }
}
