namespace PixelCost.Kernels;

/// <summary>Which family an accelerator belongs to: our SIMD CPU path, ILGPU's CPU accelerator (GPU kernels simulated on
/// the host, for checking them), a CUDA GPU through ILGPU, or the shape-only meta accelerator (nothing runs).</summary>
public enum AcceleratorKind { Cpu, IlgpuCpu, Cuda, Meta }

/// <summary>What a backend hands back for one op launch: the variant that will run and the work itself (run on a CPU,
/// enqueued on a GPU stream).</summary>
public readonly record struct KernelLaunch(string Variant, Action Run);

/// <summary>
/// A device that owns tensors and runs op launches. Every launch goes through <see cref="Launch"/>, which times it and
/// records one ledger entry; on a GPU launches are stream-ordered and timed with profiling markers, their times filled
/// in at <see cref="Synchronize"/> (or synchronised and wall-timed one by one with <see cref="SyncEachLaunch"/>). Ops
/// reach the kernels through <see cref="Kernels"/>, the backend's kernel table, so no op tests accelerator types.
/// </summary>
public interface IAccelerator : IDisposable
{
    /// <summary>Short id used on the command line and in tables: "cpu", "ilgpu-cpu", "cuda:0".</summary>
    string Id { get; }

    /// <summary>Id plus what matters about it, e.g. "cpu (2 threads, 256-bit SIMD)".</summary>
    string Name { get; }

    AcceleratorKind Kind { get; }
    Ledger Ledger { get; }

    /// <summary>This backend's kernel for each op.</summary>
    IOpKernels Kernels { get; }

    /// <summary>A dense tensor from the accelerator's pool, zeroed only when <paramref name="zero"/> is set. Not
    /// `params`: callers use the extensions below, so that <c>Allocate(0, 5)</c> means shape [0,5] and never silently
    /// binds the literal 0 to a DType.</summary>
    Tensor Allocate(DType dtype, int[] shape, bool zero);

    /// <summary>Copies host data into a dense tensor (bytes reinterpreted as the tensor's dtype).</summary>
    void Upload<T>(Tensor dst, ReadOnlySpan<T> src) where T : unmanaged;

    /// <summary>Copies a dense tensor to the host, after the launches before it have finished.</summary>
    void Download<T>(Tensor src, Span<T> dst) where T : unmanaged;

    /// <summary>Waits for every enqueued launch and fills in the ledger's pending times.</summary>
    void Synchronize();

    /// <summary>Synchronise after every launch and wall-time it (exact per-op figures; the `--sync` mode).</summary>
    bool SyncEachLaunch { get; set; }

    /// <summary>Record launches in the ledger without running them (what would run: variant names, costs).</summary>
    bool DryRun { get; set; }

    /// <summary>Runs (CPU) or enqueues (GPU) one launch of <paramref name="op"/> and records it in the ledger.</summary>
    void Launch(string op, string shape, Cost cost, KernelLaunch kernel);

    /// <summary>The pool's bytes in use, peak and cached.</summary>
    MemoryStats Memory { get; }

    /// <summary>Frees the memory the pool caches for reuse.</summary>
    void TrimPool();
}

public static class AcceleratorExtensions
{
    public static Tensor Allocate(this IAccelerator acc, params int[] shape) => acc.Allocate(DType.F32, shape, zero: false);

    public static Tensor Allocate(this IAccelerator acc, DType dtype, params int[] shape) => acc.Allocate(dtype, shape, zero: false);

    public static Tensor Zeros(this IAccelerator acc, params int[] shape) => acc.Allocate(DType.F32, shape, zero: true);

    public static Tensor Zeros(this IAccelerator acc, DType dtype, params int[] shape) => acc.Allocate(dtype, shape, zero: true);

    public static Tensor FromArray(this IAccelerator acc, float[] data, params int[] shape)
    {
        if (Tensor.ElementCount(shape) != data.Length)
            throw new ArgumentException($"data of {data.Length} floats does not fill shape {Tensor.FormatShape(shape)}");
        var t = acc.Allocate(DType.F32, shape, zero: false);
        acc.Upload<float>(t, data);
        return t;
    }

    public static void Upload(this IAccelerator acc, Tensor dst, ReadOnlySpan<float> src) => acc.Upload<float>(dst, src);

    public static float[] Download(this IAccelerator acc, Tensor src)
    {
        if (src.DType != DType.F32) throw new InvalidOperationException($"tensor {src.ShapeString} is {src.DType}, not F32");
        var data = new float[src.Length];
        acc.Download<float>(src, data);
        return data;
    }

    /// <summary>Checks an upload/download: dense tensor, live, byte counts equal.</summary>
    internal static void CheckTransfer<T>(Tensor t, int count, string what) where T : unmanaged
    {
        if (t.IsDisposed) throw new ObjectDisposedException(nameof(Tensor), $"{what}: tensor {t.ShapeString} has been freed");
        if (!t.IsContiguous) throw new InvalidOperationException($"{what}: tensor {t.ShapeString} is a strided view; copy it to a dense tensor first (Ops.Copy)");
        long bytes = (long)count * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (bytes != t.Bytes)
            throw new ArgumentException($"{what} of {count} {typeof(T).Name} ({bytes:N0} bytes) does not match tensor {t.ShapeString} of {t.DType} ({t.Bytes:N0} bytes)");
    }
}

/// <summary>
/// An accelerator could not do what was asked for reasons outside the caller's arguments: no driver, no such device, a
/// driver too old, a kernel that failed to compile or launch. The message names the accelerator (and the op). The CLI
/// shows it as one line; CPU work is unaffected.
/// </summary>
public sealed class AcceleratorUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
