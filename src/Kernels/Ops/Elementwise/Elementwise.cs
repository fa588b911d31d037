namespace PixelCost.Kernels.Ops;

public enum GeluApproximation { Erf, Tanh }

public static partial class Ops
{
    // CONTRACT STUBS — replaced by the activations/glue work. For every elementwise op y may be x (in place).

    public static void Silu(IAccelerator acc, Tensor x, Tensor y, int variant = 0) => throw new NotImplementedException("silu");

    public static void Gelu(IAccelerator acc, Tensor x, Tensor y, GeluApproximation approximation = GeluApproximation.Erf,
        int variant = 0) => throw new NotImplementedException("gelu");

    /// <summary>x · σ(1.702 x) (CLIP).</summary>
    public static void QuickGelu(IAccelerator acc, Tensor x, Tensor y, int variant = 0) => throw new NotImplementedException("quick_gelu");

    /// <summary>x: [..., 2D] → y: [..., D] = x[..., :D] · GELU(x[..., D:]) (diffusers GEGLU, erf GELU).</summary>
    public static void Geglu(IAccelerator acc, Tensor x, Tensor y, int variant = 0) => throw new NotImplementedException("geglu");

    /// <summary>y = a + b, same shapes (residual add). y may be a or b.</summary>
    public static void Add(IAccelerator acc, Tensor a, Tensor b, Tensor y, int variant = 0) => throw new NotImplementedException("add");

    /// <summary>y[n,c,…] = x[n,c,…] + b[n,c]: a per-(batch, channel) vector broadcast over the spatial dims (time embedding in a resnet).</summary>
    public static void AddChannelBias(IAccelerator acc, Tensor x, Tensor b, Tensor y, int variant = 0) => throw new NotImplementedException("add_channel_bias");

    /// <summary>y = s · x.</summary>
    public static void Scale(IAccelerator acc, Tensor x, float s, Tensor y, int variant = 0) => throw new NotImplementedException("scale");

    /// <summary>Channel concatenation: a: [N,Ca,H,W], b: [N,Cb,H,W] → y: [N,Ca+Cb,H,W].</summary>
    public static void ConcatChannels(IAccelerator acc, Tensor a, Tensor b, Tensor y, int variant = 0) => throw new NotImplementedException("concat");

    /// <summary>Nearest 2× upsample: x: [N,C,H,W] → y: [N,C,2H,2W].</summary>
    public static void Upsample2xNearest(IAccelerator acc, Tensor x, Tensor y, int variant = 0) => throw new NotImplementedException("upsample_nearest_2x");

    /// <summary>
    /// Sinusoidal timestep embedding as diffusers' get_timestep_embedding: t: [N] (float timesteps) → y: [N, dim];
    /// exponent = −ln(maxPeriod)·i/(half − shift); emb = [sin, cos] (or [cos, sin] with flipSinToCos); odd dim zero-padded.
    /// </summary>
    public static void TimestepEmbedding(IAccelerator acc, Tensor t, Tensor y, bool flipSinToCos = true,
        float downscaleFreqShift = 0f, float maxPeriod = 10000f, int variant = 0) => throw new NotImplementedException("timestep_embedding");
}
