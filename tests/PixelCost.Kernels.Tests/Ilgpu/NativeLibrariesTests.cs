using PixelCost.Kernels.Ilgpu;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

public class NativeLibrariesTests
{
    [Theory]
    [InlineData("cuda")]      // what ILGPU's CudaAPI asks for on Linux
    [InlineData("nvcuda")]    // … and on Windows
    [InlineData("libcuda.so")]
    [InlineData("libcuda.so.1")]
    public void CudaMapsToTheDriversVersionedName(string requested) =>
        Assert.Equal(["libcuda.so.1", "libcuda.so"], NativeLibraries.Candidates(requested));

    [Fact]
    public void NvmlMapsToItsVersionedName() =>
        Assert.Equal(["libnvidia-ml.so.1", "libnvidia-ml.so"], NativeLibraries.Candidates("nvidia-ml"));

    [Fact]
    public void CublasTriesVersion13Then12ThenUnversioned() =>
        Assert.Equal(["libcublas.so.13", "libcublas.so.12", "libcublas.so"], NativeLibraries.Candidates("cublas"));

    [Theory]
    [InlineData("OpenCL")]
    [InlineData("libc")]
    [InlineData("cublasLt")]
    public void OtherNamesAreLeftToDefaultProbing(string requested) => Assert.Empty(NativeLibraries.Candidates(requested));

    [Fact]
    public void RegisterIsIdempotent()
    {
        NativeLibraries.Register();
        NativeLibraries.Register();
    }

    [Fact]
    public void MissingLibraryReasonNamesEveryFileTried()
    {
        Assert.False(NativeLibraries.TryLoad("libpixelcost-missing.so.7", out nint h, out string? why));
        Assert.Equal(0, h);
        Assert.Contains("libpixelcost-missing.so.7 not found", why, StringComparison.Ordinal);
    }
}
