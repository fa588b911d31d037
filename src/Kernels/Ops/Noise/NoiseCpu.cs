using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels.Noise;

/// <summary>
/// CPU noise fills. Work is split in groups of 8 Philox blocks (32 elements) so thread boundaries never fall inside a
/// group: every element is computed by the same code path whatever the thread count, hence bitwise-identical output.
/// </summary>
public static unsafe class NoiseCpu
{
    /// <summary>Elements per group: 8 blocks × 4 lanes, one <see cref="Philox4x32.Blocks8InOrder"/> call.</summary>
    public const int Group = 32;

    // Enough work per thread that task start-up (~µs) is noise: 2048 groups = 64 K elements = 256 KiB.
    private const long Grain = 2048;

    /// <summary>Elements per group of the Vector512 path: 16 blocks × 4 lanes, one <see cref="Philox4x32.Blocks16InOrder"/> call.</summary>
    public const int Group512 = 64;

    /// <summary>The variant that runs for a request (0 = the fastest here) and its ledger name.</summary>
    public static int Resolve(CpuAccelerator cpu, string op, int variant)
    {
        int best = op == NoiseSpec.GaussianOp ? 3 : 2;
        // The Vector512 path runs anywhere (emulated where the hardware lacks AVX-512); the AVX2 one needs AVX2.
        bool vector = cpu.UseVector512 || Philox4x32.Block8Supported;
        return variant switch
        {
            0 => vector ? best : 1,
            1 => 1,
            2 or 3 when variant <= best && !vector =>
                throw new NotSupportedException($"{op}: variant {variant} needs AVX2, which this CPU lacks"),
            2 or 3 when variant <= best => variant,
            _ => throw new ArgumentException($"{op}: unknown variant {variant} (0 = fastest, 1 = scalar, 2 = SIMD" +
                (best == 3 ? ", 3 = SIMD with our own log/sincos)" : ")")),
        };
    }

    public static string VariantName(CpuAccelerator cpu, string op, int variant) => (Resolve(cpu, op, variant), cpu.UseVector512) switch
    {
        (1, _) => "cpu.v1-scalar",                 // v1: one Philox block per element, scalar float math (MathF) — the plain port.
        (2, false) => "cpu.v2-simd",               // v2: 8 Philox blocks per Vector256 pass; Gaussian with .NET's Vector256.Log/SinCos.
        (2, true) => "cpu.v2-simd-v512",          // v2 on Vector512: 16 blocks per pass; Gaussian with Vector512.Log/SinCos.
        (_, false) => "cpu.v3-simd-polylog",       // v3: as v2, Gaussian with SimdMath's short log and sin/cos polynomials (its inputs only).
        (_, true) => "cpu.v3-simd-polylog-v512",  // v3 on Vector512.
    };

    public static void Uniform(CpuAccelerator cpu, Tensor dst, ulong seed, ulong stream, int variant)
    {
        float* y = dst.F32Pointer;
        long n = dst.Length;
        bool simd = Resolve(cpu, NoiseSpec.UniformOp, variant) >= 2;
        if (simd && cpu.UseVector512)
        {
            cpu.ParallelFor((n + Group512 - 1) / Group512, Grain / 2, (g0, g1) =>
            {
                var keys = new Philox4x32.KeySchedule512(seed);
                for (long g = g0; g < g1; g++)
                {
                    long e = g * Group512;
                    if (e + Group512 <= n && SameHigh(e, 16)) UniformGroup512(y + e, (ulong)e / 4, stream, ref keys);
                    else UniformScalar(y, e, Math.Min(e + Group512, n), stream, seed);
                }
            });
            return;
        }
        cpu.ParallelFor((n + Group - 1) / Group, Grain, (g0, g1) =>
        {
            // Whole groups in a call-free SIMD loop (a call inside the loop makes the JIT keep its vectors in memory:
            // ymm registers do not survive calls), then the tail of the tensor, if this chunk has it, in scalar.
            long whole = simd ? Math.Clamp(n / Group, g0, g1) : g0;
            if (whole > g0) UniformGroupsAvx2(y, g0, whole, seed, stream);
            if (whole < g1) UniformScalar(y, whole * Group, Math.Min(g1 * Group, n), stream, seed);
        });
    }

    public static void Gaussian(CpuAccelerator cpu, Tensor dst, ulong seed, float mean, float std, ulong stream, int variant)
    {
        float* y = dst.F32Pointer;
        long n = dst.Length;
        int v = Resolve(cpu, NoiseSpec.GaussianOp, variant);
        bool simd = v >= 2, own = v == 3;
        if (simd && cpu.UseVector512)
        {
            cpu.ParallelFor((n + Group512 - 1) / Group512, Grain / 8, (g0, g1) =>
            {
                var keys = new Philox4x32.KeySchedule512(seed);
                for (long g = g0; g < g1; g++)
                {
                    long e = g * Group512;
                    if (e + Group512 <= n && SameHigh(e, 16)) GaussianGroup512(y + e, (ulong)e / 4, stream, ref keys, mean, std, own);
                    else GaussianScalar(y, e, Math.Min(e + Group512, n), n, stream, seed, mean, std);
                }
            });
            return;
        }
        cpu.ParallelFor((n + Group - 1) / Group, Grain / 4, (g0, g1) =>
        {
            var keys = new Philox4x32.KeySchedule(seed);
            for (long g = g0; g < g1; g++)
            {
                long e = g * Group;
                if (simd && e + Group <= n && SameHigh(e, 8)) GaussianGroupAvx2(y + e, (ulong)e / 4, stream, ref keys, mean, std, own);
                else GaussianScalar(y, e, Math.Min(e + Group, n), n, stream, seed, mean, std);
            }
        });
    }

    /// <summary>The blocks of a group share the high counter word (true for every tensor below 2^34 elements).</summary>
    private static bool SameHigh(long e, int blocks) => ((ulong)e / 4 >> 32) == (((ulong)e / 4 + (ulong)blocks - 1) >> 32);

    private static void UniformScalar(float* y, long begin, long end, ulong stream, ulong seed)
    {
        for (long i = begin; i < end; i++)
            y[i] = (float)(Philox4x32.At((ulong)i, stream, seed) >> 8) * NoiseSpec.Inv24;
    }

    /// <summary>Groups [g0, g1) — all whole — of a uniform fill on the AVX2 path.</summary>
    // Fully optimised from the first call: with tiering, the loop ran on as on-stack-replacement code that was ~25%
    // slower in `pixelcost pixels` on 2 threads (measured: 1.40 ms vs 0.97 ms with DOTNET_TieredCompilation=0).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void UniformGroupsAvx2(float* y, long g0, long g1, ulong seed, ulong stream)
    {
        const ulong blocksPerGroup = Group / 4;
        for (long g = g0; g < g1;)
        {
            // A run of groups under one high counter word (all of them below 2^34 elements); 2^32 is a multiple of
            // 8, so a group never straddles two.
            ulong first = (ulong)g * blocksPerGroup, high = first >> 32;
            long end = (long)Math.Min((ulong)g1, ((high + 1) << 32) / blocksPerGroup);
            var schedule = new Philox4x32.FillSchedule(seed, stream, (uint)high);
            // Block indices of the group in Blocks8Fill's lane order, advanced by one add per group.
            var blocks = Vector256.Create(first) + Vector256.Create(0ul, 2, 1, 3);
            var step = Vector256.Create(blocksPerGroup);
            for (; g < end; g++, blocks += step) UniformGroupAvx2(y + g * Group, blocks, ref schedule);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UniformGroupAvx2(float* y, Vector256<ulong> blocks, ref Philox4x32.FillSchedule schedule)
    {
        Philox4x32.Blocks8Fill(blocks, ref schedule, out var o0, out var o1, out var o2, out var o3);
        var scale = Vector256.Create(NoiseSpec.Inv24);
        // x >> 8 < 2^24, so the signed int → float conversion is exact; × 2^-24 is exact too: bitwise = reference.
        Vector256.Store(Vector256.ConvertToSingle(Vector256.ShiftRightLogical(o0, 8).AsInt32()) * scale, y);
        Vector256.Store(Vector256.ConvertToSingle(Vector256.ShiftRightLogical(o1, 8).AsInt32()) * scale, y + 8);
        Vector256.Store(Vector256.ConvertToSingle(Vector256.ShiftRightLogical(o2, 8).AsInt32()) * scale, y + 16);
        Vector256.Store(Vector256.ConvertToSingle(Vector256.ShiftRightLogical(o3, 8).AsInt32()) * scale, y + 24);
    }

    /// <summary>Elements [begin, end) of an n-element Gaussian fill; begin is even (groups are 32-aligned).</summary>
    private static void GaussianScalar(float* y, long begin, long end, long n, ulong stream, ulong seed, float mean, float std)
    {
        for (long i = begin; i < end; i += 2)
        {
            uint a = Philox4x32.At((ulong)i, stream, seed), b = Philox4x32.At((ulong)i + 1, stream, seed);
            float u1 = (float)((a >> 8) + 1) * NoiseSpec.Inv24;
            float u2 = (float)(b >> 8) * NoiseSpec.Inv24;
            float r = MathF.Sqrt(-2f * MathF.Log(u1));
            float theta = NoiseSpec.TwoPi * u2;
            y[i] = mean + std * (r * MathF.Cos(theta));
            if (i + 1 < n) y[i + 1] = mean + std * (r * MathF.Sin(theta));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GaussianGroupAvx2(float* y, ulong firstBlock, ulong stream, ref Philox4x32.KeySchedule keys, float mean, float std, bool own)
    {
        var c0 = Vector256.Create((uint)firstBlock) + Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
        var c1 = Vector256.Create((uint)(firstBlock >> 32));
        var c2 = Vector256.Create((uint)stream);
        var c3 = Vector256.Create((uint)(stream >> 32));
        Philox4x32.Block8(ref c0, ref c1, ref c2, ref c3, ref keys);
        // Structure of arrays: lanes (x0, x1) of each block make one Box–Muller pair, (x2, x3) the other.
        BoxMuller(c0, c1, mean, std, own, out var z0, out var z1);
        BoxMuller(c2, c3, mean, std, own, out var z2, out var z3);
        Philox4x32.Transpose8x4(z0.AsUInt32(), z1.AsUInt32(), z2.AsUInt32(), z3.AsUInt32(),
            out var o0, out var o1, out var o2, out var o3);
        Vector256.Store(o0.AsSingle(), y);
        Vector256.Store(o1.AsSingle(), y + 8);
        Vector256.Store(o2.AsSingle(), y + 16);
        Vector256.Store(o3.AsSingle(), y + 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BoxMuller(Vector256<uint> a, Vector256<uint> b, float mean, float std, bool own,
        out Vector256<float> zc, out Vector256<float> zs)
    {
        var scale = Vector256.Create(NoiseSpec.Inv24);
        var u1 = Vector256.ConvertToSingle((Vector256.ShiftRightLogical(a, 8) + Vector256<uint>.One).AsInt32()) * scale;
        var u2 = Vector256.ConvertToSingle(Vector256.ShiftRightLogical(b, 8).AsInt32()) * scale;
        // .NET's vector Log/SinCos (v2) or ours (v3); the error of both over exactly these inputs is measured
        // exhaustively in NoiseTests.VectorMathErrorOverTheWholeInputDomain.
        var theta = Vector256.Create(NoiseSpec.TwoPi) * u2;
        Vector256<float> r, sin, cos;
        if (own)
        {
            r = Vector256.Sqrt(Vector256.Create(-2f) * SimdMath.Log(u1));
            (sin, cos) = SimdMath.SinCos(theta);
        }
        else
        {
            r = Vector256.Sqrt(Vector256.Create(-2f) * Vector256.Log(u1));
            (sin, cos) = Vector256.SinCos(theta);
        }
        var m = Vector256.Create(mean);
        var s = Vector256.Create(std);
        // mul then add, never FMA: the same rounding steps as the reference.
        zc = m + s * (r * cos);
        zs = m + s * (r * sin);
    }
    // ---- Vector512 path (cross-platform Vector512 API; emulated in software where AVX-512 is missing) ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UniformGroup512(float* y, ulong firstBlock, ulong stream, ref Philox4x32.KeySchedule512 keys)
    {
        Philox4x32.Blocks16InOrder(firstBlock, stream, ref keys, out var o0, out var o1, out var o2, out var o3);
        var scale = Vector512.Create(NoiseSpec.Inv24);
        // As the AVX2 path: exact conversion of x >> 8 < 2^24 and an exact power-of-two scale, bitwise = reference.
        Vector512.Store(Vector512.ConvertToSingle(Vector512.ShiftRightLogical(o0, 8).AsInt32()) * scale, y);
        Vector512.Store(Vector512.ConvertToSingle(Vector512.ShiftRightLogical(o1, 8).AsInt32()) * scale, y + 16);
        Vector512.Store(Vector512.ConvertToSingle(Vector512.ShiftRightLogical(o2, 8).AsInt32()) * scale, y + 32);
        Vector512.Store(Vector512.ConvertToSingle(Vector512.ShiftRightLogical(o3, 8).AsInt32()) * scale, y + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GaussianGroup512(float* y, ulong firstBlock, ulong stream, ref Philox4x32.KeySchedule512 keys, float mean, float std, bool own)
    {
        var c0 = Vector512.Create((uint)firstBlock) + Vector512.Create(0u, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var c1 = Vector512.Create((uint)(firstBlock >> 32));
        var c2 = Vector512.Create((uint)stream);
        var c3 = Vector512.Create((uint)(stream >> 32));
        Philox4x32.Block16(ref c0, ref c1, ref c2, ref c3, ref keys);
        BoxMuller512(c0, c1, mean, std, own, out var z0, out var z1);
        BoxMuller512(c2, c3, mean, std, own, out var z2, out var z3);
        // Structure of arrays → element order: word pairs (z0, z1) and (z2, z3) of each block in one 64-bit lane.
        var w01lo = Vector512.WidenLower(z0.AsUInt32()) | (Vector512.WidenLower(z1.AsUInt32()) << 32); // blocks 0–7
        var w23lo = Vector512.WidenLower(z2.AsUInt32()) | (Vector512.WidenLower(z3.AsUInt32()) << 32);
        var w01hi = Vector512.WidenUpper(z0.AsUInt32()) | (Vector512.WidenUpper(z1.AsUInt32()) << 32); // blocks 8–15
        var w23hi = Vector512.WidenUpper(z2.AsUInt32()) | (Vector512.WidenUpper(z3.AsUInt32()) << 32);
        Philox4x32.InOrder16(w01lo, w23lo, out var o0, out var o1);
        Philox4x32.InOrder16(w01hi, w23hi, out var o2, out var o3);
        Vector512.Store(o0.AsSingle(), y);
        Vector512.Store(o1.AsSingle(), y + 16);
        Vector512.Store(o2.AsSingle(), y + 32);
        Vector512.Store(o3.AsSingle(), y + 48);
    }

    /// <summary>The Vector512 twin of <see cref="BoxMuller"/>: the same operations in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BoxMuller512(Vector512<uint> a, Vector512<uint> b, float mean, float std, bool own,
        out Vector512<float> zc, out Vector512<float> zs)
    {
        var scale = Vector512.Create(NoiseSpec.Inv24);
        var u1 = Vector512.ConvertToSingle((Vector512.ShiftRightLogical(a, 8) + Vector512<uint>.One).AsInt32()) * scale;
        var u2 = Vector512.ConvertToSingle(Vector512.ShiftRightLogical(b, 8).AsInt32()) * scale;
        var theta = Vector512.Create(NoiseSpec.TwoPi) * u2;
        Vector512<float> r, sin, cos;
        if (own)
        {
            r = Vector512.Sqrt(Vector512.Create(-2f) * SimdMath.Log(u1));
            (sin, cos) = SimdMath.SinCos(theta);
        }
        else
        {
            r = Vector512.Sqrt(Vector512.Create(-2f) * Vector512.Log(u1));
            (sin, cos) = Vector512.SinCos(theta);
        }
        var m = Vector512.Create(mean);
        var s = Vector512.Create(std);
        zc = m + s * (r * cos);
        zs = m + s * (r * sin);
    }
}
