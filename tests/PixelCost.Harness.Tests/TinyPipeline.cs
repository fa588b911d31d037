namespace PixelCost.Harness.Tests;

/// <summary>
/// A tiny diffusers pipeline folder assembled from the golden models copied with these tests (Golden/): the SD1-style
/// UNet (unet_sd1_tiny), the tiny VAE, the tiny CLIP text encoder with projection (clip_text_tiny: width 32, 2 layers,
/// 4 heads, MLP 64, projection 24), and a DDIM scheduler config; the tokenizer is the built-in one.
/// </summary>
internal static class TinyPipeline
{
    private static readonly string Golden = Path.Combine(AppContext.BaseDirectory, "Golden");

    /// <summary>Writes the pipeline folder at <paramref name="model"/> (created) and returns it.</summary>
    public static string Assemble(string model)
    {
        foreach (var (sub, from, files) in new[]
        {
            ("unet", "unet_sd1_tiny", new[] { "config.json", "diffusion_pytorch_model.safetensors" }),
            ("vae", "vae_tiny", ["config.json", "diffusion_pytorch_model.safetensors"]),
            ("text_encoder", "clip_text_tiny", ["config.json", "model.safetensors"]),
        })
        {
            Directory.CreateDirectory(Path.Combine(model, sub));
            foreach (var f in files) File.Copy(Path.Combine(Golden, from, f), Path.Combine(model, sub, f));
        }
        Directory.CreateDirectory(Path.Combine(model, "scheduler"));
        File.WriteAllText(Path.Combine(model, "scheduler", "scheduler_config.json"),
            """{"_class_name": "DDIMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "clip_sample": false, "set_alpha_to_one": false, "steps_offset": 1}""");
        return model;
    }
}
