namespace PixelCost.Kernels.Pixels;

/// <summary>
/// Shape rules and costs of the synthetic pixel maps. Images are RGB float in [0, 1], layout [H, W, 3] (row-major,
/// channels interleaved — the layout of an 8-bit PNG row). Integer arithmetic (indices, x / s, x % s, int→float) is
/// free; the counted FLOPs are the float operations each reference executes per pixel.
/// <list type="bullet">
/// <item><b>noise</b>: the uniform fill of <see cref="Noise.NoiseSpec"/> over the flattened [H, W, 3] tensor
/// (element (y, x, c) = index 3(yW + x) + c): 1 multiply per value.</item>
/// <item><b>smooth noise</b> (value noise, chosen over blurred noise because every pixel is a closed form of a few
/// lattice values — no halo, no order dependence, same on a GPU): a lattice every <c>scale</c> pixels holds uniform
/// RGB values L[gy, gx, c] = lane c of Philox block (counter gx, gy, 2³²−1, 2³²−1; key = seed), i.e. stream 2⁶⁴−1 is
/// reserved for lattices; (x>>8)·2⁻²⁴ costs 1 multiply per value. Lattice size GH × GW = ((H−1)/s + 2) × ((W−1)/s + 2).
/// Pixel (x, y): gx = x / s, tx = (x mod s)·(1/s), sx = (tx·tx)·(3 − 2·tx) (smoothstep: 5 ops with tx), same for y;
/// v = lerp(lerp(L[gy,gx], L[gy,gx+1], sx), lerp(L[gy+1,gx], L[gy+1,gx+1], sx), sy), lerp(a, b, t) = a + (b − a)·t
/// (3 ops). Per pixel 10 + 3 channels × 9 = 37 other FLOPs, plus 3·GH·GW for the lattice.</item>
/// <item><b>gradient</b>, sampled at pixel centres so it never divides by zero: R = (2x + 1)·(1/(2W)) (along x),
/// G = (2y + 1)·(1/(2H)) (along y), B = (x + y + 1)·(1/(W + H)) (diagonal): 3 multiplies per pixel.</item>
/// <item><b>checkerboard</b>: cells of <c>cell</c>×<c>cell</c> pixels, white (1,1,1) where (x/cell + y/cell) is even
/// (so the top-left cell is white), black elsewhere: integer only, 0 FLOPs.</item>
/// <item><b>quantise</b> to 8 bits: q = floor(min(max(v, 0), 1)·255 + 0.5) (round half up; NaN → 0): 5 other per value;
/// reads 4 B and writes 1 B per value.</item>
/// </list>
/// </summary>
public static class PixelsSpec
{
    public const string NoiseOp = "pixels.noise";
    public const string SmoothNoiseOp = "pixels.smooth_noise";
    public const string GradientOp = "pixels.gradient";
    public const string CheckerboardOp = "pixels.checkerboard";
    public const string QuantizeOp = "pixels.quantize_u8";

    /// <summary>The lattice of smooth noise lives in the last Philox stream (counter words 2, 3 = 2³²−1).</summary>
    public const uint LatticeStreamWord = uint.MaxValue;

    /// <summary>dst must be an F32 [H, W, 3] image with H, W ≥ 1.</summary>
    public static (int H, int W) ValidateImage(string op, Tensor dst)
    {
        ArgumentNullException.ThrowIfNull(dst);
        if (dst.Rank != 3 || dst.Dim(2) != 3 || dst.Dim(0) < 1 || dst.Dim(1) < 1)
            throw new ArgumentException($"{op}: image {dst.ShapeString} must be [H, W, 3] with H, W ≥ 1");
        if (dst.DType != DType.F32)
            throw new ArgumentException($"{op}: image {dst.ShapeString} must be F32, not {dst.DType}");
        // Keeps every integer of the definitions (2W + 1, x + y + 1, 3W per row) inside int.
        if (dst.Dim(0) > (1 << 28) || dst.Dim(1) > (1 << 28))
            throw new ArgumentException($"{op}: image {dst.ShapeString} is too large (H, W ≤ 2^28)");
        return (dst.Dim(0), dst.Dim(1));
    }

    public static void ValidateSmoothNoise(Tensor dst, int scale)
    {
        ValidateImage(SmoothNoiseOp, dst);
        if (scale < 1) throw new ArgumentException($"{SmoothNoiseOp}: scale {scale} must be ≥ 1 pixel per lattice cell (image {dst.ShapeString})");
    }

    public static void ValidateCheckerboard(Tensor dst, int cell)
    {
        ValidateImage(CheckerboardOp, dst);
        if (cell < 1) throw new ArgumentException($"{CheckerboardOp}: cell {cell} must be ≥ 1 pixel (image {dst.ShapeString})");
    }

    public static void ValidateQuantize(Tensor src, Tensor dst)
    {
        ArgumentNullException.ThrowIfNull(src);
        ArgumentNullException.ThrowIfNull(dst);
        if (src.DType != DType.F32 || dst.DType != DType.U8)
            throw new ArgumentException($"{QuantizeOp}: source {src.ShapeString} must be F32 ({src.DType}) and destination {dst.ShapeString} U8 ({dst.DType})");
        if (!src.Shape.SequenceEqual(dst.Shape))
            throw new ArgumentException($"{QuantizeOp}: source {src.ShapeString} and destination {dst.ShapeString} differ in shape");
    }

    public static (int GH, int GW) Lattice(int h, int w, int scale) => ((h - 1) / scale + 2, (w - 1) / scale + 2);

    public static Cost NoiseCost(int h, int w) => Noise.NoiseSpec.UniformCost(3L * h * w);

    public static Cost SmoothNoiseCost(int h, int w, int scale)
    {
        var (gh, gw) = Lattice(h, w, scale);
        long px = (long)h * w;
        return new(0, 3L * gh * gw + 37 * px, 0, 0, 12 * px);
    }

    public static Cost GradientCost(int h, int w) => new(0, 3L * h * w, 0, 0, 12L * h * w);

    public static Cost CheckerboardCost(int h, int w) => new(0, 0, 0, 0, 12L * h * w);

    public static Cost QuantizeCost(long n) => new(0, 5 * n, 0, 4 * n, n);
}
