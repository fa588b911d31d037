using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>The definitions of the glue ops: scalar, naive, generic over the arithmetic type.</summary>
public static class GlueReference
{
    // a, b, y: [n] (any shape, flattened)
    public static void Add<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : struct, IScalar<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = a[i] + b[i];
    }

    // x, y: [N, C, S] (S = product of the spatial dims), b: [N, C]
    public static void AddChannelBias<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> b, Span<T> y, int n, int c, int s)
        where T : struct, IScalar<T>
    {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
                for (int k = 0; k < s; k++)
                    y[(i * c + j) * s + k] = x[(i * c + j) * s + k] + b[i * c + j];
    }

    // x, y: [n]
    public static void Scale<T>(ReadOnlySpan<T> x, T s, Span<T> y) where T : struct, IScalar<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = s * x[i];
    }

    // a: [N, Ca, S], b: [N, Cb, S] → y: [N, Ca + Cb, S]
    public static void Concat<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, int n, int ca, int cb, int s)
    {
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < ca; j++)
                for (int k = 0; k < s; k++)
                    y[(i * (ca + cb) + j) * s + k] = a[(i * ca + j) * s + k];
            for (int j = 0; j < cb; j++)
                for (int k = 0; k < s; k++)
                    y[(i * (ca + cb) + ca + j) * s + k] = b[(i * cb + j) * s + k];
        }
    }

    // x: [N, C, H, W] → y: [N, C, 2H, 2W], y[n, c, h, w] = x[n, c, h / 2, w / 2]
    public static void Upsample2xNearest<T>(ReadOnlySpan<T> x, Span<T> y, int n, int c, int h, int w)
    {
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < 2 * h; i++)
                for (int j = 0; j < 2 * w; j++)
                    y[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2];
    }

    // t: [N] → y: [N, dim], as diffusers get_timestep_embedding with scale = 1 (the multiply by 1 is left out):
    // exponent[i] = −ln(maxPeriod)·i / (half − shift); freq = exp(exponent); arg = t[n]·freq[i];
    // y = [sin(arg), cos(arg)] or, flipped, [cos(arg), sin(arg)]; an odd dim leaves the last column 0.
    public static void TimestepEmbedding<T>(ReadOnlySpan<T> t, Span<T> y, int dim, bool flipSinToCos,
        float downscaleFreqShift, float maxPeriod) where T : struct, IScalar<T>
    {
        int n = t.Length, half = dim / 2;
        var freq = new T[half];
        // PyTorch evaluates these in fp32: arange(half) · (−ln max_period), then / (half − shift) as an fp32 scalar.
        for (int i = 0; i < half; i++)
            freq[i] = T.Exp(T.From((float)i) * T.From(-Math.Log(maxPeriod)) / T.From(half - (double)downscaleFreqShift));
        for (int b = 0; b < n; b++)
        {
            for (int i = 0; i < half; i++)
            {
                T arg = t[b] * freq[i];
                T sin = T.Sin(arg), cos = T.Cos(arg);
                y[b * dim + i] = flipSinToCos ? cos : sin;
                y[b * dim + half + i] = flipSinToCos ? sin : cos;
            }
            if (dim % 2 == 1) y[b * dim + dim - 1] = T.From(0.0);
        }
    }
}
