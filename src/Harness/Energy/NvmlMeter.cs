using System.Diagnostics;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Harness.Energy;

/// <summary>How an <see cref="NvmlMeter"/> measures.</summary>
public enum NvmlMode
{
    /// <summary>Not measuring (see <see cref="NvmlMeter.Unavailable"/>).</summary>
    None,

    /// <summary>nvmlDeviceGetTotalEnergyConsumption at both ends of the window (mJ counter, Volta and newer).</summary>
    EnergyCounter,

    /// <summary>nvmlDeviceGetPowerUsage sampled every <see cref="NvmlMeter.SamplePeriod"/> and integrated.</summary>
    PowerSamples,
}

/// <summary>One power reading: seconds since the window began, and milliwatts.</summary>
public readonly record struct PowerSample(double Seconds, double Milliwatts);

/// <summary>
/// NVIDIA GPU energy through NVML (DESIGN §4): the total-energy counter read at the start and end of a window, or,
/// where the device has no counter, board power sampled on a background thread and integrated (trapezoids). The meter
/// does not know accelerators: callers synchronise the GPU before <see cref="Start"/> and before
/// <see cref="IEnergyWindow.Stop"/>. GPU-only; without <c>libnvidia-ml.so.1</c> it says so in <see cref="Unavailable"/>.
/// </summary>
public sealed class NvmlMeter : IEnergyMeter, IDisposable
{
    public const string Library = Nvml.Library;

    /// <summary>Power-sample period; NVML updates power every ~20–100 ms depending on the board.</summary>
    public static readonly TimeSpan SamplePeriod = TimeSpan.FromMilliseconds(20);

    private readonly Nvml.NvmlSession? _nvml;
    private readonly nint _device;

    /// <summary>Opens NVML for GPU <paramref name="deviceIndex"/> (NVML's order, which follows PCI bus order, not
    /// necessarily CUDA's). Never throws: every failure becomes <see cref="Unavailable"/>.</summary>
    public NvmlMeter(uint deviceIndex = 0)
    {
        DeviceIndex = deviceIndex;
        Name = "NVML";
        if (!Nvml.IsAvailable(out string? missing))
        {
            Unavailable = $"NVML: {missing}";
            return;
        }
        try
        {
            _nvml = Nvml.Open();
            _device = _nvml.DeviceHandle(deviceIndex);
            Name = $"NVML GPU {deviceIndex} ({_nvml.DeviceName(_device)})";
            int r = _nvml.TryTotalEnergyMillijoules(_device, out _);
            if (r == Nvml.Success)
            {
                Mode = NvmlMode.EnergyCounter;
                return;
            }
            int p = _nvml.TryPowerMilliwatts(_device, out _);
            if (p == Nvml.Success)
            {
                Mode = NvmlMode.PowerSamples;
                return;
            }
            Unavailable = $"{Name}: nvmlDeviceGetTotalEnergyConsumption: {Nvml.ErrorString(r)}; nvmlDeviceGetPowerUsage: {Nvml.ErrorString(p)}";
        }
        catch (Exception e) when (e is NvmlCallException or DllNotFoundException or EntryPointNotFoundException)
        {
            Unavailable = $"NVML: {e.Message}";
        }
        _nvml?.Dispose();
        _nvml = null;
    }

    public string Name { get; }
    public string? Unavailable { get; }
    public uint DeviceIndex { get; }
    public NvmlMode Mode { get; }

    public IEnergyWindow Start()
    {
        if (Unavailable is not null || _nvml is null) return new NotMeasuredWindow(Unavailable ?? "NVML: disposed");
        try
        {
            return Mode == NvmlMode.EnergyCounter
                ? new CounterWindow(this, _nvml.TotalEnergyMillijoules(_device))
                : new SampledWindow(this);
        }
        catch (NvmlCallException e)
        {
            return new NotMeasuredWindow($"{Name}: {e.Message}");
        }
    }

    /// <summary>Joules under the piecewise-linear power curve through <paramref name="samples"/> (trapezoid rule;
    /// samples in time order; fewer than two samples span no time and give 0).</summary>
    public static double IntegratePowerJoules(IReadOnlyList<PowerSample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        double millijoules = 0;
        for (int i = 1; i < samples.Count; i++)
        {
            double dt = samples[i].Seconds - samples[i - 1].Seconds;
            if (dt < 0) throw new ArgumentException($"power samples out of order at {i}: {samples[i - 1].Seconds} s then {samples[i].Seconds} s", nameof(samples));
            millijoules += dt * (samples[i].Milliwatts + samples[i - 1].Milliwatts) / 2;
        }
        return millijoules / 1000;
    }

    /// <summary>Shuts NVML down (our reference); never throws.</summary>
    public void Dispose() => _nvml?.Dispose();

    private sealed class CounterWindow(NvmlMeter meter, ulong startMj) : IEnergyWindow
    {
        public EnergyReading Stop()
        {
            try
            {
                ulong end = meter._nvml!.TotalEnergyMillijoules(meter._device);
                return end >= startMj
                    ? new EnergyReading((end - startMj) / 1000.0, null)
                    : new EnergyReading(null, $"{meter.Name}: energy counter went back from {startMj} to {end} mJ (driver reloaded?)");
            }
            catch (Exception e) when (e is NvmlCallException or ObjectDisposedException)
            {
                return new EnergyReading(null, $"{meter.Name}: {e.Message}");
            }
        }
    }

    /// <summary>Samples power on its own thread from <see cref="Start"/> until <see cref="Stop"/>.</summary>
    private sealed class SampledWindow : IEnergyWindow
    {
        private readonly NvmlMeter _meter;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly List<PowerSample> _samples = [];
        private readonly ManualResetEventSlim _stop = new();
        private readonly Thread _thread;
        private string? _failure;

        public SampledWindow(NvmlMeter meter)
        {
            _meter = meter;
            Sample();
            _thread = new Thread(Run) { IsBackground = true, Name = "NVML power sampler" };
            _thread.Start();
        }

        private void Run()
        {
            while (!_stop.Wait(SamplePeriod) && _failure is null) Sample();
        }

        private void Sample()
        {
            int r = _meter._nvml!.TryPowerMilliwatts(_meter._device, out uint mw);
            double t = _clock.Elapsed.TotalSeconds;
            lock (_samples)
            {
                if (r == Nvml.Success) _samples.Add(new PowerSample(t, mw));
                else _failure ??= $"{_meter.Name}: nvmlDeviceGetPowerUsage failed: {Nvml.ErrorString(r)}";
            }
        }

        public EnergyReading Stop()
        {
            _stop.Set();
            _thread.Join();
            Sample();
            _stop.Dispose();
            lock (_samples)
            {
                return _failure is not null
                    ? new EnergyReading(null, _failure)
                    : new EnergyReading(IntegratePowerJoules(_samples), null);
            }
        }
    }
}
