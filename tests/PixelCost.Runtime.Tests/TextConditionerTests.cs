using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Meta;
using PixelCost.Runtime.Models.TextEncoder;
using PixelCost.Runtime.Safetensors;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Runtime.Tests;

/// <summary>Tokenizer + encoder(s) per pipeline: shapes per preset on meta; end to end from prompt text against
/// Golden/clip_text_tiny (its cases.json prompts were tokenized by HF's CLIPTokenizer when the golden ids were made).</summary>
public sealed class TextConditionerTests
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Golden", "clip_text_tiny");

    [Theory]
    [InlineData("sd15", 768, 1, 0)]
    [InlineData("sd21", 1024, 1, 0)]
    [InlineData("sd-turbo", 1024, 1, 0)]
    [InlineData("sdxl", 2048, 2, 1280)]
    public void Meta_Presets_ShapesAndScopes(string preset, int cross, int encoders, int pooled)
    {
        using var meta = new MetaAccelerator();
        using var tc = TextConditioner.ForPreset(meta, preset, seed: 3);
        Assert.Equal(encoders, tc.Encoders.Count);
        meta.Ledger.Clear();
        using var c = tc.Encode(["a photo of a cat", "a dog"]);
        Assert.Equal(new[] { 2, 77, cross }, c.Hidden.Shape.ToArray());
        if (pooled == 0) Assert.Null(c.Pooled);
        else Assert.Equal(new[] { 2, pooled }, c.Pooled!.Shape.ToArray());
        Assert.Equal(7, c.Tokens[0].TokenCount);   // bos a photo of a cat eos
        var scopes = meta.Ledger.Entries.Select(e => e.Scope.Split('/')[0]).Distinct().ToList();
        Assert.Equal(encoders == 2 ? new[] { "text_encoder", "text_encoder_2" } : new[] { "text_encoder" }, scopes);
    }

    private static void MakePipeline(string root, bool xl)
    {
        foreach (var (sub, arch) in xl ? new[] { ("text_encoder", "CLIPTextModel"), ("text_encoder_2", "CLIPTextModelWithProjection") } : [("text_encoder", "CLIPTextModelWithProjection")])
        {
            string d = Directory.CreateDirectory(Path.Combine(root, sub)).FullName;
            File.Copy(Path.Combine(Dir, "model.safetensors"), Path.Combine(d, "model.safetensors"));
            File.WriteAllText(Path.Combine(d, "config.json"), File.ReadAllText(Path.Combine(Dir, "config.json")).Replace("CLIPTextModelWithProjection", arch));
        }
        if (!xl) return;
        // A CLIPTextModel ignores the projection the file carries: drop it from text_encoder/.
        using var src = SafetensorsFile.Open(Path.Combine(Dir, "model.safetensors"));
        var w = new SafetensorsWriter();
        foreach (var t in src.Tensors.Where(t => t.Name != "text_projection.weight")) w.Add(t.Name, src.ReadFloats(t.Name), t.Shape);
        w.Save(Path.Combine(root, "text_encoder", "model.safetensors"));
    }

    [Fact]
    public void Cpu_Sd1StylePipeline_PromptToGoldenLastHiddenState()
    {
        string tmp = Directory.CreateTempSubdirectory("tc-sd1-").FullName;
        try
        {
            MakePipeline(tmp, xl: false);
            using var cpu = new CpuAccelerator(threads: 2);
            using var tc = TextConditioner.Load(cpu, tmp);
            using var c = tc.Encode(["a photo of a cat"]);
            using var io = SafetensorsFile.Open(Path.Combine(Dir, "io.safetensors"));
            Assert.Equal(ClipTextModelTests.Ids(io, "case0_eos"), c.Tokens[0].Ids);
            Close.All(io.ReadFloats("case0_eos.last_hidden_state"), c.Hidden.ToArray(), 2e-5, 2e-5, new[] { 1, 77, 32 }, "SD1-style hidden");
            Assert.Null(c.Pooled);
        }
        finally { Directory.Delete(tmp, recursive: true); }
    }

    [Fact]
    public void Cpu_SdxlStylePipeline_ConcatPenultimateAndPooled()
    {
        string tmp = Directory.CreateTempSubdirectory("tc-sdxl-").FullName;
        try
        {
            MakePipeline(tmp, xl: true);
            using var cpu = new CpuAccelerator(threads: 2);
            using var tc = TextConditioner.Load(cpu, tmp);
            using var c = tc.Encode(["a photo of a cat"]);
            using var io = SafetensorsFile.Open(Path.Combine(Dir, "io.safetensors"));
            var hidden = c.Hidden.ToArray();
            Assert.Equal(new[] { 1, 77, 64 }, c.Hidden.Shape.ToArray());
            float[] first = new float[77 * 32], second = new float[77 * 32];
            for (int t = 0; t < 77; t++)
            {
                Array.Copy(hidden, t * 64, first, t * 32, 32);
                Array.Copy(hidden, t * 64 + 32, second, t * 32, 32);
            }
            // CLIP-L half padded with <|endoftext|>, bigG half with 0 (SDXL's tokenizer_2 pads with "!").
            Close.All(io.ReadFloats("case0_eos.penultimate_hidden_state"), first, 2e-5, 2e-5, new[] { 77, 32 }, "text_encoder penultimate");
            Close.All(io.ReadFloats("case0_zero.penultimate_hidden_state"), second, 2e-5, 2e-5, new[] { 77, 32 }, "text_encoder_2 penultimate");
            Close.All(io.ReadFloats("case0_zero.text_embeds"), c.Pooled!.ToArray(), 2e-5, 2e-5, new[] { 1, 24 }, "text_encoder_2 text_embeds");
        }
        finally { Directory.Delete(tmp, recursive: true); }
    }
}
