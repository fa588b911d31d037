using ILGPU;
using ILGPU.Runtime;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>
/// The ILGPU backend's kernel table: each op's ILGPU kernel class (in its op folder) created on first use — which
/// compiles and loads its kernels once for this accelerator — and kept. Launches are enqueued on the accelerator's
/// stream.
/// </summary>
internal sealed partial class IlgpuKernels(IlgpuAccelerator acc) : IOpKernels
{
    private readonly Dictionary<Type, object> _loaded = new();
    private readonly Lock _lock = new();

    /// <summary>The op's kernel class for this accelerator, created (kernels compiled) once.</summary>
    private T Get<T>(Func<Accelerator, T> create) where T : class
    {
        lock (_lock)
        {
            if (!_loaded.TryGetValue(typeof(T), out var k)) _loaded[typeof(T)] = k = create(acc.Device);
            return (T)k;
        }
    }

    private AcceleratorStream Stream => acc.Stream;

    private NotSupportedException Missing(string op) => new($"{op}: no ILGPU kernel for this op yet (accelerator {acc.Id}); run it on cpu");

    public KernelLaunch Copy(Tensor src, Tensor dst)
    {
        var k = Get(a => new CopyIlgpu(a));
        return new(CopyIlgpu.Variant, () => k.Run(Stream, src, dst));
    }
}
