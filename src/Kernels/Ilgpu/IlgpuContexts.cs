using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>
/// The one way this project creates ILGPU contexts. Kernels are compiled at <see cref="OptimizationLevel.O2"/>: at O1
/// ILGPU keeps inline-PTX accumulators in local memory. The CPU accelerator simulates a GPU with 32-wide warps, so
/// warp shuffles and warp-synchronous code take the same paths as on CUDA.
/// </summary>
public static class IlgpuContexts
{
    // ILGPU binds its CUDA driver API once, when CudaAPI is first touched; the versioned-name resolver must be in
    // place before that (see NativeLibraries).
    static IlgpuContexts() => NativeLibraries.Register();

    /// <summary>32 threads per warp (as CUDA), 4 warps per multiprocessor (up to 128-thread groups), 2 multiprocessors.</summary>
    public static CPUDevice CpuDevice { get; } = new(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 8, numMultiprocessors: 2);

    /// <summary>A context with only ILGPU's CPU accelerator (how CI runs the GPU kernels). Every context has profiling
    /// markers on: launches are timed on the stream.</summary>
    public static Context CreateCpuContext() =>
        Context.Create(b => b.Optimize(OptimizationLevel.O2).Profiling().CPU(CpuDevice).EnableAlgorithms());

    /// <summary>A context with every CUDA device ILGPU finds (none without a driver) and the simulated CPU device.</summary>
    public static Context CreateContext() =>
        Context.Create(b => b.Optimize(OptimizationLevel.O2).Profiling().Cuda().CPU(CpuDevice).EnableAlgorithms());

    /// <summary>A context with the CUDA devices only, profiling markers on (launch timing on the stream).</summary>
    public static Context CreateCudaContext() =>
        Context.Create(b => b.Optimize(OptimizationLevel.O2).Profiling().Cuda().EnableAlgorithms());
}
