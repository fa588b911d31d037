using PixelCost.Kernels;
using PixelCost.Runtime.Safetensors;

namespace PixelCost.Runtime.Models;

/// <summary>
/// diffusers' <c>AutoencoderKL</c> decode path (v0.27.2 semantics): <c>post_quant_conv</c> (1×1) then the Decoder —
/// conv_in (3×3) → mid block (resnet, single-head attention, resnet) → up blocks (layers_per_block + 1 resnets, then
/// nearest 2× + 3×3 conv except after the last) → conv_norm_out + SiLU → conv_out (3×3). Composed only from
/// <see cref="Ops"/> calls, so it runs unchanged on every accelerator (including the shape-only meta one). Each module
/// launches inside a ledger scope with its diffusers name ("post_quant_conv", "decoder/mid_block/attentions.0", …);
/// every activation is disposed as soon as it is dead. The latent is decoded as given: dividing it by the scaling
/// factor is the caller's job (as in diffusers' pipelines).
/// </summary>
public sealed class VaeDecoder : VaeComponent
{
    private VaeDecoder(VaeGraph g, bool random) : base(g, random) { }

    /// <summary>
    /// Loads post_quant_conv and the decoder from diffusers-named weights (or LDM-named: a single-file checkpoint's
    /// first_stage_model., or a bare CompVis VAE file): <paramref name="path"/> is a component
    /// folder (config.json + diffusion_pytorch_model.safetensors), a pipeline folder (its vae/), or a safetensors file
    /// (then <paramref name="config"/> or a config.json beside it). Every tensor's shape is checked against the config;
    /// an error names the file, the tensor, the expected and the actual shape. On a meta accelerator only the shapes are
    /// read. F16/BF16 weights are widened to F32.
    /// </summary>
    public static VaeDecoder Load(IAccelerator acc, string path, VaeConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(acc);
        var (ckpt, cfg) = VaeFiles.Open(path, config);
        using (ckpt) return Load(acc, ckpt, cfg);
    }

    /// <summary>Loads from an open checkpoint with diffusers or LDM names (see <see cref="Load(IAccelerator,string,VaeConfig?)"/>).</summary>
    public static VaeDecoder Load(IAccelerator acc, SafetensorsCheckpoint checkpoint, VaeConfig config)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(config);
        return new(VaeGraph.Load(acc, checkpoint, config, config.DecoderParameters(), "VAE decoder", ["decoder.", "post_quant_conv."]), random: false);
    }

    /// <summary>
    /// Deterministic random weights for <paramref name="config"/> (cost and speed do not depend on weight values):
    /// conv and linear weights N(0, 1/fan_in) from <see cref="Ops.FillGaussian"/> (Philox keyed by
    /// <paramref name="seed"/>, one stream per parameter, so any accelerator draws the same numbers), norm weights 1,
    /// biases 0.
    /// </summary>
    public static VaeDecoder Random(IAccelerator acc, VaeConfig config, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(config);
        return new(VaeGraph.Random(acc, config, config.DecoderParameters(), seed), random: true);
    }

    /// <summary>
    /// latent: [B, latent_channels, h, w] (already divided by the scaling factor) → a new image tensor
    /// [B, out_channels, h·2^(L−1), w·2^(L−1)] (≈ [−1, 1]) the caller owns. The latent is not modified or freed.
    /// </summary>
    public Tensor Decode(Tensor latent)
    {
        ObjectDisposedException.ThrowIf(Disposed, this);
        ArgumentNullException.ThrowIfNull(latent);
        if (latent.Rank != 4 || latent.Dim(1) != Config.LatentChannels || latent.DType != DType.F32 || latent.Length == 0)
            throw new ArgumentException($"VAE decode: latent {latent.ShapeString} ({latent.DType}) must be F32 [B,{Config.LatentChannels},h,w]", nameof(latent));
        var ledger = Accelerator.Ledger;
        Tensor x;
        using (ledger.Scope("post_quant_conv"))
            x = G.Conv(latent, "post_quant_conv", padding: 0);
        using (ledger.Scope("decoder"))
        {
            using (ledger.Scope("conv_in")) x = G.ConvAndFree(x, "decoder.conv_in", padding: 1);
            using (ledger.Scope("mid_block")) x = G.MidBlock(x, "decoder.mid_block");
            foreach (var b in Config.UpBlocks())
            {
                using var _ = ledger.Scope($"up_blocks.{b.Index}");
                for (int j = 0; j < b.Resnets; j++)
                    using (ledger.Scope($"resnets.{j}")) x = G.Resnet(x, $"decoder.up_blocks.{b.Index}.resnets.{j}");
                if (b.Upsample)
                    using (ledger.Scope("upsamplers.0")) x = G.Upsample(x, $"decoder.up_blocks.{b.Index}.upsamplers.0");
            }
            // conv_norm_out and conv_act (SiLU) as one fused launch, in place: x is ours and dead after.
            using (ledger.Scope("conv_norm_out")) x = G.NormSiluInPlace(x, "decoder.conv_norm_out");
            using (ledger.Scope("conv_out")) x = G.ConvAndFree(x, "decoder.conv_out", padding: 1);
        }
        return x;
    }

}

/// <summary>Finds a VAE's weights and config from a path (component folder, pipeline folder, or file).</summary>
internal static class VaeFiles
{
    public static (SafetensorsCheckpoint Checkpoint, VaeConfig Config) Open(string path, VaeConfig? config)
    {
        string weights;
        string? configDir;
        if (Directory.Exists(path))
        {
            string dir = ModelSource.FindWeights(path) is null && Directory.Exists(Path.Combine(path, "vae")) ? Path.Combine(path, "vae") : path;
            weights = ModelSource.FindWeights(dir)
                ?? throw new FileNotFoundException($"{dir}: no VAE weights there (looked for {string.Join(", ", ModelSource.WeightFileNames.Take(4))})", dir);
            configDir = dir;
        }
        else if (File.Exists(path))
        {
            PickleGuard.ThrowIfPickle(path);
            weights = path;
            configDir = Path.GetDirectoryName(Path.GetFullPath(path));
        }
        else throw new FileNotFoundException($"'{path}' does not exist", path);

        if (config is null)
        {
            string cfg = Path.Combine(configDir ?? ".", "config.json");
            if (!File.Exists(cfg))
                throw new InvalidDataException($"{weights}: no config.json beside the VAE weights; pass a VaeConfig (e.g. VaeConfig.Preset(\"sd15\"))");
            config = VaeConfig.Load(cfg);
        }
        return (SafetensorsCheckpoint.Open(weights), config);
    }
}
