using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Noise;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

public class NoiseIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private static readonly Dictionary<Accelerator, NoiseIlgpu> Cache = [];
    private NoiseIlgpu K { get { lock (Cache) { if (!Cache.TryGetValue(fx.Accelerator, out var k)) Cache[fx.Accelerator] = k = new NoiseIlgpu(fx.Accelerator) { MaxGroups = 2 }; return k; } } }

    private static void KatKernel(Index1D i, ArrayView<uint> cin, ArrayView<uint> o)
    {
        var w = NoiseIlgpu.Philox(cin[6 * i], cin[6 * i + 1], cin[6 * i + 2], cin[6 * i + 3], cin[6 * i + 4], cin[6 * i + 5]);
        o[4 * i] = w.X0; o[4 * i + 1] = w.X1; o[4 * i + 2] = w.X2; o[4 * i + 3] = w.X3;
    }

    [Fact]
    public void PhiloxKnownAnswersOnTheDevice()
    {
        // Random123 1.14 examples/kat_vectors, the three "philox4x32 10" lines (as NoiseTests.PhiloxKnownAnswers).
        uint[] cin =
        [
            0, 0, 0, 0, 0, 0,
            0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
            0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u,
        ];
        uint[] expected =
        [
            0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u,
            0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu,
            0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u,
        ];
        var acc = fx.Accelerator;
        var k = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<uint>, ArrayView<uint>>(KatKernel);
        using var c = acc.Allocate1D(cin);
        using var o = acc.Allocate1D<uint>(12);
        k(3, c.View, o.View);
        acc.Synchronize();
        Assert.Equal(expected, o.GetAsArray1D());
    }

    public static IEnumerable<object[]> Sizes()
    {
        // every tail of a Philox block (4) and of the CPU's 32/64-element groups, odd sizes, more blocks than threads
        foreach (int n in Enumerable.Range(1, 33).Concat([63, 65, 1000, 1001])) yield return [n];
    }

    private static readonly (ulong Seed, ulong Stream)[] Keys =
        [(0x1234_5678_9abc_def0ul, 3), (0, 0), (ulong.MaxValue, 0x8000_0001_ffff_fffful), (42, 1ul << 32)];

    [Theory]
    [MemberData(nameof(Sizes))]
    public void UniformEqualsTheCpuOpBitwise(int n)
    {
        using var cpu = new CpuAccelerator(2);
        using var t = cpu.Allocate(n);
        using var buf = fx.Accelerator.Allocate1D<float>(n);
        foreach (var (seed, stream) in Keys)
        {
            PixelCost.Kernels.Ops.FillUniform(cpu, t, seed, stream);
            K.RunUniform(fx.Accelerator.DefaultStream, buf.View, seed, stream, variant: 0);
            fx.Accelerator.Synchronize();
            // Integer Philox, exact int→float, power-of-two scale: no rounding anywhere, so bitwise.
            Assert.Equal(t.ToArray(), buf.GetAsArray1D());
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void GaussianMatchesTheCpuOpAndTheReference(int n)
    {
        using var cpu = new CpuAccelerator(2);
        using var t = cpu.Allocate(n);
        using var buf = fx.Accelerator.Allocate1D<float>(n);
        var (atol, rtol) = NoiseIlgpu.Tolerance(0, gaussian: true);
        foreach (var (seed, stream, mean, std) in GaussKeys)
        {
            var reference = new float[n];
            NoiseReference.Gaussian<F64>(reference, seed, mean, std, stream);
            PixelCost.Kernels.Ops.FillGaussian(cpu, t, seed, mean, std, stream);
            K.RunGaussian(fx.Accelerator.DefaultStream, buf.View, seed, mean, std, stream, variant: 0);
            fx.Accelerator.Synchronize();
            var got = buf.GetAsArray1D();
            Close.All(reference, got, atol * std, rtol, new[] { n }, $"gaussian vs F64 reference n={n}");
            // Against the CPU op (its polynomials with FMAs on whole groups, MathF on its tails): the difference is
            // absolute in units of std·2⁻²⁴ (cos near its zeros makes ulps of z meaningless).
            var cpuOut = t.ToArray();
            for (int i = 0; i < n; i++)
            {
                double units = Math.Abs(cpuOut[i] - got[i]) / (std * Math.Pow(2, -24));
                Assert.True(units <= MaxUnitsVsCpu, $"n={n} seed={seed} [{i}]: cpu {cpuOut[i]:R}, ilgpu {got[i]:R} ({units:F1} × std·2⁻²⁴)");
            }
        }
    }

    private static readonly (ulong Seed, ulong Stream, float Mean, float Std)[] GaussKeys =
        [(99, 1, 0f, 1f), (42, 1ul << 32, 0.25f, 1.5f)];

    /// <summary>Unfused polynomial evaluation on ILGPU's CPU accelerator vs the CPU's FMAs (and MathF on its tails), in std·2⁻²⁴.</summary>
    private const double MaxUnitsVsCpu = 8; // measured 6.0 on the sizes and keys here

    internal static long UlpDistance(float a, float b)
    {
        int ia = BitConverter.SingleToInt32Bits(a), ib = BitConverter.SingleToInt32Bits(b);
        long la = ia < 0 ? int.MinValue - (long)ia : ia, lb = ib < 0 ? int.MinValue - (long)ib : ib;
        return Math.Abs(la - lb);
    }
}
