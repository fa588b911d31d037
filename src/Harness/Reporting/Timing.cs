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
    public static TimingResult Measure(Action launch, Action? synchronize, double minSeconds = 1.0, int minRepeats = 5, int maxRepeats = 100_000) =>
        MeasureInterleaved([launch], synchronize, minSeconds, minRepeats, maxRepeats)[0];

    /// <summary>
    /// Times several launches in one sitting, interleaved: after each one's warm-up, blocks of samples go round robin
    /// (a block of 0, of 1, …, of 0, …) until each has ≥ <paramref name="minSeconds"/> of timed work and ≥
    /// <paramref name="minRepeats"/> samples; one median per launch. On a machine whose load drifts (other jobs on
    /// shared cores) a slow spell then lands on every launch alike, so their ratio holds where back-to-back timings
    /// would credit the quieter second to one side. A block lasts ≥ a fifth of <paramref name="minSeconds"/> and is
    /// followed by an untimed pause of <paramref name="gapSeconds"/>: thread pools spin for a while after a parallel
    /// call (OpenBLAS's pthreads for up to 2²⁸ cycles, ~70 ms; .NET's workers briefly), and that spinning must not
    /// share the cores with the next launch's samples. One launch is <see cref="Measure(Action, Action?, double, int, int)"/>.
    /// </summary>
    public static TimingResult[] MeasureInterleaved(IReadOnlyList<Action> launches, Action? synchronize, double minSeconds = 1.0, int minRepeats = 5,
        int maxRepeats = 100_000, double gapSeconds = 0.1)
    {
        int m = launches.Count;
        var batch = new int[m];
        for (int l = 0; l < m; l++)
        {
            long w0 = Stopwatch.GetTimestamp();
            int warm = 0;
            double warmFor = Math.Min(0.1, minSeconds / 10);
            do { Cli.ThrowIfInterrupted(); launches[l](); synchronize?.Invoke(); warm++; }
            while (warm < 2 || Stopwatch.GetElapsedTime(w0).TotalSeconds < warmFor && warm < 1000);
            double one = Stopwatch.GetElapsedTime(w0).TotalSeconds / warm;
            batch[l] = synchronize is null ? 1 : (int)Math.Clamp(1e-3 / Math.Max(one, 1e-9), 1, 1000);
        }

        var times = new List<double>[m];
        var total = new double[m];
        for (int l = 0; l < m; l++) times[l] = new List<double>();
        bool More(int l) => times[l].Count < maxRepeats && (total[l] < minSeconds || times[l].Count < minRepeats);
        double block = minSeconds / 5;
        while (Enumerable.Range(0, m).Any(More))
            for (int l = 0; l < m; l++)
            {
                if (!More(l)) continue;
                // Every block, the first included (after the warm-ups), starts after the pause.
                if (m > 1 && gapSeconds > 0) Thread.Sleep(TimeSpan.FromSeconds(gapSeconds));
                double inBlock = 0;
                do
                {
                    Cli.ThrowIfInterrupted();   // a safe point: Ctrl-C stops the repeats
                    long t0 = Stopwatch.GetTimestamp();
                    for (int i = 0; i < batch[l]; i++) launches[l]();
                    synchronize?.Invoke();
                    double t = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                    times[l].Add(t / batch[l]);
                    total[l] += t;
                    inBlock += t;
                }
                while (inBlock < block && More(l));
            }
        var results = new TimingResult[m];
        for (int l = 0; l < m; l++)
        {
            var ts = times[l];
            ts.Sort();
            int n = ts.Count;
            double median = n % 2 == 1 ? ts[n / 2] : 0.5 * (ts[n / 2 - 1] + ts[n / 2]);
            results[l] = new TimingResult(median, ts[0], n * batch[l], total[l]);
        }
        return results;
    }
}
