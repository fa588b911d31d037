using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>Measured peak rates of one accelerator: fp32 FMA throughput (2 FLOPs per FMA) and triad bandwidth.</summary>
public readonly record struct PeakRates(double Gflops, double TriadGBps);

/// <summary>Sizes of the peak measurement.</summary>
/// <param name="Groups">FMA grid: groups of <paramref name="GroupSize"/> threads.</param>
/// <param name="Iterations">FMA loop trips per thread (each trip: <see cref="GpuPeak.FmasPerIteration"/> FMAs).</param>
/// <param name="TriadElements">Floats per triad array (three arrays).</param>
/// <param name="MinRepeats">Timed launches at least, beyond the warm-up; more until the minimum time is reached.</param>
public sealed record PeakConfig(int Groups, int GroupSize, int Iterations, int TriadElements, int MinRepeats = 3)
{
    /// <summary>
    /// GPU: 8 groups of 256 per multiprocessor (2048 threads, the SM limit on Volta…Hopper, so every scheduler has
    /// enough warps to hide the 4-cycle FMA latency with 8 independent chains each) and 64 Ki trips (~ms per launch);
    /// triad over 3 × 256 MiB (far beyond any L2) or what fits in a third of device memory. CPU accelerator
    /// (every GPU thread simulated): tiny, it only shows the kernels run.
    /// </summary>
    public static PeakConfig For(Accelerator acc)
    {
        ArgumentNullException.ThrowIfNull(acc);
        if (acc.AcceleratorType == AcceleratorType.CPU) return new PeakConfig(2, 64, 16, 4096);
        int groupSize = Math.Min(256, acc.MaxNumThreadsPerGroup);
        int perSm = Math.Max(1, acc.MaxNumThreadsPerMultiprocessor / groupSize);
        long triad = Math.Min(64L << 20, acc.MemorySize / 3 / 3 / sizeof(float));
        return new PeakConfig(acc.NumMultiprocessors * perSm, groupSize, 1 << 16, (int)Math.Max(1 << 20, triad));
    }
}

/// <summary>
/// Measures an accelerator's fp32 FMA rate and memory bandwidth with our own ILGPU kernels, to give "% of measured
/// peak" a denominator. Timed with ILGPU profiling markers when the context has profiling enabled
/// (<see cref="IlgpuContexts.CreateContext(bool)"/>), else host stopwatch around synchronised launches; the median
/// over repeats is reported. Runs anywhere; only GPU numbers mean anything.
/// </summary>
public static class GpuPeak
{
    /// <summary>Independent FMA chains per thread (fields of <see cref="Chains8"/>).</summary>
    public const int ChainsPerThread = 8;

    /// <summary>Rounds of every chain per loop trip: ILGPU does not unroll, so the loop's compare-and-branch is
    /// amortised over 32 FMAs.</summary>
    public const int RoundsPerIteration = 4;

    public const int FmasPerIteration = ChainsPerThread * RoundsPerIteration;

    // c ← c·X + Y converges to Y/(1−X) = 1 from any start: values stay finite and normal for any trip count.
    public const float X = 0.999f;
    public const float Y = 0.001f;

    /// <summary>Eight independent accumulators as scalars (a run-time-indexed local array would spill to local memory).</summary>
    public struct Chains8
    {
        public float C0, C1, C2, C3, C4, C5, C6, C7;

        public static Chains8 Start(int thread)
        {
            // Distinct per thread and chain, so no two chains are the same computation.
            float b = (thread & 1023) * 1e-3f;
            return new Chains8
            {
                C0 = b, C1 = b + 0.01f, C2 = b + 0.02f, C3 = b + 0.03f,
                C4 = b + 0.04f, C5 = b + 0.05f, C6 = b + 0.06f, C7 = b + 0.07f,
            };
        }

        /// <summary>One FMA on each chain; the eight are independent, so they issue back to back.</summary>
        public static void Round(ref Chains8 c, float x, float y)
        {
            c.C0 = c.C0 * x + y;
            c.C1 = c.C1 * x + y;
            c.C2 = c.C2 * x + y;
            c.C3 = c.C3 * x + y;
            c.C4 = c.C4 * x + y;
            c.C5 = c.C5 * x + y;
            c.C6 = c.C6 * x + y;
            c.C7 = c.C7 * x + y;
        }

        public readonly float Sum() => ((C0 + C1) + (C2 + C3)) + ((C4 + C5) + (C6 + C7));
    }

    /// <summary>Each thread runs its chains <paramref name="iterations"/> × <see cref="RoundsPerIteration"/> rounds and
    /// writes their sum, so the work is observable and cannot be removed.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void FmaKernel(ArrayView<float> output, int iterations, float x, float y)
    {
        int thread = Grid.GlobalIndex.X;
        var c = Chains8.Start(thread);
        for (int it = 0; it < iterations; it++)
        {
            Chains8.Round(ref c, x, y);
            Chains8.Round(ref c, x, y);
            Chains8.Round(ref c, x, y);
            Chains8.Round(ref c, x, y);
        }
        if (thread < output.Length) output[thread] = c.Sum();
    }

    /// <summary>STREAM triad a = b + s·c, grid-stride.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void TriadKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, float s)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < a.IntLength; i += stride) a[i] = b[i] + s * c[i];
    }

    /// <summary>What <see cref="FmaKernel"/> writes for <paramref name="thread"/>, computed on the host (on CUDA the
    /// multiply-add may be fused into one rounding, so GPU results can differ in the last bits).</summary>
    public static float FmaReference(int thread, int iterations)
    {
        var c = Chains8.Start(thread);
        for (int it = 0; it < iterations * RoundsPerIteration; it++) Chains8.Round(ref c, X, Y);
        return c.Sum();
    }

    /// <summary>Runs the FMA kernel once and returns every thread's result (for tests).</summary>
    public static float[] RunFma(Accelerator acc, PeakConfig config)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(config);
        var k = acc.LoadKernel<ArrayView<float>, int, float, float>(FmaKernel);
        using var output = acc.Allocate1D<float>((long)config.Groups * config.GroupSize);
        k(acc.DefaultStream, new KernelConfig(config.Groups, config.GroupSize), output.View, config.Iterations, X, Y);
        acc.Synchronize();
        return output.GetAsArray1D();
    }

    /// <summary>Peak fp32 GFLOP/s and triad GB/s with <see cref="PeakConfig.For"/>; each measurement repeats until
    /// <paramref name="minTime"/> has been spent timing it.</summary>
    public static PeakRates Measure(Accelerator acc, TimeSpan minTime) => Measure(acc, minTime, PeakConfig.For(acc));

    public static PeakRates Measure(Accelerator acc, TimeSpan minTime, PeakConfig config)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(config);
        var stream = acc.DefaultStream;

        var fma = acc.LoadKernel<ArrayView<float>, int, float, float>(FmaKernel);
        using var output = acc.Allocate1D<float>((long)config.Groups * config.GroupSize);
        var fmaGrid = new KernelConfig(config.Groups, config.GroupSize);
        double fmaSeconds = MedianSeconds(acc, stream, minTime, config.MinRepeats,
            () => fma(stream, fmaGrid, output.View, config.Iterations, X, Y));
        double flops = 2.0 * FmasPerIteration * config.Iterations * config.Groups * config.GroupSize;

        var triad = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, float>(TriadKernel);
        int n = config.TriadElements;
        using var a = acc.Allocate1D<float>(n);
        using var b = acc.Allocate1D<float>(n);
        using var c = acc.Allocate1D<float>(n);
        b.MemSetToZero();
        c.MemSetToZero();
        var triadGrid = new KernelConfig(config.Groups, config.GroupSize);
        double triadSeconds = MedianSeconds(acc, stream, minTime, config.MinRepeats,
            () => triad(stream, triadGrid, a.View, b.View, c.View, 3f));
        double bytes = 3.0 * sizeof(float) * n; // read b, read c, write a (GPUs write full lines without reading them)

        return new PeakRates(flops / fmaSeconds / 1e9, bytes / triadSeconds / 1e9);
    }

    /// <summary>Median of timed launches after one warm-up launch (which also compiles the kernel).</summary>
    private static double MedianSeconds(Accelerator acc, AcceleratorStream stream, TimeSpan minTime, int minRepeats, Action launch)
    {
        launch();
        stream.Synchronize();
        bool markers = acc.Context.Properties.EnableProfiling;
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < Math.Max(1, minRepeats) || total.Elapsed < minTime)
        {
            if (markers)
            {
                using var start = stream.AddProfilingMarker();
                launch();
                using var end = stream.AddProfilingMarker();
                stream.Synchronize();
                times.Add(end.MeasureFrom(start).TotalSeconds);
            }
            else
            {
                var sw = Stopwatch.StartNew();
                launch();
                stream.Synchronize();
                times.Add(sw.Elapsed.TotalSeconds);
            }
        }
        times.Sort();
        double median = times.Count % 2 == 1 ? times[times.Count / 2] : (times[times.Count / 2 - 1] + times[times.Count / 2]) / 2;
        // A marker pair around a launch too short for the timer's resolution can read 0; never divide by it.
        return Math.Max(median, 1e-9);
    }
}
