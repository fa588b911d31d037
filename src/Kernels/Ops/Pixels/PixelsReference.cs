using PixelCost.Kernels.Noise;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Pixels;

/// <summary>The definitions of the pixel maps (scalar, naive). See <see cref="PixelsSpec"/>.</summary>
public static class PixelsReference
{
    // img: [H, W, 3]
    public static void Noise<T>(Span<float> img, ulong seed) where T : struct, IScalar<T> =>
        NoiseReference.Uniform<T>(img, seed);

    // img: [H, W, 3]; lattice: [GH, GW, 3]
    public static void SmoothNoise<T>(Span<float> img, int h, int w, ulong seed, int scale) where T : struct, IScalar<T>
    {
        var (gh, gw) = PixelsSpec.Lattice(h, w, scale);
        var lat = new T[gh * gw * 3];
        for (int gy = 0; gy < gh; gy++)
            for (int gx = 0; gx < gw; gx++)
            {
                var (x0, x1, x2, _) = Philox4x32.Block((uint)gx, (uint)gy, PixelsSpec.LatticeStreamWord, PixelsSpec.LatticeStreamWord,
                    (uint)seed, (uint)(seed >> 32));
                int o = (gy * gw + gx) * 3;
                lat[o + 0] = T.From((float)(x0 >> 8)) * T.From(NoiseSpec.Inv24);
                lat[o + 1] = T.From((float)(x1 >> 8)) * T.From(NoiseSpec.Inv24);
                lat[o + 2] = T.From((float)(x2 >> 8)) * T.From(NoiseSpec.Inv24);
            }
        T invS = T.From(1.0 / scale);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int gx = x / scale, gy = y / scale;
                T tx = T.From((float)(x % scale)) * invS;
                T ty = T.From((float)(y % scale)) * invS;
                T sx = tx * tx * (T.From(3f) - T.From(2f) * tx);
                T sy = ty * ty * (T.From(3f) - T.From(2f) * ty);
                for (int c = 0; c < 3; c++)
                {
                    T v00 = lat[(gy * gw + gx) * 3 + c], v01 = lat[(gy * gw + gx + 1) * 3 + c];
                    T v10 = lat[((gy + 1) * gw + gx) * 3 + c], v11 = lat[((gy + 1) * gw + gx + 1) * 3 + c];
                    T top = Lerp(v00, v01, sx), bottom = Lerp(v10, v11, sx);
                    img[(y * w + x) * 3 + c] = T.ToSingle(Lerp(top, bottom, sy));
                }
            }
    }

    private static T Lerp<T>(T a, T b, T t) where T : struct, IScalar<T> => a + (b - a) * t;

    // img: [H, W, 3]
    public static void Gradient<T>(Span<float> img, int h, int w) where T : struct, IScalar<T>
    {
        T invW2 = T.From(1.0 / (2.0 * w)), invH2 = T.From(1.0 / (2.0 * h)), invWH = T.From(1.0 / ((double)w + h));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int o = (y * w + x) * 3;
                img[o + 0] = T.ToSingle(T.From((float)(2 * x + 1)) * invW2);
                img[o + 1] = T.ToSingle(T.From((float)(2 * y + 1)) * invH2);
                img[o + 2] = T.ToSingle(T.From((float)(x + y + 1)) * invWH);
            }
    }

    // img: [H, W, 3]
    public static void Checkerboard<T>(Span<float> img, int h, int w, int cell) where T : struct, IScalar<T>
    {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                T v = T.From(((x / cell + y / cell) & 1) == 0 ? 1f : 0f);
                for (int c = 0; c < 3; c++) img[(y * w + x) * 3 + c] = T.ToSingle(v);
            }
    }

    // src, dst: [n] (any shape, flattened)
    public static void Quantize<T>(ReadOnlySpan<float> src, Span<byte> dst) where T : struct, IScalar<T>
    {
        for (int i = 0; i < src.Length; i++)
        {
            T v = T.Min(T.Max(T.From(src[i]), T.From(0f)), T.From(1f));
            T q = T.Floor(v * T.From(255f) + T.From(0.5f));
            float f = T.ToSingle(q);
            dst[i] = float.IsNaN(f) ? (byte)0 : (byte)f;
        }
    }
}
