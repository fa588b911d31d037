using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels.Noise;

/// <summary>
/// ILGPU noise fills (the mapping of <see cref="NoiseSpec"/>: element i = lane i % 4 of Philox block i / 4).
/// <list type="bullet">
/// <item>ilgpu.v1-simt: one Philox-4x32-10 block per thread (grid-stride), 4 outputs per block. Uniform: bitwise the
/// reference (integer Philox, exact int→float and power-of-two scale). Gaussian: Box–Muller on lanes (0,1) and (2,3)
/// with the CPU v3 log and sin/cos polynomials ported to scalar (<see cref="IlgpuKernelMath"/>).</item>
/// </list>
/// Gaussian vs the CPU op: on ILGPU's CPU device the polynomials run unfused (≤ 8·std·2⁻²⁴ apart, measured 6.0); on
/// CUDA ptxas contracts ILGPU's mul.f32 + add.f32 into FMAs, as the CPU's polynomials are written, but it may also
/// contract mean + std·(r·cos), which the CPU rounds twice: expect equality there up to ~1 ulp, not bit for bit.
/// (Not yet run on a GPU: no device was lent to this task; ElementwisePtxTests checks the PTX compiles.)
/// </summary>
internal sealed class NoiseIlgpu
{
    private readonly Accelerator _acc;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ulong, ulong> _uniform;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ulong, ulong, float, float> _gaussian;

    public NoiseIlgpu(Accelerator acc)
    {
        _acc = acc;
        _uniform = acc.LoadKernel<ArrayView<float>, ulong, ulong>(UniformKernel);
        _gaussian = acc.LoadKernel<ArrayView<float>, ulong, ulong, float, float>(GaussianKernel);
    }

    /// <summary>Caps the grid when &gt; 0 (tests: exercises the grid-stride loop on small data).</summary>
    internal int MaxGroups { get; set; }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-simt"];

    public static string VariantName(int variant, Accelerator acc) => variant switch
    {
        0 or 1 => Variants[0],
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "noise: ILGPU variants are 0 (default) and 1 (simt)"),
    };

    /// <summary>
    /// Uniform: 0 — bitwise equal to the reference. Gaussian (std 1, mean 0): |z| ≤ 5.8, r = √(−2 ln u1) carries the
    /// log's ≤ 4u relative error halved, cos/sin ≤ 4u absolute (measured on the CPU polynomials in NoiseTests), so
    /// |Δz| ≲ 5.8·4u + |z|·3u ≈ 1.4e-6 + 1.8e-7·|z|; unfused evaluation (ILGPU's CPU accelerator) adds a few ulp of
    /// the polynomial terms: atol 3e-6, rtol 1e-6 (scale both by std for other std).
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant, bool gaussian) => gaussian ? (3e-6, 1e-6) : (0, 0);

    /// <summary>y[i] = uniform [0, 1) of element i of (seed, stream): as <see cref="NoiseCpu.Uniform"/>.</summary>
    public void RunUniform(AcceleratorStream stream, ArrayView<float> y, ulong seed, ulong noiseStream, int variant)
    {
        VariantName(variant, _acc);
        if (y.Length == 0) return;
        _uniform(stream, IlgpuGrid.Strided(_acc, (y.Length + 3) / 4, MaxGroups), y, seed, noiseStream);
    }

    /// <summary>y[i] = mean + std·z_i, Box–Muller pairs (2p, 2p+1): as <see cref="NoiseCpu.Gaussian"/>.</summary>
    public void RunGaussian(AcceleratorStream stream, ArrayView<float> y, ulong seed, float mean, float std, ulong noiseStream, int variant)
    {
        VariantName(variant, _acc);
        if (y.Length == 0) return;
        _gaussian(stream, IlgpuGrid.Strided(_acc, (y.Length + 3) / 4, MaxGroups), y, seed, noiseStream, mean, std);
    }

    /// <summary>The four words of a Philox-4x32-10 block.</summary>
    internal struct Words
    {
        public uint X0, X1, X2, X3;
    }

    /// <summary>Philox-4x32-10 of counter (c0..c3) and key (k0, k1), as <see cref="Philox4x32.Block(uint, uint, uint, uint, uint, uint)"/>.</summary>
    internal static Words Philox(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int r = 0; r < Philox4x32.Rounds; r++)
        {
            // 32×32→64 products: the high word is the mul.hi the GPU has, the low word the plain product.
            ulong p0 = (ulong)Philox4x32.M0 * c0, p1 = (ulong)Philox4x32.M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            c0 = n0; c1 = (uint)p1; c2 = n2; c3 = (uint)p0;
            k0 += Philox4x32.W0; k1 += Philox4x32.W1;
        }
        return new Words { X0 = c0, X1 = c1, X2 = c2, X3 = c3 };
    }

    /// <summary>Block b of the fill mapping: counter (low32 b, high32 b, low32 stream, high32 stream), key = seed.</summary>
    internal static Words Block(long b, ulong stream, ulong seed) =>
        Philox((uint)b, (uint)((ulong)b >> 32), (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));

    /// <summary>(x >> 8)·2⁻²⁴: the top 24 bits, exact.</summary>
    internal static float ToUnit(uint x) => (int)(x >> 8) * NoiseSpec.Inv24;

    // y: [n]; thread → block b → elements 4b … 4b + 3.
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void UniformKernel(ArrayView<float> y, ulong seed, ulong stream)
    {
        long n = y.Length, blocks = (n + 3) / 4;
        for (long b = Grid.GlobalIndex.X; b < blocks; b += (long)Grid.DimX * Group.DimX)
        {
            var w = Block(b, stream, seed);
            long e = 4 * b;
            if (e + 4 <= n)
            {
                y[e] = ToUnit(w.X0); y[e + 1] = ToUnit(w.X1); y[e + 2] = ToUnit(w.X2); y[e + 3] = ToUnit(w.X3);
            }
            else
            {
                y[e] = ToUnit(w.X0);
                if (e + 1 < n) y[e + 1] = ToUnit(w.X1);
                if (e + 2 < n) y[e + 2] = ToUnit(w.X2);
            }
        }
    }

    // y: [n]; thread → block b → pairs (4b, 4b+1) from words (0, 1) and (4b+2, 4b+3) from words (2, 3).
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void GaussianKernel(ArrayView<float> y, ulong seed, ulong stream, float mean, float std)
    {
        long n = y.Length, blocks = (n + 3) / 4;
        for (long b = Grid.GlobalIndex.X; b < blocks; b += (long)Grid.DimX * Group.DimX)
        {
            var w = Block(b, stream, seed);
            long e = 4 * b;
            BoxMuller(w.X0, w.X1, mean, std, out float z0, out float z1);
            y[e] = z0;
            if (e + 1 < n) y[e + 1] = z1;
            if (e + 2 < n)
            {
                BoxMuller(w.X2, w.X3, mean, std, out float z2, out float z3);
                y[e + 2] = z2;
                if (e + 3 < n) y[e + 3] = z3;
            }
        }
    }

    /// <summary>The operations of the CPU's BoxMuller in its order (mul then add for mean + std·z, as there).</summary>
    private static void BoxMuller(uint a, uint b, float mean, float std, out float zc, out float zs)
    {
        float u1 = (int)((a >> 8) + 1) * NoiseSpec.Inv24; // (0, 1]
        float u2 = (int)(b >> 8) * NoiseSpec.Inv24;       // [0, 1)
        float r = ILGPU.Algorithms.XMath.Sqrt(-2f * IlgpuKernelMath.Log(u1));
        float theta = NoiseSpec.TwoPi * u2;
        IlgpuKernelMath.SinCos(theta, out float sin, out float cos);
        zc = mean + std * (r * cos);
        zs = mean + std * (r * sin);
    }
}
