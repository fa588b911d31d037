using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Harness;

/// <summary>
/// The one place the CLI turns an <c>--accelerator</c> value into accelerators: <c>cpu</c> (our SIMD kernels),
/// <c>ilgpu-cpu</c> (ILGPU's CPU accelerator: the GPU kernels simulated on the host, for checking them), <c>cuda</c>
/// (every CUDA device), <c>cuda:N</c>, or <c>all</c> (cpu and every CUDA device there is).
/// </summary>
public static class Accelerators
{
    public const string Help = "cpu (our SIMD kernels), ilgpu-cpu (the GPU kernels on ILGPU's CPU accelerator: for checking, never for speed), cuda, cuda:N, or all (cpu + every CUDA device)";

    /// <summary>Opens what <paramref name="spec"/> names. A CUDA request with no usable device is a CliException that
    /// says why (no driver, no device); <c>all</c> instead notes it and goes on with the CPU.</summary>
    public static List<IAccelerator> Open(string? spec, int threads, int vectorBits, Action<string> note)
    {
        string s = (spec ?? "cpu").Trim().ToLowerInvariant();
        var list = new List<IAccelerator>();
        try
        {
            switch (s)
            {
                case "cpu": list.Add(new CpuAccelerator(threads, vectorBits)); break;
                case "ilgpu-cpu": list.Add(IlgpuAccelerator.CreateCpu()); break;
                case "cuda":
                case "all":
                    if (s == "all") list.Add(new CpuAccelerator(threads, vectorBits));
                    var (count, why) = CudaCount();
                    if (count == 0)
                    {
                        if (s == "cuda") throw new CliException($"--accelerator cuda: no CUDA device ({why})");
                        note($"no CUDA device ({why}); running on the CPU only");
                    }
                    for (int i = 0; i < count; i++) list.Add(OpenCuda(i));
                    break;
                default:
                    if (s.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(s[5..], out int n) && n >= 0)
                    {
                        list.Add(OpenCuda(n));
                        break;
                    }
                    throw new CliException($"--accelerator '{spec}' is not known; use {Help}");
            }
        }
        catch
        {
            foreach (var a in list) a.Dispose();
            throw;
        }
        return list;
    }

    private static IAccelerator OpenCuda(int index)
    {
        try { return IlgpuAccelerator.CreateCuda(index); }
        catch (AcceleratorUnavailableException e) { throw new CliException($"--accelerator cuda:{index}: {e.Message}"); }
    }

    /// <summary>How many CUDA devices there are, or 0 and why.</summary>
    public static (int Count, string? Why) CudaCount()
    {
        var probe = CudaDevices.Probe();
        return probe.Devices.Count > 0 ? (probe.Devices.Count, null) : (0, probe.Reason);
    }
}
