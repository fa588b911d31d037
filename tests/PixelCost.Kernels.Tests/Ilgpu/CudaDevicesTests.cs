using System.Runtime.InteropServices;
using PixelCost.Kernels.Ilgpu;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

public class CudaDevicesTests
{
    [Fact]
    public void ProbeNeverThrowsAndEitherListsDevicesOrSaysWhy()
    {
        var probe = CudaDevices.Probe();
        if (probe.Reason is not null)
        {
            Assert.Empty(probe.Devices);
            if (!NativeLibrary.TryLoad("libcuda.so.1", out nint h))
                Assert.Equal("no NVIDIA driver: libcuda.so.1, libcuda.so not found", probe.Reason);
            else
            {
                NativeLibrary.Free(h);
                Assert.Contains("CUDA", probe.Reason, StringComparison.Ordinal); // driver present: cuInit/no device/ILGPU
            }
        }
        else
        {
            // GPU machine: every device described; ILGPU's PTX target and ISA known for usable ones.
            Assert.NotEmpty(probe.Devices);
            Assert.All(probe.Devices, d =>
            {
                Assert.True(d.Multiprocessors > 0 && d.MemoryBytes > 0 && d.ClockMHz > 0, d.ToString());
                Assert.StartsWith("sm_", d.PtxTarget, StringComparison.Ordinal);
                Assert.True(d.IlgpuUnusable is not null || d.PtxIsa is not null, d.ToString());
            });
        }
    }
}
