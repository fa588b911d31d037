namespace PixelCost.Harness.Energy;

/// <summary>Finds the meters of this machine. CONTRACT STUB — replaced by the energy work.</summary>
public static class EnergyMeters
{
    /// <summary>The best meter for CPU work (RAPL package zones), or the "none" meter with its reason.</summary>
    public static IEnergyMeter ForCpu() => throw new NotImplementedException();

    /// <summary>Every meter considered, readable or not (for `pixelcost devices`).</summary>
    public static IReadOnlyList<IEnergyMeter> All() => throw new NotImplementedException();
}
