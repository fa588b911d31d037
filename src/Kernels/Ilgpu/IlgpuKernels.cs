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
            if (_loaded.TryGetValue(typeof(T), out var k)) return (T)k;
            try { k = create(acc.Device); }
            catch (Exception e) when (e is InternalCompilerException or AcceleratorException or NotSupportedException or InvalidOperationException)
            {
                throw new AcceleratorUnavailableException($"{typeof(T).Name}: kernels failed to compile or load on {acc.Id}: {e.Message}", e);
            }
            _loaded[typeof(T)] = k;
            return (T)k;
        }
    }

    private AcceleratorStream Stream => acc.Stream;

    private NotSupportedException Missing(string op) => new($"{op}: no ILGPU kernel for this op yet (accelerator {acc.Id}); run it on cpu");

    /// <summary>An absent optional tensor is an empty view.</summary>
    private static ArrayView<float> ViewOrEmpty(Tensor? t) => t is null ? default : t.F32View();

    public KernelLaunch DenoiseStep(Tensor x, Tensor modelOut, Tensor y, DenoiseCoefficients c, Tensor? noise, Tensor? hist, Tensor? aux, int variant)
    {
        var k = Get(a => new DenoiseStepIlgpu(a));
        ArrayView<float> vx = x.F32View(), vm = modelOut.F32View(), vn = ViewOrEmpty(noise), vh = ViewOrEmpty(hist), vy = y.F32View(), va = ViewOrEmpty(aux);
        return new(k.KernelName(vx, vm, vn, vh, vy, va, variant), () => k.Run(Stream, vx, vm, vn, vh, vy, va, c, variant));
    }

    public KernelLaunch Copy(Tensor src, Tensor dst)
    {
        var k = Get(a => new CopyIlgpu(a));
        return new(CopyIlgpu.Variant, () => k.Run(Stream, src, dst));
    }
}
