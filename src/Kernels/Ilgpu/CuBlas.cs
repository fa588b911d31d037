using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>A cuBLAS call that failed: the message names the call and cuBLAS's status string.</summary>
public sealed class CuBlasCallException(string call, int status, string text)
    : Exception($"{call} failed: {text} (cublasStatus_t {status})")
{
    public string Call { get; } = call;
    public int Status { get; } = status;
}

/// <summary>cublasOperation_t.</summary>
public enum CuBlasOp
{
    N = 0,
    T = 1,
}

/// <summary>The column-major arguments of one cuBLAS GEMM call (before data pointers): C' = op(A')·op(B') with
/// C' m×n, A' the first operand, B' the second.</summary>
/// <param name="FirstIsB">True: the first operand passed to cuBLAS is the caller's B (and the second its A).</param>
public readonly record struct CuBlasGemmArgs(CuBlasOp TransA, CuBlasOp TransB, int M, int N, int K, bool FirstIsB, int Lda, int Ldb, int Ldc);

/// <summary>
/// Our own bindings to the cuBLAS entry points we need (cublas_api.h), loaded from <c>libcublas.so.13</c> or
/// <c>.12</c> through <see cref="NativeLibraries"/> on the first call, never at type load. GPU-only (every call
/// needs a CUDA context); without the library only <see cref="IsAvailable"/> and <see cref="RowMajorGemm"/> work.
/// </summary>
public static unsafe partial class CuBlasNative
{
    private const string Lib = "cublas";

    public const int Success = 0;

    // cudaDataType_t (library_types.h)
    internal const int CudaR32F = 0;
    internal const int CudaR16F = 2;

    // cublasComputeType_t: CUBLAS_COMPUTE_32F = 68 (fp32 accumulate; fp16 inputs may use tensor cores)
    internal const int Compute32F = 68;

    // cublasGemmAlgo_t: CUBLAS_GEMM_DEFAULT_TENSOR_OP = 99 (deprecated alias of DEFAULT since CUDA 11, still accepted)
    internal const int GemmDefaultTensorOp = 99;

    [LibraryImport(Lib)] private static partial int cublasCreate_v2(nint* handle);
    [LibraryImport(Lib)] private static partial int cublasDestroy_v2(nint handle);
    [LibraryImport(Lib)] private static partial int cublasSetStream_v2(nint handle, nint stream);
    [LibraryImport(Lib)] private static partial nint cublasGetStatusString(int status);

    [LibraryImport(Lib)]
    private static partial int cublasSgemm_v2(nint handle, int transa, int transb, int m, int n, int k,
        float* alpha, nint a, int lda, nint b, int ldb, float* beta, nint c, int ldc);

    [LibraryImport(Lib)]
    private static partial int cublasGemmEx(nint handle, int transa, int transb, int m, int n, int k,
        void* alpha, nint a, int aType, int lda, nint b, int bType, int ldb,
        void* beta, nint c, int cType, int ldc, int computeType, int algo);

    /// <summary>Whether libcublas loads and has the entry points used here; otherwise why not.</summary>
    public static bool IsAvailable(out string? reason)
    {
        NativeLibraries.Register();
        if (!NativeLibraries.TryLoad(Lib, out nint h, out reason)) return false;
        foreach (string f in (string[])["cublasCreate_v2", "cublasGemmEx", "cublasSgemm_v2", "cublasGetStatusString"])
        {
            if (!NativeLibrary.TryGetExport(h, f, out _))
            {
                reason = $"cuBLAS has no {f}";
                return false;
            }
        }
        return true;
    }

    public static string StatusString(int status)
    {
        try
        {
            return Marshal.PtrToStringUTF8(cublasGetStatusString(status)) ?? $"status {status}";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return $"status {status}";
        }
    }

    /// <summary>The one check every call goes through (DESIGN §7.10).</summary>
    public static void Check(int status, string call)
    {
        if (status != Success) throw new CuBlasCallException(call, status, StatusString(status));
    }

    /// <summary>
    /// Maps row-major C[m×n] = op(A)·op(B) (op(A) m×k, op(B) k×n; A stored k×m when <paramref name="transA"/>, B
    /// stored n×k when <paramref name="transB"/>; all dense) onto cuBLAS's column-major GEMM.
    /// </summary>
    /// <remarks>
    /// cuBLAS reads a matrix column by column. A dense row-major r×c matrix, read column-major with leading dimension
    /// c, is its c×r transpose — no copy needed. So we ask cuBLAS for Cᵀ (n×m, ld n) = op(B)ᵀ·op(A)ᵀ: the operands
    /// swap places and m/n swap. Stored B (k×n row-major) reads as Bᵀ (n×k, ld n): op N. A transposed B is stored
    /// n×k, reads as B (k×n, ld k), and we need its transpose: op T. Likewise A: stored m×k reads as Aᵀ (ld k), op N;
    /// stored k×m reads as A (ld m), op T.
    /// </remarks>
    public static CuBlasGemmArgs RowMajorGemm(int m, int n, int k, bool transA = false, bool transB = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        // cuBLAS requires every leading dimension ≥ 1 even for empty matrices.
        return new CuBlasGemmArgs(
            TransA: transB ? CuBlasOp.T : CuBlasOp.N,
            TransB: transA ? CuBlasOp.T : CuBlasOp.N,
            M: n, N: m, K: k, FirstIsB: true,
            Lda: Math.Max(1, transB ? k : n),
            Ldb: Math.Max(1, transA ? m : k),
            Ldc: Math.Max(1, n));
    }

    internal static int CreateHandle(out nint handle)
    {
        nint h;
        int s = cublasCreate_v2(&h);
        handle = h;
        return s;
    }

    internal static int DestroyHandle(nint handle) => cublasDestroy_v2(handle);

    internal static int SetStream(nint handle, nint stream) => cublasSetStream_v2(handle, stream);

    internal static int Sgemm(nint handle, in CuBlasGemmArgs g, float alpha, nint first, nint second, float beta, nint c) =>
        cublasSgemm_v2(handle, (int)g.TransA, (int)g.TransB, g.M, g.N, g.K, &alpha, first, g.Lda, second, g.Ldb, &beta, c, g.Ldc);

    internal static int GemmF16F32(nint handle, in CuBlasGemmArgs g, float alpha, nint first, nint second, float beta, nint c) =>
        // Compute type 32F takes float alpha/beta (host pointers: the default CUBLAS_POINTER_MODE_HOST).
        cublasGemmEx(handle, (int)g.TransA, (int)g.TransB, g.M, g.N, g.K, &alpha, first, CudaR16F, g.Lda,
            second, CudaR16F, g.Ldb, &beta, c, CudaR32F, g.Ldc, Compute32F, GemmDefaultTensorOp);
}

/// <summary>
/// A cuBLAS handle created in a <see cref="CudaAccelerator"/>'s context. GPU-only. Calls enqueue on the given ILGPU
/// stream and never synchronise, like our kernels. Not thread-safe (one handle per thread/stream, as cuBLAS advises).
/// </summary>
public sealed class CuBlasHandle : IDisposable
{
    private nint _handle;
    private nint _stream = -1;

    /// <exception cref="CuBlasCallException">cublasCreate_v2 failed (or the library is missing: DllNotFoundException;
    /// check <see cref="CuBlasNative.IsAvailable"/> first).</exception>
    public CuBlasHandle(CudaAccelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        Accelerator = accelerator;
        // cuBLAS binds the handle to the CUDA context current on this thread.
        using (accelerator.BindScoped())
            CuBlasNative.Check(CuBlasNative.CreateHandle(out _handle), "cublasCreate_v2");
    }

    public CudaAccelerator Accelerator { get; }

    /// <summary>Row-major C[m×n] = alpha·op(A)·op(B) + beta·C with fp16 A, B and fp32 C, fp32 accumulation (tensor
    /// cores where cuBLAS chooses them). Shapes as <see cref="CuBlasNative.RowMajorGemm"/>; the views are dense.</summary>
    public void GemmF16(CudaStream stream, ArrayView<ILGPU.Half> a, ArrayView<ILGPU.Half> b, ArrayView<float> c,
        int m, int n, int k, bool transA = false, bool transB = false, float alpha = 1, float beta = 0)
    {
        var g = Prepare(stream, a.Length, b.Length, c.Length, m, n, k, transA, transB, "GemmF16");
        CuBlasNative.Check(CuBlasNative.GemmF16F32(_handle, g, alpha, b.LoadEffectiveAddressAsPtr(), a.LoadEffectiveAddressAsPtr(), beta,
            c.LoadEffectiveAddressAsPtr()), "cublasGemmEx");
    }

    /// <summary>Row-major fp32 C[m×n] = alpha·op(A)·op(B) + beta·C (cublasSgemm_v2).</summary>
    public void Sgemm(CudaStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        int m, int n, int k, bool transA = false, bool transB = false, float alpha = 1, float beta = 0)
    {
        var g = Prepare(stream, a.Length, b.Length, c.Length, m, n, k, transA, transB, "Sgemm");
        CuBlasNative.Check(CuBlasNative.Sgemm(_handle, g, alpha, b.LoadEffectiveAddressAsPtr(), a.LoadEffectiveAddressAsPtr(), beta,
            c.LoadEffectiveAddressAsPtr()), "cublasSgemm_v2");
    }

    private CuBlasGemmArgs Prepare(CudaStream stream, long aLen, long bLen, long cLen, int m, int n, int k,
        bool transA, bool transB, string op)
    {
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        ArgumentNullException.ThrowIfNull(stream);
        if (aLen < (long)m * k || bLen < (long)k * n || cLen < (long)m * n)
            throw new ArgumentException($"cuBLAS {op}: m={m} n={n} k={k} needs A ≥ {(long)m * k}, B ≥ {(long)k * n}, C ≥ {(long)m * n} elements; got {aLen}, {bLen}, {cLen}");
        if (stream.StreamPtr != _stream)
        {
            CuBlasNative.Check(CuBlasNative.SetStream(_handle, stream.StreamPtr), "cublasSetStream_v2");
            _stream = stream.StreamPtr;
        }
        return CuBlasNative.RowMajorGemm(m, n, k, transA, transB);
    }

    /// <summary>cublasDestroy_v2 once; never throws.</summary>
    public void Dispose()
    {
        nint h = Interlocked.Exchange(ref _handle, 0);
        if (h == 0) return;
        try
        {
            using (Accelerator.BindScoped()) CuBlasNative.DestroyHandle(h);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }
}
