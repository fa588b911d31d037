using ILGPU;
using ILGPU.Runtime;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU conv2d as an implicit GEMM (fp32 SIMT): per image, y[Cout, Ho·Wo] = W[Cout, Cin·kh·kw] × im2col(x), the im2col
/// columns gathered from x while the shared tile is loaded (no im2col buffer), bias added in the store. A 1×1 stride-1
/// unpadded convolution is exactly a GEMM on x[img] viewed as [Cin, H·W]: it runs the plain gemm kernel (16-byte loads).
///  v1-implicit-gemm:     64×64 block tile, 16-deep K slab, 4×4 per thread (the SimtGemmKernels.ConvT64 loop nest);
///  v2-implicit-gemm-128: 128×128 block tile, 8-deep K slab, 8×8 per thread.
/// </summary>
internal sealed class Conv2dIlgpu
{
    private readonly GemmIlgpu _gemm;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SimtArgs, ConvGeom> _t64, _t128;

    public Conv2dIlgpu(Accelerator acc) : this(acc, new GemmIlgpu(acc)) { }

    /// <summary>Shares the gemm kernels already loaded for this accelerator (used by 1×1 convolutions).</summary>
    internal Conv2dIlgpu(Accelerator acc, GemmIlgpu gemm)
    {
        _gemm = gemm;
        _t64 = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SimtArgs, ConvGeom>(SimtGemmKernels.ConvT64);
        _t128 = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SimtArgs, ConvGeom>(SimtGemmKernels.ConvT128);
    }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-implicit-gemm", "ilgpu.v2-implicit-gemm-128"];

    public static string VariantName(int variant, Accelerator acc) => Variants[Resolve(variant, 1, 1, 1, acc) - 1];

    /// <summary>The variant <see cref="Run"/> runs for these sizes (what the ledger should record).</summary>
    public static string VariantName(int variant, Accelerator acc, Conv2dDims d) => Variants[Resolve(variant, d.N, d.Cout, d.Ho * d.Wo, acc) - 1];

    /// <summary>0 = the 128-tile when the outputs fill the device with 128×128 tiles, else the 64-tile (as gemm).</summary>
    public static int Resolve(int variant, int images, int cout, int pixels, Accelerator acc)
    {
        if (variant == 0)
            return GemmIlgpu.Resolve(0, images, cout, pixels, acc);
        if (variant < 0 || variant > Variants.Count)
            throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{Conv2dSpec.Op}: no ILGPU variant {variant} (0 = default, 1..{Variants.Count}: {string.Join(", ", Variants)})");
        return variant;
    }

    /// <summary>An fp32 dot product of Cin·kh·kw terms (padding taps add exact zeros) plus the bias add: the gemm bound
    /// (<see cref="GemmIlgpu.Tolerance"/>) at K = Cin·kh·kw ≤ 256, and one rounding of the bias.</summary>
    public static (double Atol, double Rtol) Tolerance(int variant) => (GemmIlgpu.Tolerance(variant).Atol, 1.2e-7);

    /// <summary>
    /// y = conv2d(x, w) + bias as <see cref="Ops.Conv2d"/> (dims from <see cref="Conv2dSpec.Validate"/>): x [N,Cin,H,W],
    /// w [Cout,Cin,kh,kw], bias [Cout] (ignored, may be empty, when !d.HasBias), y [N,Cout,Ho,Wo].
    /// Enqueues on <paramref name="stream"/> only.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y,
        Conv2dDims d, int variant)
    {
        int pixels = d.Ho * d.Wo, kTotal = d.Cin * d.Kh * d.Kw;
        int v = Resolve(variant, d.N, d.Cout, pixels, stream.Accelerator);
        var b = d.HasBias ? bias : ArrayView<float>.Empty;
        var p = new SimtArgs
        {
            M = d.Cout, N = pixels, K = kTotal,
            SaM = kTotal, SaK = 1,                  // A(co, k) = w[co·K + k]
            Ldc = pixels, Inner = 1, C0 = (long)d.Cout * pixels,
            Alpha = 1f, Beta = 0f, BiasMode = d.HasBias ? 1 : 0,
        };
        if (d.Kh == 1 && d.Kw == 1 && d.Stride == 1 && d.Padding == 0)
        {
            p.SbK = d.H * d.W; p.SbN = 1;           // B(ci, pixel) = x[img, ci, pixel]
            p.B0 = (long)d.Cin * d.H * d.W;
            _gemm.RunStrided(stream, w, x, y, b, p, d.N, v);
            return;
        }
        p.VecA = p.SaM % 4 == 0 && GemmIlgpu.ElementIndex(w) % 4 == 0 ? 1 : 0;
        var g = new ConvGeom
        {
            Cin = d.Cin, H = d.H, W = d.W, Kh = d.Kh, Kw = d.Kw, KhKw = d.Kh * d.Kw,
            Stride = d.Stride, Pad = d.Padding, Wo = d.Wo, XImage = (long)d.Cin * d.H * d.W,
        };
        int bt = v == 2 ? 128 : 64;
        var cfg = new KernelConfig(new Index3D((pixels + bt - 1) / bt, (d.Cout + bt - 1) / bt, d.N), new Index3D(SimtTiles.Threads, 1, 1));
        (v == 2 ? _t128 : _t64)(stream, cfg, w, x, y, b, p, g);
    }
}
