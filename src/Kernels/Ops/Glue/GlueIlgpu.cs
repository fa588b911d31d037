using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU glue ops (the semantics of <see cref="GlueReference"/>):
/// <list type="bullet">
/// <item>ilgpu.v1-simt: one output element per thread per grid-stride step, its inputs found by index arithmetic
/// (add, add_channel_bias, scale, concat_channels, upsample_nearest_2x, timestep_embedding). add, add_channel_bias
/// and scale may run in place (y = an input); concat and upsample may not overlap (as the CPU ops).</item>
/// </list>
/// </summary>
internal sealed class GlueIlgpu
{
    private readonly Accelerator _acc;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>> _add;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> _bias;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, float, ArrayView<float>> _scale;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> _concat;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int> _upsample;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int, float, float> _timestep;

    public GlueIlgpu(Accelerator acc)
    {
        _acc = acc;
        _add = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>>(AddKernel);
        _bias = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ChannelBiasKernel);
        _scale = acc.LoadKernel<ArrayView<float>, float, ArrayView<float>>(ScaleKernel);
        _concat = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(ConcatKernel);
        _upsample = acc.LoadKernel<ArrayView<float>, ArrayView<float>, int, int>(UpsampleKernel);
        _timestep = acc.LoadKernel<ArrayView<float>, ArrayView<float>, int, int, float, float>(TimestepKernel);
    }

    /// <summary>Caps the grid when &gt; 0 (tests: exercises the grid-stride loop on small data).</summary>
    internal int MaxGroups { get; set; }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-simt"];

    public static string VariantName(int variant, Accelerator acc) => variant switch
    {
        0 or 1 => Variants[0],
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "glue: ILGPU variants are 0 (default) and 1 (simt)"),
    };

    /// <summary>
    /// add, add_channel_bias, scale: one fp32 operation, the same as the reference's F32 evaluation: (0, 0) against the
    /// F32 reference, half an ulp (rtol 2⁻²⁴) against F64. concat, upsample: copies, exact.
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant) => (0, 6e-8);

    /// <summary>
    /// timestep_embedding against the float64 formula, for timesteps |t| ≤ <paramref name="maxT"/>: the fp32 argument
    /// t·freq carries the rounding of the exponent i·(−ln P)/(half − shift) (≤ 9.3·2⁻²⁴ absolute), of exp (a few
    /// 2⁻²⁴ relative) and of the product, ≲ 6·2⁻²⁴·|t·freq| in all; sin/cos add ≤ 4·2⁻²⁴: atol 4e-7·maxT + 1e-6.
    /// </summary>
    public static (double Atol, double Rtol) TimestepTolerance(int variant, double maxT) => (4e-7 * maxT + 1e-6, 0);

    /// <summary>y = a + b (all [n]; y may be a or b).</summary>
    public void RunAdd(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, int variant)
    {
        VariantName(variant, _acc);
        if (y.Length > 0) _add(stream, Grid(y.Length), a, b, y);
    }

    /// <summary>x, y: [N, C, S], b: [N, C]: y = x + b broadcast over S (y may be x).</summary>
    public void RunAddChannelBias(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> b, ArrayView<float> y, int s, int variant)
    {
        VariantName(variant, _acc);
        if (y.Length > 0) _bias(stream, Grid(y.Length), x, b, y, s);
    }

    /// <summary>y = s·x ([n]; y may be x).</summary>
    public void RunScale(AcceleratorStream stream, ArrayView<float> x, float s, ArrayView<float> y, int variant)
    {
        VariantName(variant, _acc);
        if (y.Length > 0) _scale(stream, Grid(y.Length), x, s, y);
    }

    /// <summary>a: [N, Ca, S], b: [N, Cb, S] → y: [N, Ca + Cb, S] (no overlap).</summary>
    public void RunConcatChannels(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y,
        int ca, int cb, int s, int variant)
    {
        VariantName(variant, _acc);
        if (y.Length > 0) _concat(stream, Grid(y.Length), a, b, y, ca, cb, s);
    }

    /// <summary>x: [N, C, H, W] → y: [N, C, 2H, 2W], nearest (no overlap).</summary>
    public void RunUpsample2xNearest(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int h, int w, int variant)
    {
        VariantName(variant, _acc);
        if (y.Length > 0) _upsample(stream, Grid(y.Length), x, y, h, w);
    }

    /// <summary>
    /// t: [N] → y: [N, dim], diffusers' get_timestep_embedding (scale 1) as <see cref="GlueCpu.Timestep"/>: freq_i =
    /// exp(i·(−ln maxPeriod)/(half − shift)) in fp32, arg = t·freq_i, [sin, cos] or flipped [cos, sin], odd dim → last 0.
    /// </summary>
    public void RunTimestepEmbedding(AcceleratorStream stream, ArrayView<float> t, ArrayView<float> y, int dim,
        bool flipSinToCos, float downscaleFreqShift, float maxPeriod, int variant)
    {
        VariantName(variant, _acc);
        if (y.Length == 0) return;
        float negLog = (float)-Math.Log(maxPeriod), denom = (float)(dim / 2 - (double)downscaleFreqShift);
        _timestep(stream, Grid(y.Length), t, y, dim, flipSinToCos ? 1 : 0, negLog, denom);
    }

    private KernelConfig Grid(long n) => IlgpuGrid.Strided(_acc, n, MaxGroups);

    private static long Stride => (long)ILGPU.Grid.DimX * Group.DimX;

    // a, b, y: [n]
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void AddKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> y)
    {
        for (long i = ILGPU.Grid.GlobalIndex.X; i < y.Length; i += Stride) y[i] = a[i] + b[i];
    }

    // x, y: [N, C, S]; b: [N, C] — element i belongs to plane i / S.
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void ChannelBiasKernel(ArrayView<float> x, ArrayView<float> b, ArrayView<float> y, int s)
    {
        for (long i = ILGPU.Grid.GlobalIndex.X; i < y.Length; i += Stride) y[i] = x[i] + b[i / s];
    }

    // x, y: [n]
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void ScaleKernel(ArrayView<float> x, float s, ArrayView<float> y)
    {
        for (long i = ILGPU.Grid.GlobalIndex.X; i < y.Length; i += Stride) y[i] = s * x[i];
    }

    // a: [N, Ca, S], b: [N, Cb, S] → y: [N, Ca + Cb, S]
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void ConcatKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, int ca, int cb, int s)
    {
        int c = ca + cb;
        for (long i = ILGPU.Grid.GlobalIndex.X; i < y.Length; i += Stride)
        {
            long plane = i / s, k = i - plane * s;
            long n = plane / c;
            int ch = (int)(plane - n * c);
            y[i] = ch < ca ? a[(n * ca + ch) * s + k] : b[(n * cb + ch - ca) * s + k];
        }
    }

    // x: [N, C, H, W] → y: [N, C, 2H, 2W]
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void UpsampleKernel(ArrayView<float> x, ArrayView<float> y, int h, int w)
    {
        int w2 = 2 * w, h2 = 2 * h;
        for (long i = ILGPU.Grid.GlobalIndex.X; i < y.Length; i += Stride)
        {
            long rowIdx = i / w2;
            int col = (int)(i - rowIdx * w2);
            long p = rowIdx / h2;
            int row = (int)(rowIdx - p * h2);
            y[i] = x[(p * h + row / 2) * w + col / 2];
        }
    }

    // t: [N] → y: [N, dim]
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void TimestepKernel(ArrayView<float> t, ArrayView<float> y, int dim, int flip, float negLog, float denom)
    {
        int half = dim / 2;
        for (long i = ILGPU.Grid.GlobalIndex.X; i < y.Length; i += Stride)
        {
            long b = i / dim;
            int col = (int)(i - b * dim);
            if (col >= 2 * half) { y[i] = 0f; continue; } // the zero pad of an odd dim
            bool second = col >= half;
            int k = second ? col - half : col;
            // As GlueCpu: (k·negLog)/denom rounded in fp32, then exp.
            float freq = IlgpuKernelMath.Exp(k * negLog / denom);
            IlgpuKernelMath.SinCos(t[b] * freq, out float sin, out float cos);
            // [sin, cos], or [cos, sin] flipped: the first half holds sin unless flipped.
            y[i] = second == (flip != 0) ? sin : cos;
        }
    }
}
