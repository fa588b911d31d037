using System.Runtime.InteropServices;

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
/// An n-dimensional, dense, row-major tensor that lives on one accelerator. On the CPU <see cref="Handle"/> is a
/// 64-byte aligned host pointer; on a GPU it will be a device pointer. A view (<see cref="Reshape"/>) shares memory
/// and does not free it.
/// There is deliberately no finaliser: kernels run on raw pointers, and a finaliser could free memory under a kernel
/// whose tensor object the JIT already considers dead. An undisposed tensor leaks; it never corrupts a computation.
/// </summary>
public sealed unsafe class Tensor : IDisposable
{
    private readonly int[] _shape;
    private readonly bool _owns;
    private nint _handle;

    internal Tensor(IAccelerator accelerator, DType dtype, int[] shape, nint handle, bool owns)
    {
        Accelerator = accelerator;
        DType = dtype;
        _shape = shape;
        Length = ElementCount(shape);
        _handle = handle;
        _owns = owns;
    }

    public IAccelerator Accelerator { get; }
    public DType DType { get; }
    public ReadOnlySpan<int> Shape => _shape;
    public int Rank => _shape.Length;
    public long Length { get; }
    public long Bytes => Length * DType.SizeOf();
    public bool IsDisposed => _handle == 0 && Length > 0;

    /// <summary>Host pointer (CPU) or device pointer (GPU).</summary>
    public nint Handle => _handle != 0 || Length == 0 ? _handle : throw new ObjectDisposedException(nameof(Tensor));

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

    /// <summary>The data as floats (CPU tensors of dtype F32 only).</summary>
    public Span<float> AsSpan() => AsSpan<float>(DType.F32);

    public Span<T> AsSpan<T>() where T : unmanaged => AsSpan<T>(null);

    private Span<T> AsSpan<T>(DType? expect) where T : unmanaged
    {
        if (Accelerator.Kind != AcceleratorKind.Cpu)
            throw new InvalidOperationException($"tensor {ShapeString} lives on {Accelerator.Name}; copy it to the host first");
        if (expect is { } e && DType != e)
            throw new InvalidOperationException($"tensor {ShapeString} is {DType}, not {e}");
        if (Bytes % sizeof(T) != 0 || Bytes / sizeof(T) > int.MaxValue)
            throw new InvalidOperationException($"tensor {ShapeString} of {DType} cannot be viewed as a span of {typeof(T).Name}");
        return new Span<T>((void*)Handle, (int)(Bytes / sizeof(T)));
    }

    public float* F32Pointer => DType == DType.F32 ? (float*)Handle : throw new InvalidOperationException($"tensor {ShapeString} is {DType}, not F32");

    /// <summary>A view with another shape of the same element count; shares memory, never frees it.</summary>
    public Tensor Reshape(params int[] shape)
    {
        if (ElementCount(shape) != Length)
            throw new ArgumentException($"cannot reshape tensor {ShapeString} ({Length} elements) to {FormatShape(shape)}");
        return new Tensor(Accelerator, DType, (int[])shape.Clone(), Handle, owns: false);
    }

    /// <summary>Copies the data to a new host array.</summary>
    public float[] ToArray() => Accelerator.Download(this);

    public void CopyFrom(ReadOnlySpan<float> data) => Accelerator.Upload(this, data);

    public void Dispose()
    {
        if (_owns && _handle != 0) Accelerator.Free(_handle);
        _handle = 0;
    }

    /// <summary>True when the two tensors' byte ranges intersect.</summary>
    public bool Overlaps(Tensor other) =>
        Accelerator == other.Accelerator && Handle < other.Handle + (nint)other.Bytes && other.Handle < Handle + (nint)Bytes;
}
