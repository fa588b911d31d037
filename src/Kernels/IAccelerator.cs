namespace PixelCost.Kernels;

public enum AcceleratorKind { Cpu, Cuda }

/// <summary>
/// A device that owns tensors and runs op launches. Every launch goes through <see cref="Launch"/>, which synchronises,
/// times it and records one ledger entry. Ops dispatch on the accelerator's type, so callers never change when a new
/// accelerator is added.
/// </summary>
public interface IAccelerator : IDisposable
{
    string Name { get; }
    AcceleratorKind Kind { get; }
    Ledger Ledger { get; }

    /// <summary>A zeroed tensor. Not `params`: callers use the extensions below, so that <c>Allocate(0, 5)</c> means
    /// shape [0,5] and never silently binds the literal 0 to a DType.</summary>
    Tensor Allocate(DType dtype, int[] shape);
    void Upload(Tensor dst, ReadOnlySpan<float> src);
    float[] Download(Tensor src);
    void Free(nint handle);
    void Synchronize();

    /// <summary>Runs <paramref name="body"/> as one launch of <paramref name="op"/> and records it.</summary>
    void Launch(string op, string variant, string shape, Cost cost, Action body);
}

public static class AcceleratorExtensions
{
    public static Tensor Allocate(this IAccelerator acc, params int[] shape) => acc.Allocate(DType.F32, shape);

    public static Tensor Allocate(this IAccelerator acc, DType dtype, params int[] shape) => acc.Allocate(dtype, shape);

    public static Tensor FromArray(this IAccelerator acc, float[] data, params int[] shape)
    {
        if (Tensor.ElementCount(shape) != data.Length)
            throw new ArgumentException($"data of {data.Length} floats does not fill shape {Tensor.FormatShape(shape)}");
        var t = acc.Allocate(DType.F32, shape);
        acc.Upload(t, data);
        return t;
    }
}
