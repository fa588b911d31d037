using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PixelCost.Kernels.Cpu;

/// <summary>
/// The CPU: native 64-byte aligned tensors (a cache line and one Vector512), a fixed number of worker threads, and the
/// widest SIMD the machine runs natively.
/// </summary>
public sealed unsafe class CpuAccelerator : IAccelerator
{
    private readonly ParallelOptions _parallel;

    /// <param name="threads">Worker threads; 0 means one per logical processor.</param>
    /// <param name="vectorBits">
    /// Which SIMD path kernels take: 0 = the widest the hardware runs natively (<see cref="SimdWidthBits"/>); 256 or 512
    /// force that path. A forced path the hardware lacks still runs — .NET executes Vector256/Vector512 operations in
    /// software there — correct but slow: that is how the 512-bit kernels are tested on AVX2-only machines, and how a
    /// benchmark compares the two paths on an AVX-512 machine.
    /// </param>
    public CpuAccelerator(int threads = 0, int vectorBits = 0)
    {
        if (threads < 0) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be ≥ 1 (or 0 for all cores)");
        if (vectorBits is not (0 or 256 or 512))
            throw new ArgumentOutOfRangeException(nameof(vectorBits), vectorBits, "SIMD width must be 256 or 512 bits (or 0 for the hardware's widest)");
        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        VectorBits = vectorBits == 0 ? Math.Max(256, SimdWidthBits) : vectorBits;
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = Threads };
        _pool = new BufferPool(bytes => new HostBlock(bytes));
        Kernels = new CpuKernels(this);
    }

    private readonly BufferPool _pool;

    public string Name => $"cpu ({Threads} thread{(Threads == 1 ? "" : "s")}, {VectorBits}-bit SIMD{(IsVectorPathEmulated ? ", emulated in software" : "")})";

    /// <summary>The SIMD path this accelerator's kernels take: 256 or 512.</summary>
    public int VectorBits { get; }

    /// <summary>Kernels take their Vector512 path.</summary>
    public bool UseVector512 => VectorBits >= 512;

    /// <summary>True when the chosen path is wider than the hardware has (tests only; slow).</summary>
    /// <remarks>
    /// Not simply VectorBits &gt; SimdWidthBits: .NET reports Vector512 as not accelerated on CPUs that clock down under
    /// AVX-512 (Skylake-X, Cascade Lake), so the default path there is 256 bits, yet a forced 512 runs natively.
    /// </remarks>
    public bool IsVectorPathEmulated => VectorBits switch
    {
        512 => !(Vector512.IsHardwareAccelerated || System.Runtime.Intrinsics.X86.Avx512F.IsSupported),
        256 => !Vector256.IsHardwareAccelerated,
        _ => false,
    };
    public AcceleratorKind Kind => AcceleratorKind.Cpu;
    public Ledger Ledger { get; } = new();
    public int Threads { get; }

    /// <summary>Widest vector the JIT turns into native instructions here.</summary>
    public static int SimdWidthBits =>
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 32;

    public static bool HasFma => System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;

    public string Id => "cpu";

    public IOpKernels Kernels { get; }

    /// <summary>Always in effect here: CPU launches run synchronously.</summary>
    public bool SyncEachLaunch { get; set; } = true;

    public MemoryStats Memory => _pool.Stats;

    public void TrimPool() => _pool.Trim();

    public Tensor Allocate(DType dtype, int[] shape, bool zero) => _pool.AllocateTensor(this, dtype, shape, zero);

    public void Upload<T>(Tensor dst, ReadOnlySpan<T> src) where T : unmanaged
    {
        AcceleratorExtensions.CheckTransfer<T>(dst, src.Length, $"upload to {Id}");
        src.CopyTo(dst.AsSpan<T>());
    }

    public void Download<T>(Tensor src, Span<T> dst) where T : unmanaged
    {
        AcceleratorExtensions.CheckTransfer<T>(src, dst.Length, $"download from {Id}");
        src.AsSpan<T>().CopyTo(dst);
    }

    /// <summary>Nothing to wait for: CPU launches run synchronously.</summary>
    public void Synchronize() { }

    public bool DryRun { get; set; }

    public void Launch(string op, string shape, Cost cost, KernelLaunch kernel)
    {
        if (DryRun)
        {
            Ledger.Add(new LedgerEntry(Name, op, kernel.Variant, shape, cost, TimeSpan.Zero) { Timing = LaunchTiming.NotRun });
            return;
        }
        long t0 = Stopwatch.GetTimestamp();
        kernel.Run();
        var elapsed = Stopwatch.GetElapsedTime(t0);
        Ledger.Add(new LedgerEntry(Name, op, kernel.Variant, shape, cost, elapsed));
    }

    /// <summary>
    /// Splits [0, count) into at most <see cref="Threads"/> contiguous ranges (each ≥ <paramref name="grain"/> items)
    /// and runs them in parallel. Contiguous ranges keep each thread on its own cache lines.
    /// </summary>
    public void ParallelFor(long count, long grain, Action<long, long> body)
    {
        if (count <= 0) return;
        long chunks = Math.Min(Threads, Math.Max(1, count / Math.Max(1, grain)));
        if (chunks <= 1) { body(0, count); return; }
        Parallel.For(0, (int)chunks, _parallel, c =>
        {
            long begin = count * c / chunks, end = count * (c + 1) / chunks;
            body(begin, end);
        });
    }

    /// <summary>Runs <paramref name="body"/>(i) for each of <paramref name="tasks"/> independent work items.</summary>
    public void ParallelTasks(int tasks, Action<int> body)
    {
        if (tasks <= 0) return;
        if (tasks == 1 || Threads == 1) { for (int i = 0; i < tasks; i++) body(i); return; }
        Parallel.For(0, tasks, _parallel, body);
    }

    public void Dispose() => _pool.Dispose();
}

/// <summary>64-byte aligned native host memory (a cache line and one Vector512).</summary>
internal sealed unsafe class HostBlock : MemoryBlock
{
    private nint _p;

    public HostBlock(long bytes) : base(bytes)
    {
        try { _p = (nint)NativeMemory.AlignedAlloc((nuint)bytes, 64); }
        catch (OutOfMemoryException) { _p = 0; }
        if (_p == 0) throw new OutOfMemoryException($"cannot allocate {bytes:N0} bytes of host memory");
    }

    public override nint HostPointer => _p;

    public override void Clear(long bytes) => NativeMemory.Clear((void*)_p, (nuint)bytes);

    public override void Dispose()
    {
        if (_p != 0) NativeMemory.AlignedFree((void*)_p);
        _p = 0;
    }
}
