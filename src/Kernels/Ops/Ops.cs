namespace PixelCost.Kernels;

/// <summary>
/// The public entry to every op: <c>Ops.Gemm(acc, …)</c>, <c>Ops.FillGaussian(acc, …)</c>. Each op lives in its own
/// folder as a partial of this class. An entry checks that every tensor is live, dense and on the launching accelerator,
/// validates shapes through the op's Spec (an ArgumentException naming the op and the shapes), takes the cost from the
/// Spec, asks the accelerator's kernel table for the launch and runs it through <see cref="IAccelerator.Launch"/>.
/// Variants: 0 is the backend's default (its fastest); 1, 2, … select a numbered implementation (llm.c style).
/// </summary>
public static partial class Ops
{
    /// <summary>
    /// Every tensor of a launch is live, dense and lives on the launching accelerator; otherwise an ArgumentException
    /// naming the op, the tensor and both devices.
    /// </summary>
    internal static void CheckTensors(string op, IAccelerator acc, params ReadOnlySpan<(string Name, Tensor? Tensor)> tensors)
    {
        ArgumentNullException.ThrowIfNull(acc);
        foreach (var (name, t) in tensors)
        {
            if (t is null) continue;
            if (!ReferenceEquals(t.Accelerator, acc))
                throw new ArgumentException($"{op}: tensor '{name}' {t.ShapeString} lives on {t.Accelerator.Name}, but the launch is on {acc.Name}; copy it there first");
            if (t.IsDisposed)
                throw new ObjectDisposedException(nameof(Tensor), $"{op}: tensor '{name}' {t.ShapeString} has been freed");
            if (!t.IsContiguous)
                throw new ArgumentException($"{op}: tensor '{name}' {t.ShapeString} is a strided view; ops take dense tensors (Ops.Copy makes one)");
        }
    }

    /// <summary>(src may be strided) dst ← src: makes a slice along an inner dimension dense. dst must be dense.</summary>
    public static void Copy(IAccelerator acc, Tensor src, Tensor dst)
    {
        ArgumentNullException.ThrowIfNull(src);
        CheckTensors(CopySpec.Op, acc, ("dst", dst));
        if (!ReferenceEquals(src.Accelerator, acc))
            throw new ArgumentException($"{CopySpec.Op}: tensor 'src' {src.ShapeString} lives on {src.Accelerator.Name}, but the launch is on {acc.Name}");
        if (src.IsDisposed) throw new ObjectDisposedException(nameof(Tensor), $"{CopySpec.Op}: tensor 'src' {src.ShapeString} has been freed");
        CopySpec.Validate(src, dst);
        acc.Launch(CopySpec.Op, $"{src.ShapeString} strides [{string.Join(",", src.Strides.ToArray())}]", CopySpec.Cost(src), acc.Kernels.Copy(src, dst));
    }

    /// <summary>A dense copy of <paramref name="src"/> (a new tensor the caller owns).</summary>
    public static Tensor Contiguous(IAccelerator acc, Tensor src)
    {
        var dst = acc.Allocate(src.DType, src.Shape.ToArray());
        try { Copy(acc, src, dst); }
        catch { dst.Dispose(); throw; }
        return dst;
    }
}
