using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelCost.Kernels.Cpu;

/// <summary>
/// Measured (not datasheet) limits of the CPU: the denominators of "percent of peak". Validated against the C
/// yardsticks in tools/peak/ (fma.c, triad.c).
/// </summary>
public static unsafe partial class CpuPeak
{
    /// <summary>
    /// Independent accumulators per thread. An FMA result is ready after its latency (Zen 3: 4 cycles; Intel since
    /// Skylake: 4) and two FMA pipes accept one each per cycle, so ≥ 8 chains in flight saturate them; 12 leaves slack
    /// and still fits the 16 ymm registers with the two constants.
    /// </summary>
    internal const int Accumulators = 12;

    private const int Trials = 5;

    /// <summary>Peak fp32 FLOP/s measured by an FMA microbenchmark on <paramref name="threads"/> threads.</summary>
    /// <remarks>
    /// FLOPs = 2 × lanes × FMAs executed. Each thread runs the same count of FMAs; a trial's time runs from the first
    /// thread's start to the last one's end (threads released together by a barrier); the best of several trials is
    /// kept, because interference (other processes, clock ramp-up) only ever makes a trial slower.
    /// </remarks>
    /// <param name="vectorBits">The SIMD width the kernels run (<see cref="CpuAccelerator.VectorBits"/>): the peak is
    /// measured at that width, so a 512-bit path forced on a CPU where .NET prefers 256 bits (Skylake-X, Cascade Lake)
    /// is rated against a 512-bit peak. 0: the width .NET prefers.</param>
    public static double MeasureFmaFlops(int threads, double seconds = 0.5, int vectorBits = 0)
    {
        CheckArgs(threads, seconds);
        bool wide = vectorBits == 512 ? Avx512F.IsSupported : vectorBits == 0 && Vector512.IsHardwareAccelerated && Avx512F.IsSupported;
        int lanes = wide ? 16 : Fma.IsSupported ? 8 : Vector<float>.Count;
        Func<long, float> kernel = wide ? Fma512
            : Fma.IsSupported ? Fma256
            : FmaPortable;

        // Calibrate on this thread so one trial lasts about seconds/Trials.
        long iters = 256;
        double perTrial = seconds / Trials;
        while (true)
        {
            long t0 = Stopwatch.GetTimestamp();
            kernel(iters);
            double t = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (t >= perTrial * 0.5 || iters > (1L << 40)) { iters = Math.Max(1, (long)(iters * perTrial / Math.Max(t, 1e-9))); break; }
            iters *= 4;
        }

        double best = 0;
        var times = RunTeam(threads, Trials, (_, _) => kernel(iters));
        foreach (double t in times) best = Math.Max(best, 2.0 * lanes * Accumulators * (double)iters * threads / t);
        return best;
    }

    /// <summary>fp32 lanes of the vector the FMA benchmark uses.</summary>
    public static int FmaLanes => Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? 16 : Fma.IsSupported ? 8 : Vector<float>.Count;

    // Each loop iteration issues one FMA per independent chain; x = x·a + b with a just below 1 converges to
    // b/(1−a) = 1, so the values never overflow or go denormal (which would slow the FPU and fake a low peak).
    // AggressiveOptimization: the JIT compiles straight to optimised code, no tier-0 or OSR version gets timed.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float Fma256(long iters)
    {
        var a = Vector256.Create(0.999999f);
        var b = Vector256.Create(1e-6f);
        Vector256<float> x0 = Vector256.Create(0f), x1 = Vector256.Create(1f), x2 = Vector256.Create(2f), x3 = Vector256.Create(3f),
            x4 = Vector256.Create(4f), x5 = Vector256.Create(5f), x6 = Vector256.Create(6f), x7 = Vector256.Create(7f),
            x8 = Vector256.Create(8f), x9 = Vector256.Create(9f), x10 = Vector256.Create(10f), x11 = Vector256.Create(11f);
        for (long i = 0; i < iters; i++)
        {
            x0 = Fma.MultiplyAdd(x0, a, b); x1 = Fma.MultiplyAdd(x1, a, b); x2 = Fma.MultiplyAdd(x2, a, b);
            x3 = Fma.MultiplyAdd(x3, a, b); x4 = Fma.MultiplyAdd(x4, a, b); x5 = Fma.MultiplyAdd(x5, a, b);
            x6 = Fma.MultiplyAdd(x6, a, b); x7 = Fma.MultiplyAdd(x7, a, b); x8 = Fma.MultiplyAdd(x8, a, b);
            x9 = Fma.MultiplyAdd(x9, a, b); x10 = Fma.MultiplyAdd(x10, a, b); x11 = Fma.MultiplyAdd(x11, a, b);
        }
        // Summing all chains keeps every one of them live, so the JIT cannot drop any.
        var s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11));
        return Vector256.Sum(s);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float Fma512(long iters)
    {
        var a = Vector512.Create(0.999999f);
        var b = Vector512.Create(1e-6f);
        Vector512<float> x0 = Vector512.Create(0f), x1 = Vector512.Create(1f), x2 = Vector512.Create(2f), x3 = Vector512.Create(3f),
            x4 = Vector512.Create(4f), x5 = Vector512.Create(5f), x6 = Vector512.Create(6f), x7 = Vector512.Create(7f),
            x8 = Vector512.Create(8f), x9 = Vector512.Create(9f), x10 = Vector512.Create(10f), x11 = Vector512.Create(11f);
        for (long i = 0; i < iters; i++)
        {
            x0 = Avx512F.FusedMultiplyAdd(x0, a, b); x1 = Avx512F.FusedMultiplyAdd(x1, a, b); x2 = Avx512F.FusedMultiplyAdd(x2, a, b);
            x3 = Avx512F.FusedMultiplyAdd(x3, a, b); x4 = Avx512F.FusedMultiplyAdd(x4, a, b); x5 = Avx512F.FusedMultiplyAdd(x5, a, b);
            x6 = Avx512F.FusedMultiplyAdd(x6, a, b); x7 = Avx512F.FusedMultiplyAdd(x7, a, b); x8 = Avx512F.FusedMultiplyAdd(x8, a, b);
            x9 = Avx512F.FusedMultiplyAdd(x9, a, b); x10 = Avx512F.FusedMultiplyAdd(x10, a, b); x11 = Avx512F.FusedMultiplyAdd(x11, a, b);
        }
        var s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11));
        return Vector512.Sum(s);
    }

    /// <summary>Machines without x86 FMA (e.g. Arm): Vector&lt;T&gt; multiply-add, whatever the JIT makes of it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FmaPortable(long iters)
    {
        var a = new Vector<float>(0.999999f);
        var b = new Vector<float>(1e-6f);
        Span<Vector<float>> x = stackalloc Vector<float>[Accumulators];
        for (int k = 0; k < Accumulators; k++) x[k] = new Vector<float>(k);
        for (long i = 0; i < iters; i++)
            for (int k = 0; k < Accumulators; k++) x[k] = Vector.FusedMultiplyAdd(x[k], a, b);
        var s = Vector<float>.Zero;
        for (int k = 0; k < Accumulators; k++) s += x[k];
        return Vector.Sum(s);
    }

    /// <summary>Bytes of each of the three triad arrays: 64 MiB, twice the 32 MiB L3 on its own, 192 MiB together.</summary>
    internal const long TriadArrayBytes = 64L << 20;

    /// <summary>Memory bandwidth in bytes/s measured by a STREAM-style triad (a = b + s·c; 3 arrays × 4 B per element counted, no write-allocate).</summary>
    /// <remarks>
    /// The STREAM convention: 12 bytes per element (read b and c, write a). Ordinary stores also read a's line first
    /// (write-allocate), so the DRAM traffic is ~16 B/element; that extra third is not counted, as in STREAM and in our
    /// ops' BytesRead/BytesWritten. Each thread owns a contiguous slice (and first-touches it, which places its pages
    /// on its own NUMA node); the best of several passes is kept.
    /// </remarks>
    public static double MeasureTriadBytesPerSecond(int threads, double seconds = 0.5)
    {
        CheckArgs(threads, seconds);
        long n = TriadArrayBytes / sizeof(float);
        float* a = null, b = null, c = null;
        try
        {
            a = (float*)NativeMemory.AlignedAlloc((nuint)TriadArrayBytes, 64);
            b = (float*)NativeMemory.AlignedAlloc((nuint)TriadArrayBytes, 64);
            c = (float*)NativeMemory.AlignedAlloc((nuint)TriadArrayBytes, 64);
            float* pa = a, pb = b, pc = c;
            // Pass 0 initialises (first touch, page faults); its time is thrown away.
            var init = RunTeam(threads, 1, (t, _) =>
            {
                var (begin, end) = Slice(n, threads, t);
                new Span<float>(pa + begin, (int)(end - begin)).Clear();
                new Span<float>(pb + begin, (int)(end - begin)).Fill(1f);
                new Span<float>(pc + begin, (int)(end - begin)).Fill(2f);
                return 0;
            });
            // One pass moves 192 MiB (~10 ms at 20 GB/s); run enough passes to fill the time asked for.
            double onePass = Math.Max(init[0] / 2, 1e-3);
            int passes = (int)Math.Clamp(seconds / onePass, 3, 200);
            var times = RunTeam(threads, passes, (t, _) =>
            {
                var (begin, end) = Slice(n, threads, t);
                Triad(pa + begin, pb + begin, pc + begin, end - begin, 3f);
                return 0;
            });
            return 12.0 * n / times.Min();
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }
    }

    private static (long Begin, long End) Slice(long n, int parts, int i)
    {
        // Slice edges on 64-element (256-byte) boundaries keep every thread's vectors aligned like the arrays.
        long Edge(int k) => k == parts ? n : n * k / parts / 64 * 64;
        return (Edge(i), Edge(i + 1));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Triad(float* a, float* b, float* c, long n, float s)
    {
        long i = 0;
        if (Fma.IsSupported)
        {
            var vs = Vector256.Create(s);
            for (; i + 32 <= n; i += 32)
            {
                Avx.StoreAligned(a + i, Fma.MultiplyAdd(Avx.LoadAlignedVector256(c + i), vs, Avx.LoadAlignedVector256(b + i)));
                Avx.StoreAligned(a + i + 8, Fma.MultiplyAdd(Avx.LoadAlignedVector256(c + i + 8), vs, Avx.LoadAlignedVector256(b + i + 8)));
                Avx.StoreAligned(a + i + 16, Fma.MultiplyAdd(Avx.LoadAlignedVector256(c + i + 16), vs, Avx.LoadAlignedVector256(b + i + 16)));
                Avx.StoreAligned(a + i + 24, Fma.MultiplyAdd(Avx.LoadAlignedVector256(c + i + 24), vs, Avx.LoadAlignedVector256(b + i + 24)));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(b + i) + vs * Vector256.Load(c + i), a + i);
        }
        for (; i < n; i++) a[i] = b[i] + s * c[i];
    }

    private static void CheckArgs(int threads, double seconds)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "peak measurement needs threads ≥ 1");
        if (!(seconds > 0) || double.IsInfinity(seconds)) throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "peak measurement needs seconds > 0");
    }

    /// <summary>
    /// Runs <paramref name="body"/>(thread, round) on <paramref name="threads"/> dedicated threads, each pinned to its
    /// own CPU where the OS lets us (Linux sched_setaffinity; .NET itself has no per-thread affinity). All threads are
    /// released together by a barrier each round; a round's time is from the earliest start to the latest end.
    /// </summary>
    /// <returns>Seconds per round.</returns>
    internal static double[] RunTeam(int threads, int rounds, Func<int, int, float> body)
    {
        var start = new long[rounds, threads];
        var end = new long[rounds, threads];
        var cpus = AllowedCpus();
        using var barrier = new Barrier(threads);
        Exception? failure = null;
        var team = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int me = t;
            team[t] = new Thread(() =>
            {
                try
                {
                    if (cpus.Count > 0) PinCurrentThread(cpus[me % cpus.Count]);
                    float sink = 0;
                    for (int r = 0; r < rounds; r++)
                    {
                        barrier.SignalAndWait();
                        start[r, me] = Stopwatch.GetTimestamp();
                        sink += body(me, r);
                        end[r, me] = Stopwatch.GetTimestamp();
                    }
                    GC.KeepAlive(sink);
                }
                catch (Exception e)
                {
                    failure ??= e;
                    barrier.RemoveParticipant();
                }
            }, maxStackSize: 1 << 20) { IsBackground = true, Name = $"pixelcost-peak-{t}" };
        }
        foreach (var th in team) th.Start();
        foreach (var th in team) th.Join();
        if (failure is not null) throw new InvalidOperationException($"peak measurement thread failed: {failure.Message}", failure);
        var seconds = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            long s = long.MaxValue, e = long.MinValue;
            for (int t = 0; t < threads; t++) { s = Math.Min(s, start[r, t]); e = Math.Max(e, end[r, t]); }
            seconds[r] = Math.Max(1e-9, (e - s) / (double)Stopwatch.Frequency);
        }
        return seconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nint cpusetsize, ulong* mask);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_getaffinity(int pid, nint cpusetsize, ulong* mask);

    private const int MaskWords = 16; // 1024 CPUs, glibc's cpu_set_t

    /// <summary>The CPUs this process may run on (container cpusets included), in order; empty where unknown.</summary>
    internal static List<int> AllowedCpus()
    {
        var list = new List<int>();
        if (!OperatingSystem.IsLinux()) return list;
        try
        {
            ulong* mask = stackalloc ulong[MaskWords];
            if (sched_getaffinity(0, MaskWords * sizeof(ulong), mask) != 0) return list;
            for (int w = 0; w < MaskWords; w++)
                for (int bit = 0; bit < 64; bit++)
                    if ((mask[w] & (1UL << bit)) != 0) list.Add(w * 64 + bit);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { list.Clear(); }
        return list;
    }

    /// <summary>Best effort: a thread that cannot be pinned still runs, only less reproducibly.</summary>
    private static void PinCurrentThread(int cpu)
    {
        if (!OperatingSystem.IsLinux() || cpu >= MaskWords * 64) return;
        try
        {
            ulong* mask = stackalloc ulong[MaskWords];
            for (int w = 0; w < MaskWords; w++) mask[w] = 0;
            mask[cpu / 64] = 1UL << (cpu % 64);
            sched_setaffinity(0, MaskWords * sizeof(ulong), mask); // pid 0 = the calling thread
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }
}
