using PixelCost.Runtime.Models;
using PixelCost.Runtime.Safetensors;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Runtime.Tests;

/// <summary>Architecture detection on the tiny golden models (diffusers 0.27.2; headers carried in Golden/models/,
/// see tools/golden/extract_model_headers.py) in both namings, and on synthetic tensor sets for real sizes.</summary>
public sealed class ModelDetectionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-detect-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Golden(string model) => GoldenModels.Materialize(model, Path.Combine(_dir, model));

    private static object Fact(DetectedComponent c, string key) => c.Facts.Single(f => f.Key == key).Value;

    private static List<CheckpointTensor> Tensors(string file)
    {
        using var ck = SafetensorsCheckpoint.Open(file);
        return ck.ListTensors().ToList();
    }

    [Theory]
    [InlineData("unet_sd1_tiny", ModelFamily.SD1, 32, "conv1x1", new[] { 32, 64 })]
    [InlineData("unet_sd2_tiny", ModelFamily.SD2, 48, "linear", new[] { 32, 64 })]
    [InlineData("unet_sdxl_tiny", ModelFamily.SDXL, 40, "linear", new[] { 32, 48, 64 })]
    public void UnetsInBothNamingsAgree(string model, ModelFamily family, int cross, string proj, int[] channels)
    {
        string dir = Golden(model);
        var folder = ModelDetection.Detect(dir);                                          // component folder
        var ldm = ModelDetection.Detect(Path.Combine(dir, "ldm_checkpoint.safetensors")); // single-file names
        foreach (var (m, naming) in new[] { (folder, WeightNaming.Diffusers), (ldm, WeightNaming.Ldm) })
        {
            Assert.Equal(ComponentKind.Unet, m.Kind);
            Assert.Equal(family, m.Family);
            Assert.Equal(naming, m.Naming);
            var u = Assert.Single(m.Components);
            Assert.Equal("unet", u.Name);
            Assert.Equal(naming == WeightNaming.Ldm ? "model.diffusion_model." : "", u.Prefix);
            Assert.Equal(cross, Fact(u, "cross_attention_width"));
            Assert.Equal(proj, Fact(u, "attention_projection"));
            Assert.Equal(channels, (int[])Fact(u, "block_out_channels"));
            Assert.Equal(4, Fact(u, "in_channels"));
            Assert.Equal(128, Fact(u, "time_embed_width"));
            Assert.Contains(ModelDetection.FamilyName(family), m.Description);
            Assert.Contains($"cross-attention width {cross}", m.Description);   // the width found, not the real model's
            Assert.Contains("-style", m.Description);
        }
        Assert.Equal(folder.Totals.Parameters, ldm.Totals.Parameters);
        Assert.Equal(folder.Components[0].Facts.Select(f => f.ValueText), ldm.Components[0].Facts.Select(f => f.ValueText));
        if (family == ModelFamily.SDXL)
        {
            Assert.Equal(72, Fact(folder.Components[0], "addition_embed_in"));   // 6 time ids × 8 + 24 text_embeds
            Assert.Equal(new[] { 0, 1, 2 }, (int[])Fact(ldm.Components[0], "transformer_depth"));
        }
    }

    [Fact]
    public void VaeInBothNamings()
    {
        string dir = Golden("vae_tiny");
        var d = ModelDetection.Detect(dir);
        var l = ModelDetection.Detect(Path.Combine(dir, "ldm_checkpoint.safetensors"));
        foreach (var m in new[] { d, l })
        {
            Assert.Equal(ComponentKind.Vae, m.Kind);
            var v = Assert.Single(m.Components);
            Assert.Equal(4, Fact(v, "latent_channels"));
            Assert.Equal(3, Fact(v, "image_channels"));
            Assert.Equal(new[] { 32, 64 }, (int[])Fact(v, "block_out_channels"));
            Assert.Equal(843_847, m.Totals.Parameters);
        }
        Assert.Equal(WeightNaming.Diffusers, d.Naming);
        Assert.Equal(WeightNaming.Ldm, l.Naming);
        Assert.Equal("linear", Fact(d.Components[0], "mid_attention_projection"));
        Assert.Equal("conv1x1", Fact(l.Components[0], "mid_attention_projection"));   // LDM's q/k/v are 1×1 convs
        Assert.Equal("first_stage_model.", l.Components[0].Prefix);
    }

    [Fact]
    public void ClipTextEncoder()
    {
        var m = ModelDetection.Detect(Golden("clip_text_tiny"));
        Assert.Equal(ComponentKind.TextEncoder, m.Kind);
        var c = Assert.Single(m.Components);
        Assert.Equal(32, Fact(c, "width"));
        Assert.Equal(2, Fact(c, "layers"));
        Assert.Equal(49408, Fact(c, "vocab"));
        Assert.Equal(77, Fact(c, "positions"));
        Assert.Equal(24, Fact(c, "projection_dim"));
        Assert.Equal(ModelFamily.Unknown, c.Family);   // width 32 is no real SD encoder
        Assert.Equal(37, m.Totals.Tensors);
        Assert.Equal(1_601_440, m.Totals.Parameters);
        Assert.Equal(6_405_760, m.Totals.Bytes);
        Assert.Equal(SafetensorsDType.F32, Assert.Single(m.Totals.ByDType).DType);
    }

    [Fact]
    public void DiffusersPipelineFolder()
    {
        string pipe = Path.Combine(_dir, "pipe");
        GoldenModels.Materialize("unet_sd2_tiny", Path.Combine(pipe, "unet"));
        GoldenModels.Materialize("vae_tiny", Path.Combine(pipe, "vae"));
        GoldenModels.Materialize("clip_text_tiny", Path.Combine(pipe, "text_encoder"));
        Directory.CreateDirectory(Path.Combine(pipe, "scheduler"));
        File.WriteAllText(Path.Combine(pipe, "model_index.json"), "{}");

        var m = ModelDetection.Detect(pipe);
        Assert.Equal(ComponentKind.Pipeline, m.Kind);
        Assert.Equal(ModelFamily.SD2, m.Family);
        Assert.Equal(WeightNaming.Diffusers, m.Naming);
        Assert.Equal(["text_encoder", "unet", "vae"], m.Components.Select(c => c.Name));
        Assert.Equal([ComponentKind.TextEncoder, ComponentKind.Unet, ComponentKind.Vae], m.Components.Select(c => c.Kind));
        Assert.Equal(m.Components.Sum(c => c.Totals.Parameters), m.Totals.Parameters);
        Assert.Contains("SD 2.x pipeline", m.Description);
    }

    [Fact]
    public void SingleFileLdmPipelineSplitsByPrefix()
    {
        // An SD 1.x single-file checkpoint: UNet, VAE and CLIP under their LDM prefixes, plus the schedule buffers
        // such files carry (not part of any component).
        var unet = Tensors(Path.Combine(Golden("unet_sd1_tiny"), "ldm_checkpoint.safetensors"));
        var vae = Tensors(Path.Combine(Golden("vae_tiny"), "ldm_checkpoint.safetensors"));
        var clip = Tensors(Path.Combine(Golden("clip_text_tiny"), "model.safetensors"))
            .Select(t => t with { Name = "cond_stage_model.transformer." + t.Name }).ToList();
        var extra = new CheckpointTensor("alphas_cumprod", SafetensorsDType.F32, [1000], 4000, "x");
        var all = unet.Concat(vae).Concat(clip).Append(extra).ToList();

        var m = ModelDetection.Detect("sd1-single-file.safetensors", all);
        Assert.Equal(ComponentKind.Pipeline, m.Kind);
        Assert.Equal(ModelFamily.SD1, m.Family);
        Assert.Equal(WeightNaming.Ldm, m.Naming);
        Assert.Equal(["unet", "vae", "text_encoder"], m.Components.Select(c => c.Name));
        Assert.Equal("cond_stage_model.transformer.", m.Components[2].Prefix);
        Assert.Equal(all.Count, m.Totals.Tensors);
        Assert.Contains(m.Notes, n => n.Contains("alphas_cumprod"));
    }

    private static CheckpointTensor T(string name, params int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return new CheckpointTensor(name, SafetensorsDType.F16, shape, n * 2, "synthetic");
    }

    /// <summary>The tensors detection reads from a UNet of real width (the rest of a real UNet adds nothing to it).</summary>
    private static List<CheckpointTensor> UnetSkeleton(string prefix, bool ldm, int cross, bool linear, bool added)
    {
        int[] proj = linear ? [320, 320] : [320, 320, 1, 1];
        var l = ldm
            ? new List<CheckpointTensor>
            {
                T("input_blocks.0.0.weight", 320, 4, 3, 3), T("time_embed.0.weight", 1280, 320), T("input_blocks.1.0.out_layers.3.weight", 320, 320, 3, 3),
                T("input_blocks.1.1.proj_in.weight", proj), T("input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", 320, cross),
            }
            : new List<CheckpointTensor>
            {
                T("conv_in.weight", 320, 4, 3, 3), T("time_embedding.linear_1.weight", 1280, 320), T("down_blocks.0.resnets.0.conv2.weight", 320, 320, 3, 3),
                T("down_blocks.0.attentions.0.proj_in.weight", proj), T("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight", 320, cross),
            };
        if (added) l.Add(ldm ? T("label_emb.0.0.weight", 1280, 2816) : T("add_embedding.linear_1.weight", 1280, 2816));
        return l.Select(t => t with { Name = prefix + t.Name }).ToList();
    }

    [Theory]
    [InlineData(768, false, false, ModelFamily.SD1)]
    [InlineData(1024, true, false, ModelFamily.SD2)]
    [InlineData(2048, true, true, ModelFamily.SDXL)]
    public void RealWidthsAreNamedAsTheRealFamily(int cross, bool linear, bool added, ModelFamily family)
    {
        foreach (bool ldm in new[] { false, true })
        {
            var m = ModelDetection.Detect("real.safetensors", UnetSkeleton(ldm ? "model.diffusion_model." : "", ldm, cross, linear, added));
            Assert.Equal(family, m.Family);
            Assert.Contains($"cross-attention width {cross}", m.Description);
            Assert.DoesNotContain("-style", m.Description);
            Assert.Equal(SafetensorsDType.F16, m.Totals.ByDType.Single().DType);
        }
    }

    [Fact]
    public void SdxlSingleFileWithBothTextEncoders()
    {
        var l = UnetSkeleton("model.diffusion_model.", true, 2048, true, true);
        const string e0 = "conditioner.embedders.0.transformer.text_model.", e1 = "conditioner.embedders.1.model.";
        l.Add(T(e0 + "embeddings.token_embedding.weight", 49408, 768));
        l.Add(T(e0 + "embeddings.position_embedding.weight", 77, 768));
        for (int i = 0; i < 12; i++) l.Add(T(e0 + $"encoder.layers.{i}.mlp.fc1.weight", 3072, 768));
        l.Add(T(e1 + "token_embedding.weight", 49408, 1280));
        l.Add(T(e1 + "positional_embedding", 77, 1280));
        l.Add(T(e1 + "text_projection", 1280, 1280));
        for (int i = 0; i < 32; i++) l.Add(T(e1 + $"transformer.resblocks.{i}.mlp.c_fc.weight", 5120, 1280));

        var m = ModelDetection.Detect("sdxl.safetensors", l);
        Assert.Equal(ModelFamily.SDXL, m.Family);
        Assert.Equal(["unet", "text_encoder", "text_encoder_2"], m.Components.Select(c => c.Name));
        var te = m.Components[1];
        Assert.Equal(ModelFamily.SD1, te.Family);   // CLIP-L: SD 1.x's encoder, SDXL's first
        Assert.Equal(12, Fact(te, "layers"));
        var te2 = m.Components[2];
        Assert.Equal(ModelFamily.SDXL, te2.Family);
        Assert.Equal(32, Fact(te2, "layers"));
        Assert.Equal(1280, Fact(te2, "projection_dim"));
        Assert.Contains("bigG", te2.Description);
    }

    [Fact]
    public void SdxlRefinerIsNamed()
    {
        var l = UnetSkeleton("", false, 1280, true, false);
        l.Add(T("add_embedding.linear_1.weight", 1536, 2560));
        var m = ModelDetection.Detect("refiner.safetensors", l);
        Assert.Equal(ModelFamily.SDXL, m.Family);
        Assert.Contains("SDXL refiner", m.Description);
    }

    [Fact]
    public void IntegerBuffersAreNotParameters()
    {
        var clip = Tensors(Path.Combine(Golden("clip_text_tiny"), "model.safetensors"));
        var withIds = clip.Append(new CheckpointTensor("text_model.embeddings.position_ids", SafetensorsDType.I64, [1, 77], 77 * 8, "x")).ToList();
        var a = ModelDetection.Detect("a", clip);
        var b = ModelDetection.Detect("b", withIds);
        Assert.Equal(a.Totals.Parameters, b.Totals.Parameters);
        Assert.Equal(a.Totals.Bytes + 77 * 8, b.Totals.Bytes);
        Assert.Equal(77, b.Totals.ByDType.Single(d => d.DType == SafetensorsDType.I64).Elements);
    }

    [Fact]
    public void PipelineComponentSavedAsPickleIsNotSilentlyDropped()
    {
        string pipe = Path.Combine(_dir, "half-converted");
        GoldenModels.Materialize("vae_tiny", Path.Combine(pipe, "vae"));
        string unet = Directory.CreateDirectory(Path.Combine(pipe, "unet")).FullName;
        File.WriteAllBytes(Path.Combine(unet, "diffusion_pytorch_model.bin"), [0x80, 0x02, 0x7D, 0x71, 0, 0x28, 0x58, 0, 0, 0]);
        var e = Assert.Throws<UnsupportedCheckpointException>(() => ModelDetection.Detect(pipe));
        Assert.Contains(Path.Combine(unet, "diffusion_pytorch_model.bin"), e.Message);
    }

    [Fact]
    public void UnknownTensorsSayWhatWasLookedFor()
    {
        var e = Assert.Throws<UnknownModelException>(() =>
            ModelDetection.Detect("io.safetensors", [T("sample", 2, 4, 16, 16), T("out", 2, 4, 16, 16)]));
        Assert.StartsWith("cannot tell what model this is: 'io.safetensors'", e.Message);
        Assert.Contains("sample", e.Message);
        Assert.Contains("looked for a UNet", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void UnetWithoutCrossAttentionIsNotGuessed()
    {
        var l = UnetSkeleton("", false, 768, false, false).Where(t => !t.Name.Contains("attn2")).ToList();
        var e = Assert.Throws<UnknownModelException>(() => ModelDetection.Detect("uncond.safetensors", l));
        Assert.Contains("cross-attention", e.Message);
        Assert.Contains("uncond.safetensors", e.Message);
    }

    [Fact]
    public void WrongRankNamesTheTensor()
    {
        var l = UnetSkeleton("", false, 768, false, false);
        l[0] = T("conv_in.weight", 320, 36);
        var e = Assert.Throws<InvalidDataException>(() => ModelDetection.Detect("bad.safetensors", l));
        Assert.Contains("tensor 'conv_in.weight'", e.Message);
        Assert.Contains("bad.safetensors", e.Message);
    }

    [Fact]
    public void FolderThatIsNotAModelSaysSo()
    {
        string empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var e = Assert.Throws<UnknownModelException>(() => ModelDetection.Detect(empty));
        Assert.Contains(empty, e.Message);
        Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);

        string pickles = Directory.CreateDirectory(Path.Combine(_dir, "old", "unet")).FullName;
        File.WriteAllBytes(Path.Combine(pickles, "diffusion_pytorch_model.bin"), [0x80, 0x02, 0x7D, 0x71, 0, 0x28, 0x58, 0, 0, 0]);
        var p = Assert.Throws<UnsupportedCheckpointException>(() => ModelDetection.Detect(Path.Combine(_dir, "old")));
        Assert.Contains("diffusion_pytorch_model.bin", p.Message);

        Assert.Throws<FileNotFoundException>(() => ModelDetection.Detect(Path.Combine(_dir, "no-such-model")));
    }

    [Fact]
    public void ShardedComponentFolderIsTheSameModel()
    {
        string src = Path.Combine(Golden("vae_tiny"), "diffusion_pytorch_model.safetensors");
        var tensors = Tensors(src);
        string dir = Directory.CreateDirectory(Path.Combine(_dir, "vae_sharded")).FullName;
        var map = new Dictionary<string, string>();
        for (int s = 0; s < 2; s++)
        {
            var w = new SafetensorsWriter();
            string shard = $"diffusion_pytorch_model-0000{s + 1}-of-00002.safetensors";
            foreach (var t in tensors.Where((_, i) => i % 2 == s))
            {
                w.AddRaw(t.Name, t.DType, t.Shape, new byte[t.ByteLength]);
                map[t.Name] = shard;
            }
            w.Save(Path.Combine(dir, shard));
        }
        File.WriteAllText(Path.Combine(dir, "diffusion_pytorch_model.safetensors.index.json"),
            System.Text.Json.JsonSerializer.Serialize(new { metadata = new { total_size = tensors.Sum(t => t.ByteLength) }, weight_map = map }));

        using var source = ModelSource.Open(dir);
        Assert.True(source.Parts[0].Checkpoint.IsSharded);
        Assert.Equal(2, source.Parts[0].Checkpoint.ShardPaths.Count);
        var m = ModelDetection.Detect(source);
        var whole = ModelDetection.Detect(src);
        Assert.Equal(ComponentKind.Vae, m.Kind);
        Assert.Equal(whole.Totals.Parameters, m.Totals.Parameters);
        Assert.Equal(whole.Components[0].Facts.Select(f => f.ValueText), m.Components[0].Facts.Select(f => f.ValueText));
    }

    /// <summary>A LoRA file in one naming: rank-3 factors for two UNet modules (a linear and a 3×3 conv) and one text-encoder
    /// module, plus an alpha per module except in PEFT (which stores none).</summary>
    private string WriteLora(string naming)
    {
        const int r = 3;
        (string Target, string Module, int[] Down, int[] Up)[] modules =
        [
            ("unet", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", [r, 32], [32, r]),
            ("unet", "down_blocks.0.resnets.0.conv1", [r, 32, 3, 3], [32, r, 1, 1]),
            ("text_encoder", "text_model.encoder.layers.0.self_attn.q_proj", [r, 32], [32, r]),
        ];
        var w = new SafetensorsWriter();
        foreach (var (target, module, down, up) in modules)
        {
            string kohya = (target == "unet" ? "lora_unet_" : "lora_te_") + module.Replace('.', '_');
            var (d, u, a) = naming switch
            {
                "peft" => ($"{target}.{module}.lora_A.weight", $"{target}.{module}.lora_B.weight", (string?)null),
                "diffusers" => ($"{target}.{module}.lora.down.weight", $"{target}.{module}.lora.up.weight", $"{target}.{module}.alpha"),
                _ => ($"{kohya}.lora_down.weight", $"{kohya}.lora_up.weight", $"{kohya}.alpha"),
            };
            w.Add(d, new float[down.Aggregate(1, (x, y) => x * y)], down);
            w.Add(u, new float[up.Aggregate(1, (x, y) => x * y)], up);
            if (a is not null) w.Add(a, [6f], []);
        }
        string path = Path.Combine(_dir, $"lora-{naming}.safetensors");
        w.Save(path);
        return path;
    }

    [Theory]
    [InlineData("peft", WeightNaming.Peft, "PEFT", 6)]
    [InlineData("diffusers", WeightNaming.Diffusers, "diffusers", 9)]
    [InlineData("kohya", WeightNaming.Kohya, "kohya", 9)]
    public void LoraFilesAreRecognisedInEachNaming(string naming, WeightNaming expected, string shown, int tensors)
    {
        var m = ModelDetection.Detect(WriteLora(naming));
        Assert.Equal(ComponentKind.Lora, m.Kind);
        Assert.Equal(expected, m.Naming);
        Assert.Equal(ModelFamily.Unknown, m.Family);   // no text_encoder_2 target: any family
        var c = Assert.Single(m.Components);
        Assert.Equal("lora", c.Name);
        Assert.Equal(3, Fact(c, "rank"));
        Assert.Equal(3, Fact(c, "modules"));
        Assert.Equal("unet,text_encoder", Fact(c, "targets"));
        Assert.Equal(2, Fact(c, "modules_unet"));
        Assert.Equal(1, Fact(c, "modules_text_encoder"));
        Assert.Equal($"LoRA (naming: {shown}, rank 3, 3 modules; targets: unet, text_encoder)", m.Description);
        Assert.Equal(tensors, c.Totals.Tensors);
        // down + up of 3·32 each (linear) and 3·32·9 + 32·3 (conv), plus one alpha per module where stored.
        Assert.Equal(2 * (96 + 96) + 864 + 96 + (naming == "peft" ? 0 : 3), c.Totals.Parameters);
    }

    [Fact]
    public void LoraGivenAsAModelSaysItIsALora()
    {
        string lora = WriteLora("kohya");
        var e = Assert.Throws<InvalidDataException>(() => PixelCost.Runtime.Pipelines.PipelineLoader.Describe(lora));
        Assert.Contains(lora, e.Message);
        Assert.Contains("LoRA (naming: kohya", e.Message);
        Assert.Contains("--lora", e.Message);
    }

    [Fact]
    public void SdxlLoraWithSecondTextEncoderIsSdxlAndBrokenLoraNamesTheTensor()
    {
        string path = Path.Combine(_dir, "lora-xl.safetensors");
        new SafetensorsWriter()
            .Add("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", new float[2 * 8], 2, 8)
            .Add("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", new float[16 * 2], 16, 2)
            .Save(path);
        var m = ModelDetection.Detect(path);
        Assert.Equal(ModelFamily.SDXL, m.Family);
        Assert.Equal("LoRA (naming: kohya, rank 2, 1 module; targets: text_encoder_2)", m.Description);

        string broken = Path.Combine(_dir, "lora-broken.safetensors");
        new SafetensorsWriter().Add("unet.conv_in.lora_A.weight", new float[2 * 4], 2, 4).Save(broken);   // down without up
        var e = Assert.Throws<InvalidDataException>(() => ModelDetection.Detect(broken));
        Assert.Contains("unet.conv_in.lora_A.weight", e.Message);
        Assert.Contains("no up", e.Message);
    }
}
