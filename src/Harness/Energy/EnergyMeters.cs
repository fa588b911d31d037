namespace PixelCost.Harness.Energy;

/// <summary>Finds the meters of this machine.</summary>
public static class EnergyMeters
{
    /// <summary>The best meter for CPU work (RAPL package zones), or the "none" meter with its reason.</summary>
    public static IEnergyMeter ForCpu() => ForCpu(RaplMeter.DefaultRoot);

    internal static IEnergyMeter ForCpu(string powercapRoot, Func<string, string>? read = null)
    {
        var rapl = RaplMeter.Discover(powercapRoot, read);
        return rapl.Unavailable is null ? rapl : new NoEnergyMeter(rapl.Unavailable);
    }

    /// <summary>Every meter considered, readable or not (for `pixelcost devices`).</summary>
    public static IReadOnlyList<IEnergyMeter> All() => [RaplMeter.Discover(), new NvmlMeter()];
}
