using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using PixelCost.Harness.Energy;
using PixelCost.Harness.Reporting;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using Spectre.Console;

namespace PixelCost.Harness.Commands;

/// <summary>
/// `pixelcost devices`: each accelerator with its measured peaks (the denominators of every "percent of peak"), and
/// each energy meter, readable or why not.
/// </summary>
public static class DevicesCommand
{
    public static Command Create()
    {
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for the CPU peak measurements (default: one per logical processor)",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var json = new Option<bool>("--json") { Description = "Print JSON only (on stdout)" };
        // Hidden: tests shorten the measurement; users want the default, which gives stable figures.
        var seconds = new Option<double>("--seconds")
        {
            Description = "Seconds per peak measurement",
            DefaultValueFactory = _ => 0.5,
            Hidden = true,
        };
        var cmd = new Command("devices", "List accelerators with measured peak FLOP/s and bandwidth, and energy meters");
        cmd.Options.Add(threads);
        cmd.Options.Add(json);
        cmd.Options.Add(seconds);
        cmd.SetAction(pr =>
        {
            TextWriter stdout = pr.InvocationConfiguration.Output, stderr = pr.InvocationConfiguration.Error;
            int n = pr.GetValue(threads);
            double s = pr.GetValue(seconds);
            if (n <= 0) throw new CliException($"--threads must be ≥ 1, got {n}");
            if (!(s > 0) || s > 600) throw new CliException($"--seconds must be in (0, 600], got {s.ToString(CultureInfo.InvariantCulture)}");
            Report report;
            using (var progress = ProgressLine.Start("devices", stderr, pr.GetValue(json)))
                report = Collect(n, s, progress);
            if (pr.GetValue(json)) WriteJson(report, stdout);
            else WriteTable(report, stdout);
            return 0;
        });
        return cmd;
    }

    /// <summary>Runs `devices` in-process with the given writers (used by tests; Program.Main goes through Create()).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        Cli.RunInProcess(["devices", .. args], stdout, stderr, Create());

    internal sealed record CpuReport(
        string Name, int Cores, int LogicalProcessors, int SimdWidthBits, IReadOnlyList<string> Isa,
        int MeasuredThreads, double MeasuredFp32FlopsPerSecond, double MeasuredTriadBytesPerSecond,
        double MeasurementSeconds);

    /// <summary>One CUDA device: what the driver says, what ILGPU targets, and the peaks measured on it now.</summary>
    internal sealed record CudaDeviceReport(
        string Id, string Name, int Multiprocessors, long MemoryBytes, int ClockMHz, int MemoryClockMHz, string ComputeCapability,
        string? PtxIsa, string? PtxTarget, long L2CacheBytes, double TheoreticalBandwidthGBps,
        double? MeasuredFp32FlopsPerSecond, double? MeasuredTriadBytesPerSecond, string? NotMeasured);

    internal sealed record CudaReport(bool Available, string Status, IReadOnlyList<CudaDeviceReport> Devices);

    /// <summary>ILGPU's CPU accelerator: the GPU kernels simulated on the host (for checking them; never timed as a device).</summary>
    internal sealed record IlgpuCpuReport(string Id, string Name, int WarpSize, int Multiprocessors, int MaxThreadsPerGroup);

    internal sealed record MeterReport(string Name, bool Readable, string? Reason);

    internal sealed record Report(CpuReport Cpu, IlgpuCpuReport IlgpuCpu, CudaReport Cuda, IReadOnlyList<MeterReport> EnergyMeters);

    internal static Report Collect(int threads, double seconds, ProgressLine? progress = null)
    {
        var (name, cores) = CpuIdentity();
        progress?.Step("measuring the CPU's peak FMA rate and triad bandwidth", 1, 3);
        double flops = CpuPeak.MeasureFmaFlops(threads, seconds, vectorBits: Math.Max(256, CpuAccelerator.SimdWidthBits));
        double triad = CpuPeak.MeasureTriadBytesPerSecond(threads, seconds);
        var cpu = new CpuReport(name, cores, Environment.ProcessorCount, CpuAccelerator.SimdWidthBits, Isa(), threads, flops, triad, seconds);
        var meters = EnergyMeters.All().Select(m => new MeterReport(m.Name, m.Unavailable is null, m.Unavailable)).ToList();
        progress?.Step("opening ILGPU's CPU accelerator", 2, 3);
        IlgpuCpuReport ilgpu;
        using (var sim = IlgpuAccelerator.CreateCpu())
            ilgpu = new IlgpuCpuReport(sim.Id, sim.Name, sim.Device.WarpSize, sim.Device.NumMultiprocessors, sim.Device.MaxNumThreadsPerGroup);
        progress?.Step("probing CUDA devices", 3, 3);
        return new Report(cpu, ilgpu, Cuda(seconds), meters);
    }

    private static CudaReport Cuda(double seconds)
    {
        var probe = CudaDevices.Probe();
        if (probe.Devices.Count == 0) return new CudaReport(false, $"CUDA: not available: {probe.Reason}", []);
        var list = new List<CudaDeviceReport>();
        foreach (var d in probe.Devices)
        {
            double? flops = null, triad = null;
            string? why = d.IlgpuUnusable;
            if (why is null)
            {
                try
                {
                    using var acc = IlgpuAccelerator.CreateCuda(d.Ordinal);
                    var r = GpuPeak.Measure(acc.Device, TimeSpan.FromSeconds(seconds));
                    (flops, triad) = (r.Gflops * 1e9, r.TriadGBps * 1e9);
                }
                catch (Exception e) when (e is AcceleratorUnavailableException or ILGPU.Runtime.AcceleratorException or OutOfMemoryException)
                {
                    why = e.Message;
                }
            }
            list.Add(new CudaDeviceReport($"cuda:{d.Ordinal}", d.Name, d.Multiprocessors, d.MemoryBytes, d.ClockMHz, d.MemoryClockMHz,
                $"{d.ComputeMajor}.{d.ComputeMinor}", d.PtxIsa, d.PtxTarget, d.L2CacheBytes, d.TheoreticalBandwidthGBps, flops, triad, why));
        }
        return new CudaReport(true, $"CUDA: {list.Count} device(s), driver {probe.Devices[0].DriverVersion}", list);
    }

    internal static IReadOnlyList<string> Isa()
    {
        var isa = new List<string>();
        if (Sse42.IsSupported) isa.Add("SSE4.2");
        if (Avx.IsSupported) isa.Add("AVX");
        if (Avx2.IsSupported) isa.Add("AVX2");
        if (Fma.IsSupported) isa.Add("FMA");
        if (Avx512F.IsSupported) isa.Add("AVX-512F");
        if (System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported) isa.Add("AdvSIMD");
        return isa;
    }

    /// <summary>CPU model and physical core count from /proc/cpuinfo; falls back to the processor count.</summary>
    internal static (string Name, int Cores) CpuIdentity(string cpuinfo = "/proc/cpuinfo")
    {
        string name = RuntimeInformation.ProcessArchitecture.ToString();
        int cores = Environment.ProcessorCount;
        try
        {
            var physCore = new HashSet<(string, string)>();
            string phys = "0";
            foreach (string line in File.ReadLines(cpuinfo))
            {
                int colon = line.IndexOf(':');
                if (colon < 0) continue;
                string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                if (key == "model name" && name == RuntimeInformation.ProcessArchitecture.ToString()) name = value;
                else if (key == "physical id") phys = value;
                else if (key == "core id") physCore.Add((phys, value)); // one per hardware thread; SMT siblings share it
            }
            if (physCore.Count > 0) cores = physCore.Count;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return (name, cores);
    }

    private static void WriteJson(Report r, TextWriter stdout)
    {
        stdout.WriteLine(JsonSerializer.Serialize(r, KernelBench.JsonOptions));
    }

    private static void WriteTable(Report r, TextWriter stdout)
    {
        var console = Terminal.Console(stdout, 160);
        var t = new Table().Title("Accelerators").AddColumn("Device").AddColumn("Property").AddColumn("Value");
        var c = r.Cpu;
        void Row(string device, string property, string value) =>
            t.AddRow(new Text(device), new Text(property), new Text(value));
        Row("CPU", "name", c.Name);
        Row("", "cores / logical processors", $"{c.Cores} / {c.LogicalProcessors}");
        Row("", "SIMD", $"{c.SimdWidthBits}-bit ({string.Join(", ", c.Isa)})");
        Row("", $"peak fp32 (measured, {c.MeasuredThreads} thread{(c.MeasuredThreads == 1 ? "" : "s")}, FMA)", $"{c.MeasuredFp32FlopsPerSecond / 1e9:F1} GFLOP/s");
        Row("", $"triad bandwidth (measured, {c.MeasuredThreads} thread{(c.MeasuredThreads == 1 ? "" : "s")})", $"{c.MeasuredTriadBytesPerSecond / 1e9:F1} GB/s");
        var g = r.IlgpuCpu;
        Row(g.Id, "what", $"ILGPU's CPU accelerator: GPU kernels simulated with {g.Multiprocessors} multiprocessors of {g.WarpSize}-wide warps (≤ {g.MaxThreadsPerGroup} threads/group); for checking kernels, never a performance figure");
        Row("CUDA", "status", r.Cuda.Status);
        foreach (var d in r.Cuda.Devices)
        {
            Row(d.Id, "name", $"{d.Name} (compute {d.ComputeCapability})");
            Row("", "SMs / memory", $"{d.Multiprocessors} SMs, {d.MemoryBytes / (double)(1L << 30):F1} GiB, L2 {d.L2CacheBytes / (1 << 20)} MiB");
            Row("", "clocks", $"{d.ClockMHz} MHz core, {d.MemoryClockMHz} MHz memory ({d.TheoreticalBandwidthGBps:F0} GB/s theoretical)");
            Row("", "PTX", d.PtxIsa is null ? "ILGPU cannot target it" : $"ISA {d.PtxIsa}, target {d.PtxTarget}");
            Row("", "peak fp32 (measured, FMA)", d.MeasuredFp32FlopsPerSecond is { } f ? $"{f / 1e9:F1} GFLOP/s" : $"not measured: {d.NotMeasured}");
            Row("", "triad bandwidth (measured)", d.MeasuredTriadBytesPerSecond is { } b ? $"{b / 1e9:F1} GB/s" : $"not measured: {d.NotMeasured}");
        }
        console.Write(t);

        var m = new Table().Title("Energy meters").AddColumn("Meter").AddColumn("Status");
        foreach (var e in r.EnergyMeters) m.AddRow(new Text(e.Name), new Text(e.Readable ? "readable" : $"not readable: {e.Reason}"));
        console.Write(m);
        console.WriteLine("Peaks are measured on this machine now (FMA microbenchmark; STREAM triad, 12 B/element, no write-allocate counted); other load lowers them.");
    }
}
