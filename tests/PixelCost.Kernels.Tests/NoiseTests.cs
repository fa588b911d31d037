using System.Runtime.Intrinsics;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Noise;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests;

public class NoiseTests
{
    // Random123 1.14 examples/kat_vectors, the three "philox4x32 10" lines: counter[4] key[2] → output[4].
    [SkippableTheory]
    [InlineData(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void PhiloxKnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3)
    {
        Assert.Equal((e0, e1, e2, e3), Philox4x32.Block(c0, c1, c2, c3, k0, k1));

        Skip.IfNot(Philox4x32.Block8Supported);
        // The same vector in every lane of the SIMD version.
        var v0 = Vector256.Create(c0); var v1 = Vector256.Create(c1); var v2 = Vector256.Create(c2); var v3 = Vector256.Create(c3);
        Philox4x32.Block8(ref v0, ref v1, ref v2, ref v3, k0, k1);
        for (int l = 0; l < 8; l++) Assert.Equal((e0, e1, e2, e3), (v0[l], v1[l], v2[l], v3[l]));
    }

    [SkippableFact]
    public void Block8EqualsScalarBitwise()
    {
        Skip.IfNot(Philox4x32.Block8Supported);
        var rng = new Random(1234);
        for (int trial = 0; trial < 2000; trial++)
        {
            var c = new uint[4][];
            for (int w = 0; w < 4; w++) { c[w] = new uint[8]; for (int l = 0; l < 8; l++) c[w][l] = Word(rng, trial); }
            uint k0 = Word(rng, trial), k1 = Word(rng, trial);
            var v0 = Vector256.Create(c[0]); var v1 = Vector256.Create(c[1]); var v2 = Vector256.Create(c[2]); var v3 = Vector256.Create(c[3]);
            Philox4x32.Block8(ref v0, ref v1, ref v2, ref v3, k0, k1);
            for (int l = 0; l < 8; l++)
                Assert.Equal(Philox4x32.Block(c[0][l], c[1][l], c[2][l], c[3][l], k0, k1), (v0[l], v1[l], v2[l], v3[l]));
        }
    }

    // Extremes are where carries and the high product halves go wrong.
    private static uint Word(Random rng, int trial) => (trial % 3) switch
    {
        0 => (uint)rng.NextInt64(0, 1L << 32),
        1 => rng.Next(4) switch { 0 => 0u, 1 => uint.MaxValue, 2 => 0x80000000u, _ => 0x7fffffffu },
        _ => uint.MaxValue - (uint)rng.Next(16),
    };

    [SkippableTheory]
    [InlineData(0ul, 0ul, 0ul)]
    [InlineData(0xfffffff8ul, 7ul, 0xdeadbeefcafef00dul)]
    [InlineData(1ul << 33, ulong.MaxValue, 42ul)]
    public void Blocks8InOrderIsEightConsecutiveBlocks(ulong first, ulong stream, ulong seed)
    {
        Skip.IfNot(Philox4x32.Block8Supported);
        Philox4x32.Blocks8InOrder(first, stream, seed, out var o0, out var o1, out var o2, out var o3);
        var got = new uint[32];
        o0.CopyTo(got, 0); o1.CopyTo(got, 8); o2.CopyTo(got, 16); o3.CopyTo(got, 24);
        for (int i = 0; i < 32; i++)
            Assert.Equal(Philox4x32.At(first * 4 + (ulong)i, stream, seed), got[i]);
    }

    [SkippableTheory]
    [InlineData(0ul, 0ul, 0ul)]
    [InlineData(0xfffffff8ul, 7ul, 0xdeadbeefcafef00dul)]
    [InlineData(1ul << 33, ulong.MaxValue, 42ul)]
    [InlineData((5ul << 32) + 123456, 0x8000_0001_ffff_fffful, ulong.MaxValue)]
    public void Blocks8FillIsEightConsecutiveBlocks(ulong first, ulong stream, ulong seed)
    {
        Skip.IfNot(Philox4x32.Block8Supported);
        // The fill path precomputes the rounds that depend only on (high block word, stream, key): a schedule made
        // for this high word must give exactly the eight scalar blocks.
        var schedule = new Philox4x32.FillSchedule(seed, stream, (uint)(first >> 32));
        Philox4x32.Blocks8Fill(Vector256.Create(first) + Vector256.Create(0ul, 2, 1, 3), ref schedule,
            out var o0, out var o1, out var o2, out var o3);
        var got = new uint[32];
        o0.CopyTo(got, 0); o1.CopyTo(got, 8); o2.CopyTo(got, 16); o3.CopyTo(got, 24);
        for (int i = 0; i < 32; i++)
            Assert.Equal(Philox4x32.At(first * 4 + (ulong)i, stream, seed), got[i]);
    }

    public static IEnumerable<object[]> Sizes()
    {
        // every tail of a 32-element group and of an 8-lane vector, odd sizes, several groups
        for (int n = 0; n <= 41; n++) yield return [n];
        // 200003: several per-thread chunks, so chunks that start mid-tensor (their own schedule and counters) are checked too
        foreach (int n in new[] { 63, 64, 65, 95, 97, 127, 129, 1000, 1001, 4097, 12345, 200003 }) yield return [n];
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void UniformKernelEqualsReferenceBitwise(int n)
    {
        var expected = new float[n];
        NoiseReference.Uniform<F32>(expected, seed: 0x1234_5678_9abc_def0ul, stream: 3);
        foreach (int variant in Variants())
        {
            using var acc = new CpuAccelerator(2);
            using var t = acc.Allocate(n);
            Ops.FillUniform(acc, t, 0x1234_5678_9abc_def0ul, stream: 3, variant: variant);
            // Integer Philox, exact int→float conversion and a power-of-two scale: no rounding anywhere, so bitwise.
            Assert.Equal(expected, t.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void GaussianKernelMatchesReference(int n)
    {
        const float mean = 0.25f, std = 1.5f;
        var expected = new float[n];
        NoiseReference.Gaussian<F32>(expected, seed: 99, mean, std, stream: 1);
        using var acc = new CpuAccelerator(2);
        using var t = acc.Allocate(n);

        // v1 uses the same MathF calls in the same order as the reference with F32: bitwise.
        Ops.FillGaussian(acc, t, 99, mean, std, stream: 1, variant: 1);
        Assert.Equal(expected, t.ToArray());

        if (!Philox4x32.Block8Supported) return;
        foreach (int variant in new[] { 2, 3 })
        {
            Ops.FillGaussian(acc, t, 99, mean, std, stream: 1, variant: variant);
            // v2/v3 differ only by their vector log and sin/cos (bounds LogMaxRelErr, TrigMaxAbsErr, tested exhaustively
            // below; v3 also fuses multiply-adds inside them). z = r·c with r = √(−2 ln u1): Δr/r ≤ LogMaxRelErr/2 + u
            // (sqrt rounding); Δc ≤ TrigMaxAbsErr + u (the MathF reference's own error). |Δy| ≤ std·rMax·(TrigMaxAbsErr + u)
            // + |y|·(LogMaxRelErr/2 + 6u) for the remaining roundings; rMax = √(2·24·ln 2) ≈ 5.77 (u1 ≥ 2⁻²⁴).
            double rMax = Math.Sqrt(2 * 24 * Math.Log(2));
            double atol = std * rMax * (TrigMaxAbsErr + Ulp1);
            double rtol = LogMaxRelErr / 2 + 6 * Ulp1;
            Close.All(expected, t.ToArray(), atol, rtol, new[] { n }, $"gaussian v{variant} n={n}");
        }
    }

    private const double Ulp1 = 1.0 / (1 << 24); // half an ulp of 1: the float rounding unit u = 2⁻²⁴
    // Requirements on the vector math (checked exhaustively over the inputs Box–Muller can produce). Measured with
    // .NET 10.0 on AVX2: Vector256.Log 3.2·2⁻²⁴ relative (MathF.Log 1.3), Vector256.SinCos 0.53·2⁻²⁴ absolute (MathF 0.55).
    private const double LogMaxRelErr = 4 * Ulp1;  // ≤ 2 ulp relative
    private const double TrigMaxAbsErr = 4 * Ulp1; // ≤ 2 ulp of 1, absolute

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void VectorMathErrorOverTheWholeInputDomain(bool own)
    {
        Skip.IfNot(Vector256.IsHardwareAccelerated);
        // Every u1 = k·2⁻²⁴, k = 1 … 2²⁴, and every θ = 2π·(k·2⁻²⁴), k = 0 … 2²⁴−1 (as floats, like the kernel).
        double worstLog = 0, worstTrig = 0;
        var scale = Vector256.Create(NoiseSpec.Inv24);
        var step = Vector256.Create(8);
        var k = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        for (int i = 0; i < (1 << 24); i += 8, k += step)
        {
            var u = Vector256.ConvertToSingle(k) * scale;
            var u1 = Vector256.ConvertToSingle(k + Vector256<int>.One) * scale;
            var theta = Vector256.Create(NoiseSpec.TwoPi) * u;
            var ln = own ? SimdMath.Log(u1) : Vector256.Log(u1);
            var (s, c) = own ? SimdMath.SinCos(theta) : Vector256.SinCos(theta);
            for (int l = 0; l < 8; l++)
            {
                double exact = Math.Log((double)u1[l]);
                double rel = exact == 0 ? Math.Abs(ln[l]) : Math.Abs((ln[l] - exact) / exact);
                worstLog = Math.Max(worstLog, rel);
                double th = theta[l];
                worstTrig = Math.Max(worstTrig, Math.Max(Math.Abs(s[l] - Math.Sin(th)), Math.Abs(c[l] - Math.Cos(th))));
            }
        }
        string who = own ? "SimdMath" : "Vector256";
        Assert.True(worstLog <= LogMaxRelErr, $"{who} log: worst relative error {worstLog:G4} > {LogMaxRelErr:G4}");
        Assert.True(worstTrig <= TrigMaxAbsErr, $"{who} sin/cos: worst absolute error {worstTrig:G4} > {TrigMaxAbsErr:G4}");
    }

    [Fact]
    public void OwnSinCosCoversEveryQuadrantAndSign()
    {
        // Beyond Box–Muller's [0, 2π): negative angles and several turns, against Math.Sin/Cos (≤ 4u + 2⁻²⁴·|θ| for
        // the reduction of large θ).
        var rng = new Random(5);
        for (int i = 0; i < 20000; i++)
        {
            var th = Vector256.Create((float)(rng.NextDouble() * 80 - 40));
            var (s, c) = SimdMath.SinCos(th);
            double t = th[0], bound = TrigMaxAbsErr + Ulp1 * 4;
            Assert.True(Math.Abs(s[0] - Math.Sin(t)) <= bound, $"sin({t})");
            Assert.True(Math.Abs(c[0] - Math.Cos(t)) <= bound, $"cos({t})");
        }
    }

    private static IEnumerable<int> Variants() => Philox4x32.Block8Supported ? [1, 2] : [1];

    [Fact]
    public void OutputIsIndependentOfThreadCount()
    {
        // > 3 × the per-thread grain, with an odd tail, so 2 and 3 threads really split the work.
        const int n = 3 * 65536 + 4099;
        float[]? uni = null, gau = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var acc = new CpuAccelerator(threads);
            using var t = acc.Allocate(n);
            Ops.FillUniform(acc, t, 7);
            var u = t.ToArray();
            Ops.FillGaussian(acc, t, 7);
            var g = t.ToArray();
            if (uni is null) { uni = u; gau = g; continue; }
            Assert.Equal(uni, u);
            Assert.Equal(gau, g);
        }
    }

    [Fact]
    public void CountedFlopsEqualSpec()
    {
        foreach (int n in new[] { 0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 100, 101 })
        {
            var y = new float[n];
            using (var s = Counted.Begin())
            {
                NoiseReference.Uniform<Counted>(y, 5);
                Assert.Equal(NoiseSpec.UniformCost(n).ArithmeticOnly, s.Counts.ToCost());
            }
            using (var s = Counted.Begin())
            {
                NoiseReference.Gaussian<Counted>(y, 5, 1f, 2f);
                Assert.Equal(NoiseSpec.GaussianCost(n).ArithmeticOnly, s.Counts.ToCost());
            }
        }
    }

    [Fact]
    public void LedgerRecordsSpecCost()
    {
        using var acc = new CpuAccelerator(2);
        using var t = acc.Allocate(2, 4, 8, 8);
        Ops.FillGaussian(acc, t, 1);
        var e = Assert.Single(acc.Ledger.Entries);
        Assert.Equal(NoiseSpec.GaussianOp, e.Op);
        Assert.Equal("[2,4,8,8]", e.Shape);
        Assert.Equal(NoiseSpec.GaussianCost(512), e.Cost);
    }

    [Fact]
    public void UniformStatistics()
    {
        const int n = 1 << 21;
        using var acc = new CpuAccelerator(2);
        using var t = acc.Allocate(n);
        Ops.FillUniform(acc, t, 2024);
        var (mean, variance, min, max) = Moments(t.AsSpan());
        // U[0,1): σ² = 1/12, μ4 = 1/80; 5-sigma bounds for the sample mean and sample variance.
        Assert.InRange(mean, 0.5 - 5 * Math.Sqrt(1.0 / 12 / n), 0.5 + 5 * Math.Sqrt(1.0 / 12 / n));
        double sdVar = Math.Sqrt((1.0 / 80 - 1.0 / 144) / n);
        Assert.InRange(variance, 1.0 / 12 - 5 * sdVar, 1.0 / 12 + 5 * sdVar);
        Assert.True(min >= 0 && max < 1, $"range [{min}, {max}]");
        // 16 equal bins: chi-square with 15 dof; mean 15, sd √30 — 15 + 6·√30 ≈ 48 is far in the tail.
        var bins = new long[16];
        foreach (float v in t.AsSpan()) bins[(int)(v * 16)]++;
        double chi2 = bins.Sum(b => (b - n / 16.0) * (b - n / 16.0) / (n / 16.0));
        Assert.True(chi2 < 15 + 6 * Math.Sqrt(30), $"chi2 {chi2:F1}");
    }

    [Theory]
    [InlineData(0f, 1f)]
    [InlineData(3f, 2f)]
    public void GaussianStatistics(float mu, float sigma)
    {
        const int n = 1 << 21;
        using var acc = new CpuAccelerator(2);
        using var t = acc.Allocate(n);
        Ops.FillGaussian(acc, t, 77, mu, sigma);
        var (mean, variance, _, _) = Moments(t.AsSpan());
        // Sample mean ~ N(μ, σ²/n); sample variance has sd σ²·√(2/n). 5-sigma bounds.
        Assert.InRange(mean, mu - 5 * sigma / Math.Sqrt(n), mu + 5 * sigma / Math.Sqrt(n));
        double v = sigma * sigma;
        Assert.InRange(variance, v - 5 * v * Math.Sqrt(2.0 / n), v + 5 * v * Math.Sqrt(2.0 / n));
        // P(|z| < 1) = erf(1/√2) = 0.682689…; binomial 5-sigma bound.
        double p = 0.6826894921370859;
        double inside = 0;
        foreach (float x in t.AsSpan()) if (Math.Abs(x - mu) < sigma) inside++;
        inside /= n;
        Assert.InRange(inside, p - 5 * Math.Sqrt(p * (1 - p) / n), p + 5 * Math.Sqrt(p * (1 - p) / n));
        // Sine and cosine halves must be uncorrelated: correlation of y[2p] and y[2p+1] within 5/√(n/2).
        var s = t.AsSpan();
        double cov = 0;
        for (int i = 0; i < n; i += 2) cov += (s[i] - mu) * (s[i + 1] - mu);
        cov /= n / 2 * v;
        Assert.InRange(cov, -5 / Math.Sqrt(n / 2), 5 / Math.Sqrt(n / 2));
    }

    [Fact]
    public void DifferentSeedsAndStreamsDiffer()
    {
        using var acc = new CpuAccelerator(1);
        using var a = acc.Allocate(64);
        using var b = acc.Allocate(64);
        Ops.FillUniform(acc, a, 1);
        Ops.FillUniform(acc, b, 2);
        Assert.NotEqual(a.ToArray(), b.ToArray());
        Ops.FillUniform(acc, b, 1, stream: 1);
        Assert.NotEqual(a.ToArray(), b.ToArray());
        // The high half of the seed is part of the key.
        Ops.FillUniform(acc, b, 1 + (1ul << 32));
        Assert.NotEqual(a.ToArray(), b.ToArray());
    }

    [Fact]
    public void BadInputIsRejectedWithOpAndShape()
    {
        using var acc = new CpuAccelerator(1);
        using var u8 = acc.Allocate(DType.U8, 2, 3);
        var e = Assert.Throws<ArgumentException>(() => Ops.FillUniform(acc, u8, 1));
        Assert.Contains("noise.uniform", e.Message);
        Assert.Contains("[2,3]", e.Message);
        using var f = acc.Allocate(4, 5);
        e = Assert.Throws<ArgumentException>(() => Ops.FillGaussian(acc, f, 1, std: -1f));
        Assert.Contains("noise.gaussian", e.Message);
        Assert.Contains("[4,5]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.FillGaussian(acc, f, 1, mean: float.NaN));
        Assert.Contains("noise.gaussian", e.Message);
        using var other = new CpuAccelerator(1);
        e = Assert.Throws<ArgumentException>(() => Ops.FillUniform(other, f, 1));
        Assert.Contains("[4,5]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.FillUniform(acc, f, 1, variant: 9));
        Assert.Contains("variant 9", e.Message);
    }

    private static (double Mean, double Variance, float Min, float Max) Moments(ReadOnlySpan<float> x)
    {
        double sum = 0; float min = float.MaxValue, max = float.MinValue;
        foreach (float v in x) { sum += v; min = Math.Min(min, v); max = Math.Max(max, v); }
        double mean = sum / x.Length, ss = 0;
        foreach (float v in x) ss += (v - mean) * (v - mean);
        return (mean, ss / (x.Length - 1), min, max);
    }

    // ---- Vector512 path, forced with new CpuAccelerator(threads, 512): emulated in software on AVX2-only machines,
    // so sizes stay small, but every tail of a 64-element group (0..65) and odd sizes are covered. ----

    [Theory]
    [InlineData(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Block16KnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3)
    {
        // Same Random123 vectors as PhiloxKnownAnswers, in all 16 lanes.
        var v0 = Vector512.Create(c0); var v1 = Vector512.Create(c1); var v2 = Vector512.Create(c2); var v3 = Vector512.Create(c3);
        var keys = new Philox4x32.KeySchedule512(k0 | (ulong)k1 << 32);
        Philox4x32.Block16(ref v0, ref v1, ref v2, ref v3, ref keys);
        for (int l = 0; l < 16; l++) Assert.Equal((e0, e1, e2, e3), (v0[l], v1[l], v2[l], v3[l]));
    }

    [Fact]
    public void Block16EqualsScalarBitwise()
    {
        var rng = new Random(4321);
        for (int trial = 0; trial < 300; trial++)
        {
            var c = new uint[4][];
            for (int w = 0; w < 4; w++) { c[w] = new uint[16]; for (int l = 0; l < 16; l++) c[w][l] = Word(rng, trial); }
            uint k0 = Word(rng, trial), k1 = Word(rng, trial);
            var v0 = Vector512.Create(c[0]); var v1 = Vector512.Create(c[1]); var v2 = Vector512.Create(c[2]); var v3 = Vector512.Create(c[3]);
            var keys = new Philox4x32.KeySchedule512(k0 | (ulong)k1 << 32);
            Philox4x32.Block16(ref v0, ref v1, ref v2, ref v3, ref keys);
            for (int l = 0; l < 16; l++)
                Assert.Equal(Philox4x32.Block(c[0][l], c[1][l], c[2][l], c[3][l], k0, k1), (v0[l], v1[l], v2[l], v3[l]));
        }
    }

    [Theory]
    [InlineData(0ul, 0ul, 0ul)]
    [InlineData(0xfffffff0ul, 7ul, 0xdeadbeefcafef00dul)] // the last 16 blocks below a 2^32 boundary
    [InlineData(1ul << 33, ulong.MaxValue, 42ul)]
    public void Blocks16InOrderIsSixteenConsecutiveBlocks(ulong first, ulong stream, ulong seed)
    {
        var keys = new Philox4x32.KeySchedule512(seed);
        Philox4x32.Blocks16InOrder(first, stream, ref keys, out var o0, out var o1, out var o2, out var o3);
        var got = new uint[64];
        o0.CopyTo(got, 0); o1.CopyTo(got, 16); o2.CopyTo(got, 32); o3.CopyTo(got, 48);
        for (int i = 0; i < 64; i++)
            Assert.Equal(Philox4x32.At(first * 4 + (ulong)i, stream, seed), got[i]);
    }

    public static IEnumerable<object[]> Sizes512()
    {
        for (int n = 0; n <= 66; n++) yield return [n];
        foreach (int n in new[] { 95, 127, 128, 129, 191, 1001, 4097 }) yield return [n];
    }

    [Theory]
    [MemberData(nameof(Sizes512))]
    public void Uniform512EqualsReferenceAnd256Bitwise(int n)
    {
        var expected = new float[n];
        NoiseReference.Uniform<F32>(expected, seed: 0x1234_5678_9abc_def0ul, stream: 3);
        using var acc512 = new CpuAccelerator(2, 512);
        using var t = acc512.Allocate(n);
        Ops.FillUniform(acc512, t, 0x1234_5678_9abc_def0ul, stream: 3);
        Assert.Equal("cpu.v2-simd-v512", acc512.Ledger.Entries[^1].Variant);
        // The same exact integer → float steps as the AVX2 path: bitwise the reference.
        var got512 = t.ToArray();
        Assert.Equal(expected, got512);

        using var acc256 = new CpuAccelerator(2, 256);
        using var t256 = acc256.Allocate(n);
        Ops.FillUniform(acc256, t256, 0x1234_5678_9abc_def0ul, stream: 3);
        Assert.Equal(t256.ToArray(), got512);
    }

    [Theory]
    [MemberData(nameof(Sizes512))]
    public void Gaussian512MatchesReferenceAnd256(int n)
    {
        const float mean = 0.25f, std = 1.5f;
        var expected = new float[n];
        NoiseReference.Gaussian<F32>(expected, seed: 99, mean, std, stream: 1);
        using var acc512 = new CpuAccelerator(2, 512);
        using var t = acc512.Allocate(n);
        using var acc256 = new CpuAccelerator(2, 256);
        using var t256 = acc256.Allocate(n);
        double rMax = Math.Sqrt(2 * 24 * Math.Log(2));
        foreach (int variant in new[] { 2, 3 })
        {
            Ops.FillGaussian(acc512, t, 99, mean, std, stream: 1, variant: variant);
            Assert.Equal(variant == 2 ? "cpu.v2-simd-v512" : "cpu.v3-simd-polylog-v512", acc512.Ledger.Entries[^1].Variant);
            var got = t.ToArray();
            // The same error budget as GaussianKernelMatchesReference (derivation there): the 512 path does the same
            // Box–Muller steps; its log/sin/cos are Vector512.Log/SinCos (v2) or SimdMath's Log/SinCos at full width (v3).
            double atol = std * rMax * (TrigMaxAbsErr + Ulp1);
            double rtol = LogMaxRelErr / 2 + 6 * Ulp1;
            Close.All(expected, got, atol, rtol, new[] { n }, $"gaussian 512 v{variant} n={n}");

            if (!Philox4x32.Block8Supported) continue;
            Ops.FillGaussian(acc256, t256, 99, mean, std, stream: 1, variant: variant);
            var got256 = t256.ToArray();
            // Elements both paths compute in SIMD (whole 64-element groups): v3 runs SimdMath's Log/SinCos, the same operations per lane at
            // both, so bitwise; v2 compares .NET's Vector256 and Vector512 math, each within the bound of the
            // reference, so within twice the bound of each other. Tails (scalar MathF on one path, SIMD on the
            // other) are covered by the reference comparisons.
            int simd = n / NoiseCpu.Group512 * NoiseCpu.Group512;
            if (variant == 3) Assert.Equal(got256[..simd], got[..simd]);
            else Close.All(got256[..simd], got[..simd], 2 * atol, 2 * rtol, new[] { simd }, $"gaussian 256 vs 512 v2 n={n}");
        }
    }

    [Fact]
    public void Vector512OutputIsIndependentOfThreadCount()
    {
        // Above 3 × the 512 path's per-thread grain (65536 uniform, 16384 Gaussian elements), odd tail.
        const int n = 3 * 65536 + 4099;
        float[]? uni = null, gau = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var acc = new CpuAccelerator(threads, 512);
            using var t = acc.Allocate(n);
            Ops.FillUniform(acc, t, 7);
            var u = t.ToArray();
            Ops.FillGaussian(acc, t, 7);
            var g = t.ToArray();
            if (uni is null) { uni = u; gau = g; continue; }
            Assert.Equal(uni, u);
            Assert.Equal(gau, g);
        }
    }
}
