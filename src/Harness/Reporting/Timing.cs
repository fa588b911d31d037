using System.Diagnostics;

namespace PixelCost.Harness.Reporting;

/// <param name="Median">Median seconds of one launch.</param>
/// <param name="Repeats">How many timed launches the median is over.</param>
/// <param name="TotalSeconds">Wall time of all timed launches (the energy window).</param>
public readonly record struct TimingResult(double Median, double Min, int Repeats, double TotalSeconds);

public static class Timing
{
    /// <summary>
    /// Runs <paramref name="launch"/> once to warm up (JIT, page faults, caches), then repeats it until the timed work
    /// adds up to at least <paramref name="minSeconds"/> and at least <paramref name="minRepeats"/> launches; returns
    /// the median. <paramref name="launch"/> must synchronise its accelerator before returning.
    /// </summary>
    public static TimingResult Measure(Action launch, double minSeconds = 1.0, int minRepeats = 5, int maxRepeats = 100_000)
    {
        launch();
        var times = new List<double>();
        long start = Stopwatch.GetTimestamp();
        double total = 0;
        while (times.Count < maxRepeats && (total < minSeconds || times.Count < minRepeats))
        {
            long t0 = Stopwatch.GetTimestamp();
            launch();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            total = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        times.Sort();
        int n = times.Count;
        double median = n % 2 == 1 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
        return new TimingResult(median, times[0], n, total);
    }
}
