using System.Runtime.InteropServices;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>An NVML call that failed: <see cref="Exception.Message"/> names the call and NVML's error string.</summary>
public sealed class NvmlCallException(string call, int code, string text)
    : Exception($"{call} failed: {text} (nvmlReturn_t {code})")
{
    public string Call { get; } = call;
    public int Code { get; } = code;
}

/// <summary>
/// The few NVML entry points the energy meter needs (nvml.h). GPU-only: every call needs
/// <c>libnvidia-ml.so.1</c>, which comes with the NVIDIA driver; the library is loaded on the first call (through
/// <see cref="NativeLibraries"/>), never at type load, so this type is safe on machines without it.
/// </summary>
public static unsafe partial class Nvml
{
    /// <summary>The file the driver installs.</summary>
    public const string Library = "libnvidia-ml.so.1";

    public const int Success = 0;

    /// <summary>NVML_ERROR_NOT_SUPPORTED: the device lacks the feature (e.g. the energy counter before Volta).</summary>
    public const int NotSupported = 3;

    private const string Lib = "nvidia-ml";

    [LibraryImport(Lib)] private static partial int nvmlInit_v2();
    [LibraryImport(Lib)] private static partial int nvmlShutdown();
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetCount_v2(uint* count);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetHandleByIndex_v2(uint index, nint* device);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetName(nint device, byte* name, uint length);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetTotalEnergyConsumption(nint device, ulong* millijoules);
    [LibraryImport(Lib)] private static partial int nvmlDeviceGetPowerUsage(nint device, uint* milliwatts);
    [LibraryImport(Lib)] private static partial nint nvmlErrorString(int result);

    /// <summary>Whether the library loads; otherwise <paramref name="reason"/> names the files tried.</summary>
    public static bool IsAvailable(out string? reason)
    {
        NativeLibraries.Register();
        return NativeLibraries.TryLoad(Lib, out _, out reason);
    }

    /// <summary>NVML's own text for a return code.</summary>
    public static string ErrorString(int result)
    {
        try
        {
            return Marshal.PtrToStringUTF8(nvmlErrorString(result)) ?? $"error {result}";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return $"error {result}";
        }
    }

    /// <summary>The one check every call goes through (DESIGN §7.10).</summary>
    public static void Check(int result, string call)
    {
        if (result != Success) throw new NvmlCallException(call, result, ErrorString(result));
    }

    /// <summary>Initialises NVML (reference-counted by NVML itself); dispose the session to release it.</summary>
    /// <exception cref="DllNotFoundException">Without the library (check <see cref="IsAvailable"/> first).</exception>
    /// <exception cref="NvmlCallException">nvmlInit_v2 failed (e.g. "Driver Not Loaded").</exception>
    public static NvmlSession Open()
    {
        NativeLibraries.Register();
        Check(nvmlInit_v2(), "nvmlInit_v2");
        return new NvmlSession();
    }

    /// <summary>An initialised NVML; its methods are the device queries.</summary>
    public sealed class NvmlSession : IDisposable
    {
        private int _disposed;

        internal NvmlSession() { }

        public uint DeviceCount()
        {
            uint n;
            Check(nvmlDeviceGetCount_v2(&n), "nvmlDeviceGetCount_v2");
            return n;
        }

        public nint DeviceHandle(uint index)
        {
            nint h;
            Check(nvmlDeviceGetHandleByIndex_v2(index, &h), $"nvmlDeviceGetHandleByIndex_v2({index})");
            return h;
        }

        public string DeviceName(nint device)
        {
            // NVML_DEVICE_NAME_V2_BUFFER_SIZE is 96.
            byte* buf = stackalloc byte[96];
            Check(nvmlDeviceGetName(device, buf, 96), "nvmlDeviceGetName");
            return Marshal.PtrToStringUTF8((nint)buf) ?? "";
        }

        /// <summary>Energy since the driver loaded, mJ (Volta and newer). Returns NVML's code instead of throwing so
        /// callers can tell <see cref="NotSupported"/> from a failure.</summary>
        public int TryTotalEnergyMillijoules(nint device, out ulong millijoules)
        {
            ulong v;
            int r = nvmlDeviceGetTotalEnergyConsumption(device, &v);
            millijoules = v;
            return r;
        }

        public ulong TotalEnergyMillijoules(nint device)
        {
            Check(TryTotalEnergyMillijoules(device, out ulong v), "nvmlDeviceGetTotalEnergyConsumption");
            return v;
        }

        /// <summary>Board power draw, mW (on many boards an average over the last second, not instantaneous).</summary>
        public int TryPowerMilliwatts(nint device, out uint milliwatts)
        {
            uint v;
            int r = nvmlDeviceGetPowerUsage(device, &v);
            milliwatts = v;
            return r;
        }

        public uint PowerMilliwatts(nint device)
        {
            Check(TryPowerMilliwatts(device, out uint v), "nvmlDeviceGetPowerUsage");
            return v;
        }

        /// <summary>nvmlShutdown once; never throws (a failing shutdown at exit is not worth a crash).</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            try { nvmlShutdown(); }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        }
    }
}
