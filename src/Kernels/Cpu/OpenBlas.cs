using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace PixelCost.Kernels.Cpu;

/// <summary>
/// OpenBLAS cblas_sgemm: the yardstick our GEMM is measured against. Loaded by its versioned names
/// (libopenblas.so.0 from Debian's libopenblas0-pthread, then the libblas.so.3 alternative, which Debian points at
/// OpenBLAS when it is installed); .NET's default probing never tries ".so.0".
/// The entry points are bound as unmanaged function pointers from <see cref="NativeLibrary.TryLoad(string, out nint)"/>
/// rather than [LibraryImport] + SetDllImportResolver: a resolver can be set only once per assembly, and this
/// assembly will also host the CUDA driver/NVRTC imports, whose resolver must not collide with ours.
/// Threads: OpenBLAS starts with one thread per core, as <see cref="CpuAccelerator"/>(0) does; call
/// <see cref="SetThreads"/> with the accelerator's thread count whenever they may differ, so the comparison is fair.
/// </summary>
public static unsafe class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    private static readonly Lazy<(nint Handle, string? Why, string? Name)> s_lib = new(Load);
    private static delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> s_sgemm;
    private static delegate* unmanaged[Cdecl]<int, void> s_setThreads;

    private static readonly string[] Names =
        ["libopenblas.so.0", "libopenblas.so", "/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "libblas.so.3", "openblas"];

    private static (nint, string?, string?) Load()
    {
        var tried = new List<string>();
        foreach (var name in Names)
        {
            if (!NativeLibrary.TryLoad(name, out nint h)) { tried.Add($"{name}: not found"); continue; }
            if (!NativeLibrary.TryGetExport(h, "cblas_sgemm", out nint f)) { tried.Add($"{name}: no cblas_sgemm"); continue; }
            s_sgemm = (delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)f;
            if (NativeLibrary.TryGetExport(h, "openblas_set_num_threads", out nint t))
                s_setThreads = (delegate* unmanaged[Cdecl]<int, void>)t;
            return (h, null, name);
        }
        return (0, "OpenBLAS not loadable (" + string.Join("; ", tried) + "); install libopenblas0-pthread", null);
    }

    /// <summary>Null when libopenblas can be loaded; otherwise why not.</summary>
    public static string? Unavailable => s_lib.Value.Why;

    /// <summary>The library name that was loaded (null when none).</summary>
    public static string? LibraryName => s_lib.Value.Name;

    /// <summary>
    /// Sets OpenBLAS's thread count (openblas_set_num_threads). Returns false when the loaded BLAS has no such call
    /// (a non-OpenBLAS libblas.so.3), in which case the comparison may not be like for like.
    /// </summary>
    public static bool SetThreads(int threads)
    {
        if (Unavailable is { } why) throw new InvalidOperationException(why);
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be ≥ 1");
        if (s_setThreads == null) return false;
        s_setThreads(threads);
        return true;
    }

    // OpenBLAS core names (DYNAMIC_ARCH, OPENBLAS_CORETYPE) by the widest instruction set their kernels use:
    // 1 = SSE2/SSE3, 2 = AVX (or AMD's FMA4/early FMA3 cores without AVX2), 3 = AVX2 + FMA, 4 = AVX-512, 5 = AVX-512 BF16/AMX.
    private static readonly Dictionary<string, int> CoreTier = new(StringComparer.OrdinalIgnoreCase)
    {
        ["katmai"] = 1, ["coppermine"] = 1, ["northwood"] = 1, ["prescott"] = 1, ["banias"] = 1, ["yonah"] = 1,
        ["core2"] = 1, ["penryn"] = 1, ["dunnington"] = 1, ["nehalem"] = 1, ["atom"] = 1, ["athlon"] = 1,
        ["opteron"] = 1, ["opteron_sse3"] = 1, ["barcelona"] = 1, ["bobcat"] = 1, ["nano"] = 1,
        ["sandybridge"] = 2, ["bulldozer"] = 2, ["piledriver"] = 2, ["steamroller"] = 2, ["excavator"] = 2,
        ["haswell"] = 3, ["zen"] = 3, ["skylake"] = 3,
        ["skylakex"] = 4, ["cooperlake"] = 4,
        ["sapphirerapids"] = 5,
    };

    /// <summary>The tier this CPU can run (same scale as the table above).</summary>
    private static int CpuTier() =>
        Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512Vbmi.IsSupported && AvxVnni.IsSupported ? 5
        : Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported ? 4
        : Avx2.IsSupported && Fma.IsSupported ? 3
        : Avx.IsSupported ? 2
        : 1;

    /// <summary>
    /// A warning when OPENBLAS_CORETYPE forces a core whose kernels are weaker than this CPU could run (the yardstick
    /// would be handicapped, e.g. Sandybridge on an AVX2 machine, or Haswell on an AVX-512 one), when it names a core
    /// this CPU cannot execute (SkylakeX here, with no AVX-512: OpenBLAS would fault on an illegal instruction), or
    /// when the name is unknown. Null when unset or matched to the CPU (Haswell/Zen on this AVX2-only Zen 3 is right).
    /// </summary>
    public static string? CoreTypeWarning() => CoreTypeWarning(Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE"), CpuTier());

    internal static string? CoreTypeWarning(string? coreType, int cpuTier)
    {
        if (string.IsNullOrWhiteSpace(coreType)) return null;
        if (!CoreTier.TryGetValue(coreType.Trim(), out int tier))
            return $"OPENBLAS_CORETYPE={coreType} is not a core OpenBLAS knows; the yardstick may run a generic kernel";
        if (tier > cpuTier)
            return $"OPENBLAS_CORETYPE={coreType} needs instructions this CPU lacks; OpenBLAS may crash or fall back";
        if (tier < cpuTier)
            return $"OPENBLAS_CORETYPE={coreType} forces kernels weaker than this CPU supports; OpenBLAS figures understate it";
        return null;
    }

    /// <summary>Same contract as Ops.Gemm (rank-2 or batched rank-3), computed by OpenBLAS; not recorded in a ledger.</summary>
    public static void Gemm(Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false, float alpha = 1f, float beta = 0f)
    {
        if (Unavailable is { } why) throw new InvalidOperationException(why);
        var d = GemmSpec.Validate(a.Shape, b.Shape, c.Shape, transA, transB);
        foreach (var t in new[] { a, b, c })
            if (t.DType != DType.F32) throw new ArgumentException($"openblas gemm: operands must be F32 (got {t.DType})");
        int M = d.M, N = d.N, K = d.K;
        long aStride = d.ABatched ? (long)M * K : 0, bStride = d.BBatched ? (long)K * N : 0, cStride = (long)M * N;
        int lda = transA ? M : K, ldb = transB ? K : N;
        float* pa = a.F32Pointer, pb = b.F32Pointer, pc = c.F32Pointer;
        for (int i = 0; i < d.Batch; i++)
            s_sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, M, N, K, alpha,
                pa + i * aStride, lda, pb + i * bStride, ldb, beta, pc + i * cStride, N);
    }
}
