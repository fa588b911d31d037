using PixelCost.Kernels;
using PixelCost.Runtime.Safetensors;

namespace PixelCost.Runtime.Models;

/// <summary>
/// diffusers' <c>AutoencoderKL</c> encode path (v0.27.2 semantics): the Encoder — conv_in (3×3) → down blocks
/// (layers_per_block resnets, then a stride-2 3×3 conv after a one-sided zero pad, except after the last) → mid block
/// (resnet, single-head attention, resnet) → conv_norm_out + SiLU → conv_out to 2·latent_channels — then
/// <c>quant_conv</c> (1×1). The result is the latent distribution's parameters (mean, log-variance), composed only from
/// <see cref="Ops"/> calls; ledger scopes carry the diffusers names ("encoder/down_blocks.0/resnets.1", "quant_conv").
/// </summary>
public sealed class VaeEncoder : VaeComponent
{
    private VaeEncoder(VaeGraph g, bool random) : base(g, random) { }

    /// <summary>Loads the encoder and quant_conv (diffusers names) from a component folder, a pipeline folder or a
    /// file, with the same checks and errors as <see cref="VaeDecoder.Load(IAccelerator,string,VaeConfig?)"/>.</summary>
    public static VaeEncoder Load(IAccelerator acc, string path, VaeConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(acc);
        var (ckpt, cfg) = VaeFiles.Open(path, config);
        using (ckpt) return Load(acc, ckpt, cfg);
    }

    public static VaeEncoder Load(IAccelerator acc, SafetensorsCheckpoint checkpoint, VaeConfig config)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(config);
        return new(VaeGraph.Load(acc, checkpoint, config, config.EncoderParameters(), "VAE encoder", ["encoder.", "quant_conv."]), random: false);
    }

    /// <summary>Deterministic random weights, as <see cref="VaeDecoder.Random"/>.</summary>
    public static VaeEncoder Random(IAccelerator acc, VaeConfig config, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(config);
        return new(VaeGraph.Random(acc, config, config.EncoderParameters(), seed), random: true);
    }

    /// <summary>
    /// image: [B, in_channels, H, W] (≈ [−1, 1]; H and W divisible by 2^(L−1)) → a new tensor
    /// [B, 2·latent_channels, H/2^(L−1), W/2^(L−1)]: channels [0, latent) are the mean, the rest the log-variance
    /// (diffusers' <c>latent_dist.parameters</c>, before its clamp to [−30, 20]). The latent for a pipeline is the mean
    /// (or mean + exp(½·logvar)·noise) times the scaling factor. The image is not modified or freed.
    /// </summary>
    public Tensor Encode(Tensor image)
    {
        ObjectDisposedException.ThrowIf(Disposed, this);
        ArgumentNullException.ThrowIfNull(image);
        int f = Config.UpscaleFactor;
        if (image.Rank != 4 || image.Dim(1) != Config.InChannels || image.DType != DType.F32 || image.Length == 0)
            throw new ArgumentException($"VAE encode: image {image.ShapeString} ({image.DType}) must be F32 [B,{Config.InChannels},H,W]", nameof(image));
        if (image.Dim(2) % f != 0 || image.Dim(3) % f != 0)
            throw new ArgumentException($"VAE encode: image {image.ShapeString}: height and width must be multiples of {f}", nameof(image));
        var ledger = Accelerator.Ledger;
        Tensor x;
        using (ledger.Scope("encoder"))
        {
            using (ledger.Scope("conv_in")) x = G.Conv(image, "encoder.conv_in", padding: 1);
            foreach (var b in Config.DownBlocks())
            {
                using var _ = ledger.Scope($"down_blocks.{b.Index}");
                for (int j = 0; j < b.Resnets; j++)
                    using (ledger.Scope($"resnets.{j}")) x = G.Resnet(x, $"encoder.down_blocks.{b.Index}.resnets.{j}");
                if (b.Downsample)
                    using (ledger.Scope("downsamplers.0")) x = G.Downsample(x, $"encoder.down_blocks.{b.Index}.downsamplers.0");
            }
            using (ledger.Scope("mid_block")) x = G.MidBlock(x, "encoder.mid_block");
            using (ledger.Scope("conv_norm_out")) x = G.NormSiluInPlace(x, "encoder.conv_norm_out");
            using (ledger.Scope("conv_out")) x = G.ConvAndFree(x, "encoder.conv_out", padding: 1);
        }
        using (ledger.Scope("quant_conv")) x = G.ConvAndFree(x, "quant_conv", padding: 0);
        return x;
    }

}
