using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Kernels.Noise;

namespace PixelCost.Kernels.Pixels;

/// <summary>
/// ILGPU pixel maps (the definitions of <see cref="PixelsReference"/>, images [H, W, 3] F32):
/// <list type="bullet">
/// <item>ilgpu.v1-simt: noise = <see cref="NoiseIlgpu"/>'s uniform fill (stream 0); smooth noise one thread per pixel,
/// its four lattice corners recomputed by Philox (no scratch lattice: 4 blocks per pixel is cheap next to the write);
/// gradient, checkerboard one thread per pixel; quantise one thread per value into bytes. Grid-stride loops.</item>
/// </list>
/// Exactness: noise, gradient (one multiply), checkerboard (integers) are bitwise the reference on every device.
/// Smooth noise and quantise are bitwise the reference on ILGPU's CPU device; on CUDA the compiler may contract
/// a + (b − a)·t and v·255 + 0.5 into FMAs (one rounding fewer), so there they may differ by an ulp of the lerp
/// (smooth noise) or, where v·255 + 0.5 lands within an ulp of an integer, by one step of 1/255 (quantise).
/// </summary>
internal sealed class PixelsIlgpu
{
    private readonly Accelerator _acc;
    private readonly NoiseIlgpu _noise;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, int, ulong, int, float> _smooth;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, int, float, float, float> _gradient;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, int, int> _checker;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<byte>> _quantize;

    public PixelsIlgpu(Accelerator acc)
    {
        _acc = acc;
        _noise = new NoiseIlgpu(acc);
        _smooth = acc.LoadKernel<ArrayView<float>, int, int, ulong, int, float>(SmoothNoiseKernel);
        _gradient = acc.LoadKernel<ArrayView<float>, int, int, float, float, float>(GradientKernel);
        _checker = acc.LoadKernel<ArrayView<float>, int, int, int>(CheckerboardKernel);
        _quantize = acc.LoadKernel<ArrayView<float>, ArrayView<byte>>(QuantizeKernel);
    }

    /// <summary>Caps the grid when &gt; 0 (tests: exercises the grid-stride loops on small images).</summary>
    internal int MaxGroups { get => _noise.MaxGroups; set => _noise.MaxGroups = value; }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-simt"];

    public static string VariantName(int variant, Accelerator acc) => variant switch
    {
        0 or 1 => Variants[0],
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "pixels: ILGPU variants are 0 (default) and 1 (simt)"),
    };

    /// <summary>
    /// Against the F32 reference: 0 (bitwise; see the class comment for CUDA's contractions: smooth noise then within
    /// 2⁻²³ absolute — values in [0, 1) — and quantise within one step). Against F64 the F32 reference itself differs by
    /// its roundings: ≤ 8·2⁻²⁴ absolute for smooth noise, half an ulp for the others.
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant) => (0, 0);

    /// <summary>image: [H, W, 3] (or any length): uniform [0, 1) of (seed, stream 0), as <see cref="NoiseIlgpu.RunUniform"/>.</summary>
    public void RunNoise(AcceleratorStream stream, ArrayView<float> image, ulong seed, int variant)
    {
        VariantName(variant, _acc);
        _noise.RunUniform(stream, image, seed, 0, 0);
    }

    /// <summary>image: [H, W, 3]: value noise with a lattice cell every <paramref name="scale"/> pixels.</summary>
    public void RunSmoothNoise(AcceleratorStream stream, ArrayView<float> image, int h, int w, ulong seed, int scale, int variant)
    {
        VariantName(variant, _acc);
        if ((long)h * w == 0) return;
        _smooth(stream, Grid((long)h * w), image, h, w, seed, scale, (float)(1.0 / scale));
    }

    /// <summary>image: [H, W, 3]: R = (2x + 1)/(2W), G = (2y + 1)/(2H), B = (x + y + 1)/(W + H).</summary>
    public void RunGradient(AcceleratorStream stream, ArrayView<float> image, int h, int w, int variant)
    {
        VariantName(variant, _acc);
        if ((long)h * w == 0) return;
        _gradient(stream, Grid((long)h * w), image, h, w, (float)(1.0 / (2.0 * w)), (float)(1.0 / (2.0 * h)), (float)(1.0 / ((double)w + h)));
    }

    /// <summary>image: [H, W, 3]: white where (x/cell + y/cell) is even, black elsewhere.</summary>
    public void RunCheckerboard(AcceleratorStream stream, ArrayView<float> image, int h, int w, int cell, int variant)
    {
        VariantName(variant, _acc);
        if ((long)h * w == 0) return;
        _checker(stream, Grid((long)h * w), image, h, w, cell);
    }

    /// <summary>dst[i] = floor(clamp(src[i], 0, 1)·255 + 0.5) as a byte, NaN → 0 (src, dst: [n]).</summary>
    public void RunQuantizeU8(AcceleratorStream stream, ArrayView<float> src, ArrayView<byte> dst, int variant)
    {
        VariantName(variant, _acc);
        if (src.Length == 0) return;
        _quantize(stream, Grid(src.Length), src, dst);
    }

    private KernelConfig Grid(long n) => IlgpuGrid.Strided(_acc, n, MaxGroups);

    private static long Stride => (long)ILGPU.Grid.DimX * Group.DimX;

    /// <summary>Channel c of lattice point (gx, gy): lane c of the block (gx, gy, 2³²−1, 2³²−1) under the seed.</summary>
    private static NoiseIlgpu.Words Lattice(int gx, int gy, ulong seed) =>
        NoiseIlgpu.Philox((uint)gx, (uint)gy, PixelsSpec.LatticeStreamWord, PixelsSpec.LatticeStreamWord, (uint)seed, (uint)(seed >> 32));

    private static float Lerp(float a, float b, float t) => a + (b - a) * t;

    private static float Smooth(float t) => t * t * (3f - 2f * t);

    // img: [H, W, 3]; one thread per pixel.
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void SmoothNoiseKernel(ArrayView<float> img, int h, int w, ulong seed, int scale, float invS)
    {
        for (long p = ILGPU.Grid.GlobalIndex.X; p < (long)h * w; p += Stride)
        {
            int y = (int)(p / w), x = (int)(p - (long)y * w);
            int gx = x / scale, gy = y / scale;
            float sx = Smooth((x - gx * scale) * invS), sy = Smooth((y - gy * scale) * invS);
            var l00 = Lattice(gx, gy, seed);
            var l01 = Lattice(gx + 1, gy, seed);
            var l10 = Lattice(gx, gy + 1, seed);
            var l11 = Lattice(gx + 1, gy + 1, seed);
            long o = 3 * p;
            img[o] = Lerp(Lerp(NoiseIlgpu.ToUnit(l00.X0), NoiseIlgpu.ToUnit(l01.X0), sx), Lerp(NoiseIlgpu.ToUnit(l10.X0), NoiseIlgpu.ToUnit(l11.X0), sx), sy);
            img[o + 1] = Lerp(Lerp(NoiseIlgpu.ToUnit(l00.X1), NoiseIlgpu.ToUnit(l01.X1), sx), Lerp(NoiseIlgpu.ToUnit(l10.X1), NoiseIlgpu.ToUnit(l11.X1), sx), sy);
            img[o + 2] = Lerp(Lerp(NoiseIlgpu.ToUnit(l00.X2), NoiseIlgpu.ToUnit(l01.X2), sx), Lerp(NoiseIlgpu.ToUnit(l10.X2), NoiseIlgpu.ToUnit(l11.X2), sx), sy);
        }
    }

    // img: [H, W, 3]; one thread per pixel.
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void GradientKernel(ArrayView<float> img, int h, int w, float invW2, float invH2, float invWH)
    {
        for (long p = ILGPU.Grid.GlobalIndex.X; p < (long)h * w; p += Stride)
        {
            int y = (int)(p / w), x = (int)(p - (long)y * w);
            long o = 3 * p;
            img[o] = (2 * x + 1) * invW2;
            img[o + 1] = (2 * y + 1) * invH2;
            img[o + 2] = (x + y + 1) * invWH;
        }
    }

    // img: [H, W, 3]; one thread per pixel.
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void CheckerboardKernel(ArrayView<float> img, int h, int w, int cell)
    {
        for (long p = ILGPU.Grid.GlobalIndex.X; p < (long)h * w; p += Stride)
        {
            int y = (int)(p / w), x = (int)(p - (long)y * w);
            float v = ((x / cell + y / cell) & 1) == 0 ? 1f : 0f;
            long o = 3 * p;
            img[o] = v; img[o + 1] = v; img[o + 2] = v;
        }
    }

    // src: [n] → dst: [n] bytes
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void QuantizeKernel(ArrayView<float> src, ArrayView<byte> dst)
    {
        for (long i = ILGPU.Grid.GlobalIndex.X; i < src.Length; i += Stride)
        {
            float v = src[i];
            // NaN → 0 (the reference's MathF.Max/Min keep a NaN, and it maps NaN to 0 at the end).
            dst[i] = XMath.IsNaN(v) ? (byte)0 : (byte)XMath.Floor(XMath.Min(XMath.Max(v, 0f), 1f) * 255f + 0.5f);
        }
    }
}
