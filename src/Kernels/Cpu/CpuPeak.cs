namespace PixelCost.Kernels.Cpu;

/// <summary>Measured (not datasheet) limits of the CPU. CONTRACT STUB — replaced by the `devices` work.</summary>
public static class CpuPeak
{
    /// <summary>Peak fp32 FLOP/s measured by an FMA microbenchmark on <paramref name="threads"/> threads.</summary>
    public static double MeasureFmaFlops(int threads, double seconds = 0.5) => throw new NotImplementedException();

    /// <summary>Memory bandwidth in bytes/s measured by a STREAM-style triad (a = b + s·c; 3 arrays × 4 B per element counted, no write-allocate).</summary>
    public static double MeasureTriadBytesPerSecond(int threads, double seconds = 0.5) => throw new NotImplementedException();
}
