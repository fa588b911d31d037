using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Ops;

public static partial class Ops
{
    /// <summary>The ledger name; "-v512" marks the 512-bit path (concat and the timestep embedding have none: copies / scalar).</summary>
    private static string GlueVariant(string op, int variant, IAccelerator? acc = null) => variant switch
    {
        0 or 2 => acc is CpuAccelerator { UseVector512: true } ? "2-simd-threads-v512" : "2-simd-threads",
        1 => "1-reference",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{op}: variants are 0 (default), 1 (reference), 2 (simd)"),
    };

    /// <summary>y = a + b, same shapes (residual add). y may be a or b.</summary>
    public static void Add(IAccelerator acc, Tensor a, Tensor b, Tensor y, int variant = 0)
    {
        GlueSpec.ValidateAdd(a, b, y);
        string name = GlueVariant("add", variant, acc);
        if (acc is not CpuAccelerator cpu) throw Unsupported("add", acc);
        acc.Launch("add", name, $"a{a.ShapeString}", GlueSpec.Add(a.Shape), () =>
        {
            if (variant == 1) GlueReference.Add<F32>(ActivationsCpu.AsF32(a), ActivationsCpu.AsF32(b), ActivationsCpu.AsF32(y));
            else GlueCpu.Add(cpu, a, b, y);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(a); GC.KeepAlive(b); GC.KeepAlive(y);
    }

    /// <summary>y[n,c,…] = x[n,c,…] + b[n,c]: a per-(batch, channel) vector broadcast over the spatial dims (time embedding in a resnet).</summary>
    public static void AddChannelBias(IAccelerator acc, Tensor x, Tensor b, Tensor y, int variant = 0)
    {
        GlueSpec.ValidateAddChannelBias(x, b, y);
        string name = GlueVariant("add_channel_bias", variant, acc);
        if (acc is not CpuAccelerator cpu) throw Unsupported("add_channel_bias", acc);
        acc.Launch("add_channel_bias", name, $"x{x.ShapeString} b{b.ShapeString}", GlueSpec.AddChannelBias(x.Shape), () =>
        {
            int n = x.Dim(0), c = x.Dim(1), s = (int)(x.Length / ((long)n * c));
            if (variant == 1) GlueReference.AddChannelBias<F32>(ActivationsCpu.AsF32(x), ActivationsCpu.AsF32(b), ActivationsCpu.AsF32(y), n, c, s);
            else GlueCpu.AddChannelBias(cpu, x, b, y);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(x); GC.KeepAlive(b); GC.KeepAlive(y);
    }

    /// <summary>y = s · x. y may be x.</summary>
    public static void Scale(IAccelerator acc, Tensor x, float s, Tensor y, int variant = 0)
    {
        GlueSpec.ValidateScale(x, y);
        string name = GlueVariant("scale", variant, acc);
        if (acc is not CpuAccelerator cpu) throw Unsupported("scale", acc);
        acc.Launch("scale", name, $"x{x.ShapeString}", GlueSpec.Scale(x.Shape), () =>
        {
            if (variant == 1) GlueReference.Scale<F32>(ActivationsCpu.AsF32(x), new F32(s), ActivationsCpu.AsF32(y));
            else GlueCpu.Scale(cpu, x, s, y);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(x); GC.KeepAlive(y);
    }

    /// <summary>Channel concatenation: a: [N,Ca,H,W], b: [N,Cb,H,W] → y: [N,Ca+Cb,H,W] (any trailing dims that agree).</summary>
    public static void ConcatChannels(IAccelerator acc, Tensor a, Tensor b, Tensor y, int variant = 0)
    {
        GlueSpec.ValidateConcat(a, b, y);
        string name = GlueVariant("concat", variant);
        if (acc is not CpuAccelerator cpu) throw Unsupported("concat", acc);
        acc.Launch("concat", name, $"a{a.ShapeString} b{b.ShapeString}", GlueSpec.Concat(a.Shape, b.Shape), () =>
        {
            int n = a.Dim(0), ca = a.Dim(1), cb = b.Dim(1), s = (int)(a.Length / ((long)n * ca));
            if (variant == 1) GlueReference.Concat<float>(a.AsSpan(), b.AsSpan(), y.AsSpan(), n, ca, cb, s);
            else GlueCpu.Concat(cpu, a, b, y);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(a); GC.KeepAlive(b); GC.KeepAlive(y);
    }

    /// <summary>Nearest 2× upsample: x: [N,C,H,W] → y: [N,C,2H,2W].</summary>
    public static void Upsample2xNearest(IAccelerator acc, Tensor x, Tensor y, int variant = 0)
    {
        GlueSpec.ValidateUpsample(x, y);
        string name = GlueVariant("upsample_nearest_2x", variant, acc);
        if (acc is not CpuAccelerator cpu) throw Unsupported("upsample_nearest_2x", acc);
        acc.Launch("upsample_nearest_2x", name, $"x{x.ShapeString}", GlueSpec.Upsample(x.Shape), () =>
        {
            if (variant == 1) GlueReference.Upsample2xNearest<float>(x.AsSpan(), y.AsSpan(), x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3));
            else GlueCpu.Upsample(cpu, x, y);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(x); GC.KeepAlive(y);
    }

    /// <summary>
    /// Sinusoidal timestep embedding as diffusers' get_timestep_embedding (scale 1): t: [N] (float timesteps) → y: [N, dim];
    /// exponent = −ln(maxPeriod)·i/(half − shift); emb = [sin, cos] (or [cos, sin] with flipSinToCos); odd dim zero-padded.
    /// </summary>
    public static void TimestepEmbedding(IAccelerator acc, Tensor t, Tensor y, bool flipSinToCos = true,
        float downscaleFreqShift = 0f, float maxPeriod = 10000f, int variant = 0)
    {
        GlueSpec.ValidateTimestep(t, y, downscaleFreqShift, maxPeriod);
        string name = GlueVariant("timestep_embedding", variant);
        if (acc is not CpuAccelerator) throw Unsupported("timestep_embedding", acc);
        acc.Launch("timestep_embedding", name, $"t{t.ShapeString} y{y.ShapeString}", GlueSpec.Timestep(t.Dim(0), y.Dim(1)), () =>
        {
            if (variant == 1)
                GlueReference.TimestepEmbedding<F32>(ActivationsCpu.AsF32(t), ActivationsCpu.AsF32(y), y.Dim(1), flipSinToCos,
                    downscaleFreqShift, maxPeriod);
            else GlueCpu.Timestep(t, y, flipSinToCos, downscaleFreqShift, maxPeriod);
        });
        // Kernels work on raw pointers: keep the tensors (whose finalizers free the memory) alive until done.
        GC.KeepAlive(t); GC.KeepAlive(y);
    }
}
