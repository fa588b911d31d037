namespace PixelCost.Kernels;

/// <summary>
/// A block of memory an accelerator's pool hands out and takes back: host memory (our CPU accelerator), or an ILGPU
/// <c>MemoryBuffer</c> (host memory on ILGPU's CPU accelerator, device memory on CUDA). Blocks are reused; the
/// <see cref="DeviceBuffer"/> handed to a tensor is new for every allocation, so a stale view of a freed buffer is
/// detected even after its block has been handed out again.
/// </summary>
public abstract class MemoryBlock : IDisposable
{
    protected MemoryBlock(long capacity) => Capacity = capacity;

    public long Capacity { get; }

    /// <summary>The host address of the first byte, or 0 when the memory is not host-addressable (CUDA).</summary>
    public abstract nint HostPointer { get; }

    /// <summary>Sets <paramref name="bytes"/> bytes from the start to zero (ordered with the accelerator's launches).</summary>
    public abstract void Clear(long bytes);

    /// <summary>Gives the memory back to the system. Never throws.</summary>
    public abstract void Dispose();
}

/// <summary>
/// One allocation: a pooled <see cref="MemoryBlock"/> lent to the tensor that owns it (and shared by its views) until
/// that tensor is disposed; then the block goes back to the pool and this handle is dead.
/// </summary>
public sealed class DeviceBuffer
{
    private readonly BufferPool? _pool;
    private readonly Action<long>? _metaRelease;
    private MemoryBlock? _block;
    private bool _metaReleased;

    internal DeviceBuffer(IAccelerator accelerator, BufferPool pool, MemoryBlock? block, long bytes)
    {
        Accelerator = accelerator;
        _pool = pool;
        _block = block;
        Bytes = bytes;
    }

    /// <summary>A meta buffer: a size and an owner but no memory (shape-only passes). It is live until released, which
    /// calls <paramref name="release"/> with its byte count once.</summary>
    internal DeviceBuffer(IAccelerator accelerator, long bytes, Action<long> release)
    {
        Accelerator = accelerator;
        Bytes = bytes;
        IsMeta = true;
        _metaRelease = release;
    }

    public IAccelerator Accelerator { get; }

    /// <summary>Bytes requested (the block may be larger).</summary>
    public long Bytes { get; }

    /// <summary>A meta buffer has a size but no block (MetaAccelerator): live until its owner is disposed, never
    /// readable. Its liveness is an explicit flag, since "no block" is what marks a freed ordinary buffer.</summary>
    public bool IsMeta { get; }

    public bool IsDisposed => IsMeta ? _metaReleased : _block is null && Bytes > 0;

    /// <summary>The block, or an ObjectDisposedException for a buffer whose owner has been disposed (an
    /// InvalidOperationException for a meta buffer, which never has one).</summary>
    public MemoryBlock Block => _block ?? (IsMeta && !_metaReleased
        ? throw new InvalidOperationException($"a meta tensor ({Bytes:N0} bytes on {Accelerator.Id}) has a shape but no memory: it cannot be read or written")
        : throw new ObjectDisposedException(nameof(Tensor), "the tensor's memory has been freed (its owning tensor was disposed)"));

    /// <summary>Whether the host can read and write this memory directly (our CPU accelerator and ILGPU's CPU accelerator).</summary>
    public bool IsHostAccessible => !IsMeta && (Bytes == 0 || _block is { HostPointer: not 0 });

    internal void Release()
    {
        if (IsMeta)
        {
            if (_metaReleased) return;
            _metaReleased = true;
            _metaRelease!(Bytes);
            return;
        }
        var b = _block;
        _block = null;
        if (b is not null) _pool!.Return(b, Bytes);
    }
}

/// <summary>Bytes in use, the peak since the last reset, and bytes the pool holds for reuse.</summary>
public readonly record struct MemoryStats(long InUse, long Peak, long Cached, long Allocations, long PoolHits);

/// <summary>
/// A per-accelerator caching allocator: freed blocks are kept on free lists by size class and handed out again, so a
/// network's activations cost one system allocation per size class, not one per op. Size classes are four per power of
/// two (at most 25% slack). Blocks are reused in launch order: on a GPU every launch goes to one stream, so a block
/// returned after an enqueued kernel that reads it is only overwritten by a later kernel on the same stream.
/// Thread-safe.
/// </summary>
public sealed class BufferPool : IDisposable
{
    private readonly Func<long, MemoryBlock> _create;
    private readonly Dictionary<long, Stack<MemoryBlock>> _free = new();
    private readonly Lock _lock = new();
    private long _inUse, _peak, _cached, _allocations, _hits;

    public BufferPool(Func<long, MemoryBlock> create) => _create = create;

    /// <summary>Requests above this are rounded to whole MiB instead of a quarter power of two.</summary>
    public const long LargeBlock = 4L << 20;

    /// <summary>
    /// The size class a request of <paramref name="bytes"/> is served from: four classes per power of two up to
    /// <see cref="LargeBlock"/> (≤ 25% slack on small, varied requests), whole MiB above it (≤ 25% at 4 MiB, falling to
    /// ≤ 1% at 100 MiB): a model's large weights and activations repeat exact sizes, so fine classes still reuse, and
    /// SD 1.5's 3.44 GB of fp32 weights no longer carry ~0.45 GB of slack.
    /// </summary>
    public static long SizeClass(long bytes)
    {
        if (bytes <= 256) return 256;
        if (bytes > LargeBlock) return (bytes + (1L << 20) - 1) >> 20 << 20;
        int top = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1));
        long quarter = 1L << Math.Max(0, top - 2);
        return (bytes + quarter - 1) / quarter * quarter;
    }

    public MemoryBlock Rent(long bytes)
    {
        long size = SizeClass(bytes);
        lock (_lock)
        {
            _allocations++;
            _inUse += size;
            _peak = Math.Max(_peak, _inUse);
            if (_free.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                _hits++;
                _cached -= size;
                return stack.Pop();
            }
        }
        try { return _create(size); }
        catch
        {
            // A failed allocation first gives back what the pool holds, then tries once more.
            Trim();
            try { return _create(size); }
            catch { lock (_lock) _inUse -= size; throw; }
        }
    }

    internal void Return(MemoryBlock block, long bytes)
    {
        lock (_lock)
        {
            _inUse -= block.Capacity;
            _cached += block.Capacity;
            if (!_free.TryGetValue(block.Capacity, out var stack)) _free[block.Capacity] = stack = new Stack<MemoryBlock>();
            stack.Push(block);
        }
    }

    /// <summary>A dense tensor of <paramref name="owner"/> backed by a block of this pool (zeroed when asked). Any
    /// allocation failure becomes an OutOfMemoryException naming the shape, dtype, bytes and accelerator.</summary>
    public Tensor AllocateTensor(IAccelerator owner, DType dtype, int[] shape, bool zero)
    {
        long bytes = Tensor.ElementCount(shape) * dtype.SizeOf();
        MemoryBlock? block = null;
        if (bytes > 0)
        {
            try { block = Rent(bytes); }
            catch (Exception e) when (e is OutOfMemoryException or InvalidOperationException || e.GetType().Namespace?.StartsWith("ILGPU", StringComparison.Ordinal) == true)
            {
                throw new OutOfMemoryException($"cannot allocate tensor {Tensor.FormatShape(shape)} of {dtype} ({bytes:N0} bytes) on {owner.Id}: {e.Message}", e);
            }
            if (zero) block.Clear(bytes);
        }
        return new Tensor(new DeviceBuffer(owner, this, block, bytes), 0, dtype, (int[])shape.Clone(), null, owns: true);
    }

    public MemoryStats Stats
    {
        get { lock (_lock) return new MemoryStats(_inUse, _peak, _cached, _allocations, _hits); }
    }

    public void ResetPeak()
    {
        lock (_lock) _peak = _inUse;
    }

    /// <summary>Frees every cached block.</summary>
    public void Trim()
    {
        List<MemoryBlock> all;
        lock (_lock)
        {
            all = _free.Values.SelectMany(s => s).ToList();
            _free.Clear();
            _cached = 0;
        }
        foreach (var b in all) b.Dispose();
    }

    public void Dispose() => Trim();
}
