namespace PixelCost.Harness.Energy;

/// <summary>
/// Reads an energy counter at the start and end of a window (DESIGN §4). Counters update every ~10–100 ms, so callers
/// keep windows ≥ 1 s. A meter that cannot measure says why in <see cref="Unavailable"/>.
/// </summary>
public interface IEnergyMeter
{
    /// <summary>e.g. "RAPL package-0", "NVML GPU 0", "none".</summary>
    string Name { get; }

    /// <summary>Null when the meter can measure; otherwise the reason, e.g. "RAPL: /sys/class/powercap not present".</summary>
    string? Unavailable { get; }

    /// <summary>Begins a window. Call after the accelerator is synchronised.</summary>
    IEnergyWindow Start();
}

public interface IEnergyWindow
{
    /// <summary>Joules since <see cref="IEnergyMeter.Start"/>; null with a reason if it could not be read.</summary>
    EnergyReading Stop();
}

/// <summary>Measured joules, or why not.</summary>
public readonly record struct EnergyReading(double? Joules, string? NotMeasuredReason)
{
    public override string ToString() => Joules is { } j ? $"{j:F3} J (measured)" : $"not measured: {NotMeasuredReason}";
}
