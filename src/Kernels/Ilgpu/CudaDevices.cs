using System.Runtime.InteropServices;
using ILGPU.Runtime.Cuda;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>One CUDA device as the driver and ILGPU see it.</summary>
/// <param name="Ordinal">The driver's device ordinal.</param>
/// <param name="ClockMHz">SM clock (CU_DEVICE_ATTRIBUTE_CLOCK_RATE, the maximum boost clock).</param>
/// <param name="MemoryClockMHz">Memory clock; peak DRAM bandwidth ≈ 2 × clock × bus width / 8 (DDR).</param>
/// <param name="Architecture">ILGPU's architecture, e.g. "SM_90".</param>
/// <param name="PtxIsa">The PTX ISA ILGPU would emit (".version"), e.g. "8.5"; null when ILGPU cannot use the device.</param>
/// <param name="PtxTarget">The ".target" ILGPU would emit, e.g. "sm_80": ILGPU targets the lowest architecture that
/// has every capability it uses, so it can be below the device's own.</param>
/// <param name="IlgpuUnusable">Null when <c>Context.Builder.Cuda()</c> includes the device; otherwise why not.</param>
public sealed record CudaDeviceInfo(
    int Ordinal,
    string Name,
    int ComputeMajor,
    int ComputeMinor,
    int Multiprocessors,
    long MemoryBytes,
    int ClockMHz,
    int MemoryClockMHz,
    int MemoryBusWidthBits,
    int MaxSharedMemoryPerGroup,
    int MaxSharedMemoryPerMultiprocessor,
    int L2CacheBytes,
    int WarpSize,
    string DriverVersion,
    string Architecture,
    string? PtxIsa,
    string? PtxTarget,
    string? IlgpuUnusable)
{
    /// <summary>Theoretical DRAM bandwidth from the memory clock and bus width (double data rate), GB/s.</summary>
    public double TheoreticalBandwidthGBps => 2.0 * MemoryClockMHz * 1e6 * MemoryBusWidthBits / 8 / 1e9;
}

/// <summary>The CUDA devices found, or why there are none (<see cref="Reason"/> is null exactly when some device
/// was found; a device ILGPU cannot use still appears, with <see cref="CudaDeviceInfo.IlgpuUnusable"/>).</summary>
public sealed record CudaProbe(IReadOnlyList<CudaDeviceInfo> Devices, string? Reason);

/// <summary>Finds CUDA devices without ever throwing: each step that can fail (driver library, cuInit, device count,
/// ILGPU's PTX support) turns into a reason.</summary>
public static unsafe class CudaDevices
{
    private const int CudaSuccess = 0;

    /// <summary>Probes the driver and ILGPU. GPU-only beyond the first step: without libcuda.so.1 it returns at once.</summary>
    public static CudaProbe Probe()
    {
        try
        {
            return ProbeCore();
        }
        catch (Exception e)
        {
            // The probe is for reports; a driver that misbehaves in an unexpected way is a reason, not a crash.
            return new CudaProbe([], $"CUDA probe failed: {e.GetType().Name}: {e.Message}");
        }
    }

    private static CudaProbe ProbeCore()
    {
        NativeLibraries.Register();
        if (!NativeLibraries.TryLoad("cuda", out nint lib, out string? notFound))
            return new CudaProbe([], $"no NVIDIA driver: {notFound}");

        // Our own calls for the steps ILGPU hides (it swallows every error and reports no devices).
        var cuInit = (delegate* unmanaged<uint, int>)Export(lib, "cuInit");
        var cuDriverGetVersion = (delegate* unmanaged<int*, int>)Export(lib, "cuDriverGetVersion");
        var cuDeviceGetCount = (delegate* unmanaged<int*, int>)Export(lib, "cuDeviceGetCount");
        if (cuInit == null || cuDriverGetVersion == null || cuDeviceGetCount == null)
            return new CudaProbe([], "libcuda.so.1 lacks cuInit/cuDriverGetVersion/cuDeviceGetCount (not an NVIDIA driver?)");

        int err = cuInit(0);
        if (err != CudaSuccess) return new CudaProbe([], $"CUDA driver: cuInit failed: {ErrorText(lib, err)}");
        int version = 0, count = 0;
        err = cuDriverGetVersion(&version);
        if (err != CudaSuccess) return new CudaProbe([], $"CUDA driver: cuDriverGetVersion failed: {ErrorText(lib, err)}");
        string driver = $"{version / 1000}.{version % 1000 / 10}";
        err = cuDeviceGetCount(&count);
        if (err != CudaSuccess) return new CudaProbe([], $"CUDA driver {driver}: cuDeviceGetCount failed: {ErrorText(lib, err)}");
        if (count == 0) return new CudaProbe([], $"CUDA driver {driver}: no CUDA device");

        if (!CudaAPI.CurrentAPI.IsSupported)
            return new CudaProbe([], $"CUDA driver {driver} works but ILGPU could not bind it (was CudaAPI touched before NativeLibraries.Register?)");

        // Every device, including those ILGPU's Cuda() would drop (no PTX ISA for this driver/architecture).
        var devices = CudaDevice.GetDevices(_ => true).OfType<CudaDevice>().Select(Describe).ToList();
        if (devices.Count == 0)
            return new CudaProbe([], $"CUDA driver {driver}: {count} device(s), but ILGPU could read none (compute capability below 3.0?)");
        return new CudaProbe(devices, null);
    }

    private static CudaDeviceInfo Describe(CudaDevice d)
    {
        var arch = d.Architecture!.Value; // GetDevices drops devices whose architecture ILGPU cannot name
        var caps = new CudaCapabilityContext(arch);
        string? unusable = null;
        string? isa = null;
        if (d.InstructionSet is { } set && PtxCompiler.SupportedInstructionSets.Contains(set))
        {
            isa = set.ToString();
        }
        else
        {
            CudaAccelerator.TryGetInstructionSet(caps.TargetArchitecture, d.DriverVersion, out var minDriver, out _);
            unusable = $"driver {d.DriverVersion} is too old for ILGPU's PTX on {arch} (needs driver {minDriver} or newer)";
        }
        return new CudaDeviceInfo(
            d.DeviceId, d.Name, arch.Major, arch.Minor, d.NumMultiprocessors, d.MemorySize, d.ClockRate, d.MemoryClockRate,
            d.MemoryBusWidth, d.MaxSharedMemoryPerGroup, d.MaxSharedMemoryPerMultiprocessor, d.L2CacheSize, d.WarpSize,
            d.DriverVersion.ToString(), arch.ToString(), isa, caps.TargetArchitecture.ToString().ToLowerInvariant(), unusable);
    }

    private static void* Export(nint lib, string name) =>
        NativeLibrary.TryGetExport(lib, name, out nint p) ? (void*)p : null;

    /// <summary>"CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)", from the driver's own tables.</summary>
    private static string ErrorText(nint lib, int err)
    {
        var getName = (delegate* unmanaged<int, byte**, int>)Export(lib, "cuGetErrorName");
        var getString = (delegate* unmanaged<int, byte**, int>)Export(lib, "cuGetErrorString");
        byte* name = null, text = null;
        string n = getName != null && getName(err, &name) == CudaSuccess && name != null
            ? Marshal.PtrToStringUTF8((nint)name) ?? $"error {err}"
            : $"error {err}";
        string t = getString != null && getString(err, &text) == CudaSuccess && text != null
            ? Marshal.PtrToStringUTF8((nint)text) ?? ""
            : "";
        return t.Length > 0 ? $"{n} ({t})" : n;
    }
}
