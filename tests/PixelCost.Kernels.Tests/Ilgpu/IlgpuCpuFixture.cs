using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// One ILGPU CPU accelerator (32-wide simulated warps) shared by a test class: kernels compile once per accelerator,
/// so a class's tests share the compile cost. Use as <c>IClassFixture&lt;IlgpuCpuFixture&gt;</c>.
/// </summary>
public sealed class IlgpuCpuFixture : IDisposable
{
    public IlgpuCpuFixture()
    {
        Context = IlgpuContexts.CreateCpuContext();
        Accelerator = Context.GetPreferredDevice(preferCPU: true).CreateAccelerator(Context);
    }

    public Context Context { get; }
    public Accelerator Accelerator { get; }

    public MemoryBuffer1D<float, Stride1D.Dense> Upload(float[] data) => Accelerator.Allocate1D(data);

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}
