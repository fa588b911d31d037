using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels;

/// <summary>The definition of the fused denoise step: scalar, naive, generic over the arithmetic type.</summary>
public static class DenoiseStepReference
{
    // x, y: [n] (the latent [N, C, H, W] flattened); modelOut: [n] or [2n] (uncond = first n, cond = second n);
    // noise, hist, aux: [n] or empty (absent). y and aux may be the same memory as x, noise or hist: element i is read
    // before it is written.
    public static void Step<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> modelOut, ReadOnlySpan<T> noise, ReadOnlySpan<T> hist,
        Span<T> y, Span<T> aux, DenoiseCoefficients c) where T : struct, IScalar<T>
    {
        int n = x.Length;
        bool guidance = modelOut.Length == 2 * n, hasNoise = !noise.IsEmpty, hasHist = !hist.IsEmpty, hasAux = !aux.IsEmpty;
        T g = T.From(c.Guidance), cx = T.From(c.Cx), ce = T.From(c.Ce), cn = T.From(c.Cn), ch = T.From(c.Ch);
        T ax = T.From(c.Ax), ae = T.From(c.Ae);
        for (int i = 0; i < n; i++)
        {
            T m = modelOut[i];
            if (guidance) m = m + g * (modelOut[n + i] - m);   // uncond + g·(cond − uncond)
            T xi = x[i];
            T acc = cx * xi + ce * m;
            if (hasNoise) acc = acc + cn * noise[i];
            if (hasHist) acc = acc + ch * hist[i];
            if (hasAux) aux[i] = c.AuxKind == DenoiseAux.X0 ? ax * xi + ae * m : m;
            y[i] = acc;
        }
    }
}
