using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Noise;

/// <summary>The definition of the noise fills (scalar, naive; see <see cref="NoiseSpec"/> for the mapping).</summary>
public static class NoiseReference
{
    // y: [n] — any tensor, flattened row-major
    public static void Uniform<T>(Span<float> y, ulong seed, ulong stream = 0) where T : struct, IScalar<T>
    {
        for (int i = 0; i < y.Length; i++)
        {
            uint x = Philox4x32.At((ulong)i, stream, seed);
            T u = T.From((float)(x >> 8)) * T.From(NoiseSpec.Inv24);
            y[i] = T.ToSingle(u);
        }
    }

    // y: [n] — any tensor, flattened row-major
    public static void Gaussian<T>(Span<float> y, ulong seed, float mean = 0f, float std = 1f, ulong stream = 0)
        where T : struct, IScalar<T>
    {
        T m = T.From(mean), s = T.From(std);
        for (int i = 0; i < y.Length; i += 2)
        {
            uint a = Philox4x32.At((ulong)i, stream, seed);
            uint b = Philox4x32.At((ulong)i + 1, stream, seed);
            T u1 = T.From((float)((a >> 8) + 1)) * T.From(NoiseSpec.Inv24); // (0, 1]
            T u2 = T.From((float)(b >> 8)) * T.From(NoiseSpec.Inv24);       // [0, 1)
            T r = T.Sqrt(T.From(-2f) * T.Log(u1));
            T theta = T.From(NoiseSpec.TwoPi) * u2;
            y[i] = T.ToSingle(m + s * (r * T.Cos(theta)));
            if (i + 1 < y.Length) y[i + 1] = T.ToSingle(m + s * (r * T.Sin(theta)));
        }
    }
}
