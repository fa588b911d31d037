using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using Xunit;

namespace PixelCost.Kernels.Tests;

/// <summary><see cref="Tensor.Transpose"/>: a strided view that Ops.Copy makes dense — how the UNet turns [B,C,HW] into
/// [B,HW,C] and back.</summary>
public class TensorTransposeTests
{
    public static TheoryData<string> Accelerators() => new() { "cpu", "ilgpu-cpu" };

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void TransposedViewCopiesToThePermutedTensor(string id)
    {
        using IAccelerator acc = id == "cpu" ? new CpuAccelerator(1) : IlgpuAccelerator.CreateCpu();
        const int b = 2, c = 3, l = 5;
        var data = Enumerable.Range(0, b * c * l).Select(i => (float)i).ToArray();
        using var x = acc.FromArray(data, b, c, l);
        var v = x.Transpose(1, 2);
        Assert.Equal("[2,5,3]", v.ShapeString);
        Assert.Equal([15L, 1, 5], v.Strides.ToArray());
        Assert.False(v.IsContiguous);
        Assert.Same(x.Buffer, v.Buffer);
        Assert.Contains("strided", Assert.Throws<ArgumentException>(() => v.Reshape(30)).Message);
        using var dense = Ops.Contiguous(acc, v);
        var got = dense.ToArray();
        for (int n = 0; n < b; n++)
            for (int i = 0; i < l; i++)
                for (int j = 0; j < c; j++)
                    Assert.Equal(data[(n * c + j) * l + i], got[(n * l + i) * c + j]);
        // And back: the transpose of the dense copy is the original.
        using var back = Ops.Contiguous(acc, dense.Transpose(-1, -2));
        Assert.Equal(data, back.ToArray());
        Assert.True(x.Transpose(0, 0).IsContiguous);
        Assert.Throws<ArgumentOutOfRangeException>(() => x.Transpose(0, 3));
    }
}
