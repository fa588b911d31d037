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
    public static TimingResult Measure(Action launch, double minSeconds = 1.0, int minRepeats = 5, int maxRepeats = 100_000) =>
        Measure(launch, null, minSeconds, minRepeats, maxRepeats);

    /// <summary>
    /// As above for an accelerator whose launches are asynchronous (a GPU stream): each sample enqueues a batch of
    /// launches and waits with <paramref name="synchronize"/>, the batch sized so a sample lasts ≥ 1 ms (launch
    /// latency and the wait are spread over it); the sample's time is per launch. Warm-up: launches until the first
    /// has run and ≥ 0.1 s (or a tenth of <paramref name="minSeconds"/>) has passed, so kernels are compiled and caches,
    /// clocks and the JIT have settled before timing.
    /// </summary>
    public static TimingResult Measure(Action launch, Action? synchronize, double minSeconds = 1.0, int minRepeats = 5, int maxRepeats = 100_000)
    {
        long w0 = Stopwatch.GetTimestamp();
        int warm = 0;
        double warmFor = Math.Min(0.1, minSeconds / 10);
        do { Cli.ThrowIfInterrupted(); launch(); synchronize?.Invoke(); warm++; }
        while (warm < 2 || Stopwatch.GetElapsedTime(w0).TotalSeconds < warmFor && warm < 1000);
        double one = Stopwatch.GetElapsedTime(w0).TotalSeconds / warm;
        int batch = synchronize is null ? 1 : (int)Math.Clamp(1e-3 / Math.Max(one, 1e-9), 1, 1000);

        var times = new List<double>();
        long start = Stopwatch.GetTimestamp();
        double total = 0;
        while (times.Count < maxRepeats && (total < minSeconds || times.Count < minRepeats))
        {
            Cli.ThrowIfInterrupted();   // a safe point: Ctrl-C stops the repeats
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < batch; i++) launch();
            synchronize?.Invoke();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds / batch);
            total = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        times.Sort();
        int n = times.Count;
        double median = n % 2 == 1 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
        return new TimingResult(median, times[0], n * batch, total);
    }
}
