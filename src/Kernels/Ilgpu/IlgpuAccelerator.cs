using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>
/// An ILGPU accelerator behind our tensor and launch model: <c>ilgpu-cpu</c> (ILGPU's CPU accelerator, GPU kernels
/// simulated on the host with 32-wide warps — for checking kernels, never a performance figure) or <c>cuda:N</c>.
/// Launches are enqueued on the default stream and not synchronised; each is bracketed by profiling markers whose
/// difference becomes its ledger time at <see cref="Synchronize"/>. With <see cref="SyncEachLaunch"/> every launch is
/// synchronised and wall-timed instead (exact per-op figures, no overlap). Memory comes from a caching pool of ILGPU
/// buffers. Each op's kernels are compiled once per accelerator (at O2) on first use and kept.
/// </summary>
public sealed class IlgpuAccelerator : IAccelerator
{
    private readonly Context _context;
    private readonly bool _ownsContext;
    private readonly BufferPool _pool;
    private readonly List<(int Entry, ProfilingMarker Start, ProfilingMarker End)> _pending = new();
    private readonly Lock _pendingLock = new();
    private readonly Lazy<IlgpuKernels> _kernels;

    private IlgpuAccelerator(Context context, bool ownsContext, Device device, string id)
    {
        _context = context;
        _ownsContext = ownsContext;
        Device = device.CreateAccelerator(context);
        Id = id;
        Kind = Device is CudaAccelerator ? AcceleratorKind.Cuda : AcceleratorKind.IlgpuCpu;
        _pool = new BufferPool(bytes => new IlgpuBlock(Device, bytes));
        _kernels = new Lazy<IlgpuKernels>(() => new IlgpuKernels(this));
        SyncEachLaunch = Kind != AcceleratorKind.Cuda; // the simulated device gains nothing from overlap
    }

    /// <summary>ILGPU's CPU accelerator simulating a GPU with 32-wide warps (<see cref="IlgpuContexts.CpuDevice"/>).</summary>
    public static IlgpuAccelerator CreateCpu()
    {
        var ctx = IlgpuContexts.CreateCpuContext();
        try { return new IlgpuAccelerator(ctx, true, ctx.GetCPUDevice(0), "ilgpu-cpu"); }
        catch { ctx.Dispose(); throw; }
    }

    /// <summary>CUDA device <paramref name="index"/>; throws an <see cref="AcceleratorUnavailableException"/> naming the
    /// device and why when there is no driver or no such device.</summary>
    public static IlgpuAccelerator CreateCuda(int index = 0)
    {
        Context ctx;
        try { ctx = IlgpuContexts.CreateCudaContext(); }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException or NotSupportedException or EntryPointNotFoundException)
        {
            throw new AcceleratorUnavailableException($"cuda:{index}: the CUDA driver could not be loaded ({Innermost(e).Message})", e);
        }
        try
        {
            var devices = ctx.GetCudaDevices();
            if (index < 0 || index >= devices.Count)
                throw new AcceleratorUnavailableException($"cuda:{index}: no such CUDA device ({devices.Count} found; {CudaDevices.Probe().Reason ?? "the driver lists fewer"})");
            return new IlgpuAccelerator(ctx, true, devices[index], $"cuda:{index}");
        }
        catch { ctx.Dispose(); throw; }
    }

    private static Exception Innermost(Exception e) { while (e.InnerException is not null) e = e.InnerException; return e; }

    /// <summary>The ILGPU accelerator (for kernel loading and launches by this project's kernel classes).</summary>
    public Accelerator Device { get; }

    public AcceleratorStream Stream => Device.DefaultStream;

    public string Id { get; }

    public string Name => Kind == AcceleratorKind.Cuda
        ? $"{Id} ({Device.Name}, {Device.NumMultiprocessors} SMs, {Device.MemorySize / (1L << 30)} GiB)"
        : $"{Id} (ILGPU CPU accelerator simulating {Device.NumMultiprocessors}×{Device.MaxNumThreadsPerMultiprocessor / Device.WarpSize} warps of {Device.WarpSize}; checks GPU kernels, not a performance figure)";

    public AcceleratorKind Kind { get; }
    public Ledger Ledger { get; } = new();
    public IOpKernels Kernels => _kernels.Value;
    internal IlgpuKernels IlgpuKernels => _kernels.Value;
    public bool SyncEachLaunch { get; set; }
    public MemoryStats Memory => _pool.Stats;
    public void TrimPool() => _pool.Trim();

    public Tensor Allocate(DType dtype, int[] shape, bool zero) => _pool.AllocateTensor(this, dtype, shape, zero);

    public void Upload<T>(Tensor dst, ReadOnlySpan<T> src) where T : unmanaged
    {
        AcceleratorExtensions.CheckTransfer<T>(dst, src.Length, $"upload to {Id}");
        if (src.Length == 0) return;
        dst.View<T>().CopyFromCPU(Stream, src);
    }

    public void Download<T>(Tensor src, Span<T> dst) where T : unmanaged
    {
        AcceleratorExtensions.CheckTransfer<T>(src, dst.Length, $"download from {Id}");
        Synchronize();
        if (dst.Length == 0) return;
        src.View<T>().CopyToCPU(Stream, dst);
        Stream.Synchronize();
    }

    public void Synchronize()
    {
        Device.Synchronize();
        List<(int, ProfilingMarker, ProfilingMarker)> done;
        lock (_pendingLock)
        {
            done = new(_pending);
            _pending.Clear();
        }
        foreach (var (entry, start, end) in done)
        {
            Ledger.Resolve(entry, end.MeasureFrom(start), LaunchTiming.Stream);
            start.Dispose();
            end.Dispose();
        }
    }

    public bool DryRun { get; set; }

    public void Launch(string op, string shape, Cost cost, KernelLaunch kernel)
    {
        if (DryRun)
        {
            Ledger.Add(new LedgerEntry(Name, op, kernel.Variant, shape, cost, TimeSpan.Zero) { Timing = LaunchTiming.NotRun });
            return;
        }
        if (SyncEachLaunch)
        {
            Synchronize();
            long t0 = Stopwatch.GetTimestamp();
            Run(op, kernel);
            Device.Synchronize();
            Ledger.Add(new LedgerEntry(Name, op, kernel.Variant, shape, cost, Stopwatch.GetElapsedTime(t0)));
            return;
        }
        var start = Stream.AddProfilingMarker();
        Run(op, kernel);
        var end = Stream.AddProfilingMarker();
        int index = Ledger.Add(new LedgerEntry(Name, op, kernel.Variant, shape, cost, TimeSpan.Zero) { Timing = LaunchTiming.Pending });
        if (index < 0) { start.Dispose(); end.Dispose(); return; }
        lock (_pendingLock) _pending.Add((index, start, end));
    }

    private void Run(string op, KernelLaunch kernel)
    {
        try { kernel.Run(); }
        catch (Exception e) when (e is AcceleratorException or InternalCompilerException or NotSupportedException && e is not PlatformNotSupportedException)
        {
            throw new AcceleratorUnavailableException($"{op}: kernel {kernel.Variant} failed on {Id}: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        try { Device.Synchronize(); } catch (Exception) { /* Dispose never throws */ }
        lock (_pendingLock)
        {
            foreach (var (_, s, e) in _pending) { s.Dispose(); e.Dispose(); }
            _pending.Clear();
        }
        if (_kernels.IsValueCreated) _kernels.Value.Dispose();
        _pool.Dispose();
        Device.Dispose();
        if (_ownsContext) _context.Dispose();
    }
}

/// <summary>An ILGPU byte buffer; host-addressable on ILGPU's CPU accelerator.</summary>
internal sealed class IlgpuBlock : MemoryBlock
{
    public IlgpuBlock(Accelerator device, long bytes) : base(bytes)
    {
        Buffer = device.Allocate1D<byte>(bytes);
        HostPointer = device is CPUAccelerator ? Buffer.NativePtr : 0;
    }

    public MemoryBuffer1D<byte, Stride1D.Dense> Buffer { get; }

    public override nint HostPointer { get; }

    public override void Clear(long bytes) => Buffer.View.SubView(0, bytes).MemSetToZero(Buffer.Accelerator.DefaultStream);

    public override void Dispose()
    {
        try { Buffer.Dispose(); } catch (Exception) { /* Dispose never throws */ }
    }
}

public static class IlgpuTensorExtensions
{
    /// <summary>The tensor's elements as an ILGPU view (dense tensors on an ILGPU accelerator).</summary>
    public static ArrayView<T> View<T>(this Tensor t) where T : unmanaged
    {
        if (t.Buffer.Block is not IlgpuBlock b)
            throw new InvalidOperationException($"tensor {t.ShapeString} lives on {t.Accelerator.Name}, not on an ILGPU accelerator");
        ArrayView<byte> whole = b.Buffer.View;
        return whole.SubView(t.ByteOffset, t.Bytes).Cast<T>();
    }

    public static ArrayView<float> F32View(this Tensor t) => t.View<float>();
}
