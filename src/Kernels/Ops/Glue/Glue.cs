namespace PixelCost.Kernels;

public static partial class Ops
{
    /// <summary>y = a + b, same shapes (residual add). y may be a or b.</summary>
    public static void Add(IAccelerator acc, Tensor a, Tensor b, Tensor y, int variant = 0)
    {
        CheckTensors("add", acc, ("a", a), ("b", b), ("y", y));
        GlueSpec.ValidateAdd(a, b, y);
        acc.Launch("add", $"a{a.ShapeString}", GlueSpec.Add(a.Shape), acc.Kernels.Add(a, b, y, variant));
    }

    /// <summary>y[n,c,…] = x[n,c,…] + b[n,c]: a per-(batch, channel) vector broadcast over the spatial dims (time embedding in a resnet).</summary>
    public static void AddChannelBias(IAccelerator acc, Tensor x, Tensor b, Tensor y, int variant = 0)
    {
        CheckTensors("add_channel_bias", acc, ("x", x), ("b", b), ("y", y));
        GlueSpec.ValidateAddChannelBias(x, b, y);
        acc.Launch("add_channel_bias", $"x{x.ShapeString} b{b.ShapeString}", GlueSpec.AddChannelBias(x.Shape),
            acc.Kernels.AddChannelBias(x, b, y, variant));
    }

    /// <summary>y = s · x. y may be x.</summary>
    public static void Scale(IAccelerator acc, Tensor x, float s, Tensor y, int variant = 0)
    {
        CheckTensors("scale", acc, ("x", x), ("y", y));
        GlueSpec.ValidateScale(x, y);
        acc.Launch("scale", $"x{x.ShapeString}", GlueSpec.Scale(x.Shape), acc.Kernels.Scale(x, s, y, variant));
    }

    /// <summary>Channel concatenation: a: [N,Ca,H,W], b: [N,Cb,H,W] → y: [N,Ca+Cb,H,W] (any trailing dims that agree).</summary>
    public static void ConcatChannels(IAccelerator acc, Tensor a, Tensor b, Tensor y, int variant = 0)
    {
        CheckTensors("concat", acc, ("a", a), ("b", b), ("y", y));
        GlueSpec.ValidateConcat(a, b, y);
        acc.Launch("concat", $"a{a.ShapeString} b{b.ShapeString}", GlueSpec.Concat(a.Shape, b.Shape), acc.Kernels.ConcatChannels(a, b, y, variant));
    }

    /// <summary>Nearest 2× upsample: x: [N,C,H,W] → y: [N,C,2H,2W].</summary>
    public static void Upsample2xNearest(IAccelerator acc, Tensor x, Tensor y, int variant = 0)
    {
        CheckTensors("upsample_nearest_2x", acc, ("x", x), ("y", y));
        GlueSpec.ValidateUpsample(x, y);
        acc.Launch("upsample_nearest_2x", $"x{x.ShapeString}", GlueSpec.Upsample(x.Shape), acc.Kernels.Upsample2xNearest(x, y, variant));
    }

    /// <summary>
    /// Sinusoidal timestep embedding as diffusers' get_timestep_embedding (scale 1): t: [N] (float timesteps) → y: [N, dim];
    /// exponent = −ln(maxPeriod)·i/(half − shift); emb = [sin, cos] (or [cos, sin] with flipSinToCos); odd dim zero-padded.
    /// </summary>
    public static void TimestepEmbedding(IAccelerator acc, Tensor t, Tensor y, bool flipSinToCos = true,
        float downscaleFreqShift = 0f, float maxPeriod = 10000f, int variant = 0)
    {
        CheckTensors("timestep_embedding", acc, ("t", t), ("y", y));
        GlueSpec.ValidateTimestep(t, y, downscaleFreqShift, maxPeriod);
        acc.Launch("timestep_embedding", $"t{t.ShapeString} y{y.ShapeString}", GlueSpec.Timestep(t.Dim(0), y.Dim(1)),
            acc.Kernels.TimestepEmbedding(t, y, flipSinToCos, downscaleFreqShift, maxPeriod, variant));
    }
}
