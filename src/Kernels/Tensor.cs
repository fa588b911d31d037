namespace PixelCost.Kernels;

public enum DType { F32, F16, BF16, U8, I32, I64 }

public static class DTypes
{
    public static int SizeOf(this DType d) => d switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.U8 => 1,
        DType.I64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(d), d, "unknown dtype"),
    };
}

/// <summary>
/// An n-dimensional tensor on one accelerator: a <see cref="DeviceBuffer"/> plus a byte offset, shape, element strides
/// and dtype. Tensors from <c>Allocate</c> are dense and row-major and own their buffer; views (<see cref="Reshape"/>,
/// <see cref="Slice"/>, <see cref="Chunk"/>, <see cref="Split"/>) share it and never free it. Ops take dense tensors
/// (<see cref="IsContiguous"/>); a strided slice is made dense by <c>Ops.Copy</c>.
/// There is deliberately no finaliser: kernels run on raw pointers and on GPU streams, and a finaliser could free memory
/// under a kernel whose tensor the JIT already considers dead. An undisposed tensor leaks; it never corrupts a result.
/// </summary>
public sealed unsafe class Tensor : IDisposable
{
    private readonly int[] _shape;
    private readonly long[] _strides;
    private readonly bool _owns;
    private bool _disposed;

    internal Tensor(DeviceBuffer buffer, long byteOffset, DType dtype, int[] shape, long[]? strides, bool owns)
    {
        Buffer = buffer;
        ByteOffset = byteOffset;
        DType = dtype;
        _shape = shape;
        Length = ElementCount(shape);
        _strides = strides ?? DenseStrides(shape);
        _owns = owns;
        IsContiguous = strides is null || IsDense(shape, _strides);
    }

    public DeviceBuffer Buffer { get; }
    public IAccelerator Accelerator => Buffer.Accelerator;
    public long ByteOffset { get; }
    public DType DType { get; }
    public ReadOnlySpan<int> Shape => _shape;
    public ReadOnlySpan<long> Strides => _strides;
    public int Rank => _shape.Length;
    public long Length { get; }
    public long Bytes => Length * DType.SizeOf();

    /// <summary>Dense row-major layout: what every op kernel expects.</summary>
    public bool IsContiguous { get; }

    public bool IsDisposed => _disposed || Buffer.IsDisposed;

    /// <summary>A meta tensor (MetaAccelerator): shape and dtype, no memory. Ops accept it; nothing reads it.</summary>
    public bool IsMeta => Buffer.IsMeta;

    /// <summary>Whether the host can address this tensor's memory (cpu and ilgpu-cpu; not CUDA).</summary>
    public bool IsHostAccessible => Buffer.IsHostAccessible;

    /// <summary>Host address of the first element (host-accessible tensors only).</summary>
    public nint Handle
    {
        get
        {
            if (Length == 0) return 0;
            if (IsDisposed) throw new ObjectDisposedException(nameof(Tensor), $"tensor {ShapeString} has been freed");
            nint p = Buffer.Block.HostPointer;
            if (p == 0) throw new InvalidOperationException($"tensor {ShapeString} lives on {Accelerator.Name}, whose memory the host cannot address; download it first");
            return p + (nint)ByteOffset;
        }
    }

    public int Dim(int i) => _shape[i < 0 ? _shape.Length + i : i];

    public string ShapeString => FormatShape(_shape);

    public static string FormatShape(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    /// <summary>Elements of a shape; throws if a dimension is negative or the count overflows.</summary>
    public static long ElementCount(ReadOnlySpan<int> shape)
    {
        // The bound leaves room for the byte count of the widest dtype (8 B) without overflow.
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor shape {FormatShape(shape)} has a negative dimension");
            n = d == 0 ? 0 : n > long.MaxValue / 16 / d ? throw new ArgumentException($"tensor shape {FormatShape(shape)} has too many elements") : n * d;
        }
        return n;
    }

    private static long[] DenseStrides(int[] shape)
    {
        var s = new long[shape.Length];
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= Math.Max(1, shape[i]); }
        return s;
    }

    private static bool IsDense(int[] shape, long[] strides)
    {
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] != 1 && strides[i] != acc) return false;
            acc *= shape[i];
        }
        return true;
    }

    /// <summary>The data as floats (host-accessible, dense F32 tensors).</summary>
    public Span<float> AsSpan() => AsSpan<float>(DType.F32);

    public Span<T> AsSpan<T>() where T : unmanaged => AsSpan<T>(null);

    private Span<T> AsSpan<T>(DType? expect) where T : unmanaged
    {
        if (expect is { } e && DType != e)
            throw new InvalidOperationException($"tensor {ShapeString} is {DType}, not {e}");
        RequireContiguous("a span");
        if (Bytes % sizeof(T) != 0 || Bytes / sizeof(T) > int.MaxValue)
            throw new InvalidOperationException($"tensor {ShapeString} of {DType} cannot be viewed as a span of {typeof(T).Name}");
        return new Span<T>((void*)Handle, (int)(Bytes / sizeof(T)));
    }

    public float* F32Pointer => DType == DType.F32 ? (float*)Handle : throw new InvalidOperationException($"tensor {ShapeString} is {DType}, not F32");

    private void RequireContiguous(string what)
    {
        if (!IsContiguous) throw new InvalidOperationException($"tensor {ShapeString} is a strided view; {what} needs a dense tensor (Ops.Copy makes one)");
    }

    /// <summary>A view with another shape of the same element count (dense tensors only); shares memory, never frees it.</summary>
    public Tensor Reshape(params int[] shape)
    {
        if (ElementCount(shape) != Length)
            throw new ArgumentException($"cannot reshape tensor {ShapeString} ({Length} elements) to {FormatShape(shape)}");
        if (!IsContiguous) throw new ArgumentException($"cannot reshape the strided view {ShapeString}; copy it to a dense tensor first (Ops.Copy)");
        return new Tensor(Buffer, ByteOffset, DType, (int[])shape.Clone(), null, owns: false);
    }

    /// <summary>
    /// Elements [start, start+length) along <paramref name="dim"/>: a view sharing memory. Dense when every dimension
    /// before <paramref name="dim"/> is 1 (e.g. a batch slice); otherwise strided.
    /// </summary>
    public Tensor Slice(int dim, int start, int length)
    {
        int d = dim < 0 ? Rank + dim : dim;
        if (d < 0 || d >= Rank) throw new ArgumentOutOfRangeException(nameof(dim), dim, $"tensor {ShapeString} has no dimension {dim}");
        if (start < 0 || length < 0 || (long)start + length > _shape[d])
            throw new ArgumentOutOfRangeException(nameof(start), $"slice [{start}, {(long)start + length}) of dimension {d} is outside tensor {ShapeString}");
        var shape = (int[])_shape.Clone();
        shape[d] = length;
        return new Tensor(Buffer, ByteOffset + start * _strides[d] * DType.SizeOf(), DType, shape, (long[])_strides.Clone(), owns: false);
    }

    /// <summary>
    /// PyTorch's <c>transpose</c>: a view with dimensions <paramref name="dim0"/> and <paramref name="dim1"/> swapped,
    /// sharing memory (strided unless one of them has size 1); <c>Ops.Copy</c> makes it dense — how a model turns
    /// [B,C,H·W] into [B,H·W,C] with one memory-bound launch and no arithmetic.
    /// </summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = dim0 < 0 ? Rank + dim0 : dim0, b = dim1 < 0 ? Rank + dim1 : dim1;
        if (a < 0 || a >= Rank) throw new ArgumentOutOfRangeException(nameof(dim0), dim0, $"tensor {ShapeString} has no dimension {dim0}");
        if (b < 0 || b >= Rank) throw new ArgumentOutOfRangeException(nameof(dim1), dim1, $"tensor {ShapeString} has no dimension {dim1}");
        var shape = (int[])_shape.Clone();
        var strides = (long[])_strides.Clone();
        (shape[a], shape[b]) = (shape[b], shape[a]);
        (strides[a], strides[b]) = (strides[b], strides[a]);
        return new Tensor(Buffer, ByteOffset, DType, shape, strides, owns: false);
    }

    /// <summary>PyTorch's <c>chunk</c>: <paramref name="chunks"/> equal views along <paramref name="dim"/> (the size must divide).</summary>
    public Tensor[] Chunk(int chunks, int dim = 0)
    {
        int d = dim < 0 ? Rank + dim : dim;
        if (d < 0 || d >= Rank) throw new ArgumentOutOfRangeException(nameof(dim), dim, $"tensor {ShapeString} has no dimension {dim}");
        if (chunks <= 0 || _shape[d] % chunks != 0)
            throw new ArgumentException($"cannot chunk dimension {d} of tensor {ShapeString} into {chunks} equal parts");
        int size = _shape[d] / chunks;
        return Enumerable.Range(0, chunks).Select(i => Slice(d, i * size, size)).ToArray();
    }

    /// <summary>PyTorch's <c>split</c> with explicit sizes along <paramref name="dim"/> (they must add up to the dimension).</summary>
    public Tensor[] Split(int[] sizes, int dim = 0)
    {
        int d = dim < 0 ? Rank + dim : dim;
        if (d < 0 || d >= Rank) throw new ArgumentOutOfRangeException(nameof(dim), dim, $"tensor {ShapeString} has no dimension {dim}");
        if (sizes.Any(s => s < 0) || sizes.Sum(s => (long)s) != _shape[d])
            throw new ArgumentException($"split sizes [{string.Join(",", sizes)}] do not add up to dimension {d} of tensor {ShapeString}");
        var views = new Tensor[sizes.Length];
        for (int i = 0, start = 0; i < sizes.Length; start += sizes[i], i++) views[i] = Slice(d, start, sizes[i]);
        return views;
    }

    /// <summary>Copies the data to a new host array (dense F32 tensors; synchronises the accelerator).</summary>
    public float[] ToArray() => Accelerator.Download(this);

    public void CopyFrom(ReadOnlySpan<float> data) => Accelerator.Upload(this, data);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_owns) Buffer.Release();
    }

    /// <summary>Same buffer, offset, shape and strides: the same elements (an in-place call).</summary>
    public bool IsSameView(Tensor other) =>
        ReferenceEquals(Buffer, other.Buffer) && ByteOffset == other.ByteOffset && DType == other.DType &&
        Shape.SequenceEqual(other.Shape) && Strides.SequenceEqual(other.Strides);

    /// <summary>First and one-past-last byte this tensor can touch, relative to its buffer.</summary>
    private (long Begin, long End) Extent()
    {
        if (Length == 0) return (ByteOffset, ByteOffset);
        long last = 0;
        for (int i = 0; i < Rank; i++) last += (long)(_shape[i] - 1) * _strides[i];
        return (ByteOffset, ByteOffset + (last + 1) * DType.SizeOf());
    }

    /// <summary>True when the two tensors' byte ranges in the same buffer intersect (conservative for strided views).</summary>
    public bool Overlaps(Tensor other)
    {
        if (!ReferenceEquals(Buffer, other.Buffer) || Length == 0 || other.Length == 0) return false;
        var (a0, a1) = Extent();
        var (b0, b1) = other.Extent();
        return a0 < b1 && b0 < a1;
    }
}
