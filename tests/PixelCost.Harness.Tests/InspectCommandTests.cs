using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using PixelCost.Harness.Commands;
using PixelCost.Runtime.Safetensors;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Harness.Tests;

/// <summary><c>pixelcost inspect</c> on the tiny golden models (headers from Golden/models, tests/Shared/GoldenModels.cs) and on bad input.</summary>
public sealed class InspectCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-inspect-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args, InspectCommand.Create());

    private static void AssertOneLineError((int Code, string Out, string Err) r, params string[] mentions) => CliRun.AssertOneLineError(r, mentions);

    private string Sd1() => GoldenModels.Materialize("unet_sd1_tiny", Path.Combine(_dir, "unet_sd1_tiny"));

    [Fact]
    public void TableShowsFilesModelTotalsAndFirstPage()
    {
        string dir = Sd1();
        var r = Run("inspect", dir);
        Assert.Equal(0, r.Code);
        Assert.Equal("", r.Err);
        Assert.Contains(Path.Combine(dir, "diffusion_pytorch_model.safetensors"), r.Out);
        Assert.Contains("metadata  format=pt", r.Out);
        Assert.Contains("model: SD 1.x UNet", r.Out);
        Assert.Contains("cross_attention_width 32", r.Out);
        Assert.Contains("attention_projection conv1x1", r.Out);
        Assert.Contains("totals: 304 tensors · 1,106,212 parameters · 4,424,848 bytes", r.Out);
        Assert.Contains("tensors 1–50 of 304 (page 1 of 7", r.Out);
        Assert.Contains("conv_in.weight", r.Out);
        Assert.Contains("[32,4,3,3]", r.Out);
    }

    [Fact]
    public void JsonCarriesTheSameAndOnlyJson()
    {
        string file = Path.Combine(Sd1(), "ldm_checkpoint.safetensors");
        var r = Run("inspect", file, "--json", "--filter", "*attn2.to_k.weight");
        Assert.Equal(0, r.Code);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal(file, root.GetProperty("path").GetString());
        var model = root.GetProperty("model");
        Assert.Equal("unet", model.GetProperty("kind").GetString());
        Assert.Equal("sd1", model.GetProperty("family").GetString());
        Assert.Equal("ldm", model.GetProperty("naming").GetString());
        var unet = model.GetProperty("components")[0];
        Assert.Equal("model.diffusion_model.", unet.GetProperty("prefix").GetString());
        Assert.Equal(32, unet.GetProperty("facts").GetProperty("cross_attention_width").GetInt32());
        Assert.Equal([32, 64], unet.GetProperty("facts").GetProperty("block_out_channels").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal(JsonValueKind.Null, root.GetProperty("model_error").ValueKind);
        var totals = root.GetProperty("totals");
        Assert.Equal(304, totals.GetProperty("tensors").GetInt32());
        Assert.Equal(1_106_212, totals.GetProperty("parameters").GetInt64());
        Assert.Equal("F32", totals.GetProperty("by_dtype")[0].GetProperty("dtype").GetString());
        Assert.Equal(6, root.GetProperty("matched").GetInt32());   // one cross-attention per transformer block
        var tensors = root.GetProperty("tensors");
        Assert.Equal(6, tensors.GetArrayLength());
        var t0 = tensors[0];
        Assert.EndsWith("attn2.to_k.weight", t0.GetProperty("name").GetString());
        Assert.Equal("F32", t0.GetProperty("dtype").GetString());
        Assert.Equal(2, t0.GetProperty("shape").GetArrayLength());
        Assert.Equal(t0.GetProperty("elements").GetInt64() * 4, t0.GetProperty("bytes").GetInt64());
    }

    /// <summary>A rank-2 LoRA on two UNet modules and one text-encoder module, in the naming asked for (PEFT stores no alpha).</summary>
    private string WriteLora(string naming)
    {
        var w = new SafetensorsWriter();
        foreach (var (target, module) in new[] { ("unet", "mid_block.attentions.0.transformer_blocks.0.attn2.to_k"),
                     ("unet", "up_blocks.1.attentions.0.proj_out"), ("text_encoder", "text_model.encoder.layers.1.mlp.fc2") })
        {
            string kohya = (target == "unet" ? "lora_unet_" : "lora_te_") + module.Replace('.', '_');
            var (d, u, a) = naming switch
            {
                "peft" => ($"{target}.{module}.lora_A.weight", $"{target}.{module}.lora_B.weight", (string?)null),
                "diffusers" => ($"{target}.{module}.lora.down.weight", $"{target}.{module}.lora.up.weight", $"{target}.{module}.alpha"),
                _ => ($"{kohya}.lora_down.weight", $"{kohya}.lora_up.weight", $"{kohya}.alpha"),
            };
            w.Add(d, new float[2 * 16], 2, 16).Add(u, new float[16 * 2], 16, 2);
            if (a is not null) w.Add(a, [2f], []);
        }
        string path = Path.Combine(_dir, $"lora-{naming}.safetensors");
        w.Save(path);
        return path;
    }

    [Theory]
    [InlineData("peft", "PEFT")]
    [InlineData("diffusers", "diffusers")]
    [InlineData("kohya", "kohya")]
    public void LoraFileIsRecognisedInTableAndJson(string naming, string shown)
    {
        string file = WriteLora(naming);
        const string description = "LoRA (naming: {0}, rank 2, 3 modules; targets: unet, text_encoder)";
        var r = Run("inspect", file);
        Assert.Equal(0, r.Code);
        Assert.Equal("", r.Err);
        Assert.Contains("model: " + string.Format(description, shown), r.Out);
        Assert.Contains("kind lora", r.Out);
        Assert.Contains("rank 2 · modules 3 · targets unet,text_encoder · modules_unet 2 · modules_text_encoder 1", r.Out);
        Assert.DoesNotContain("not recognised", r.Out);

        var j = Run("inspect", file, "--json");
        Assert.Equal(0, j.Code);
        using var doc = JsonDocument.Parse(j.Out);
        var model = doc.RootElement.GetProperty("model");
        Assert.Equal("lora", model.GetProperty("kind").GetString());
        Assert.Equal(naming, model.GetProperty("naming").GetString());
        Assert.Equal(string.Format(description, shown), model.GetProperty("description").GetString());
        var facts = model.GetProperty("components")[0].GetProperty("facts");
        Assert.Equal(2, facts.GetProperty("rank").GetInt32());
        Assert.Equal(3, facts.GetProperty("modules").GetInt32());
        Assert.Equal("unet,text_encoder", facts.GetProperty("targets").GetString());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("model_error").ValueKind);
        Assert.Equal(naming == "peft" ? 6 : 9, doc.RootElement.GetProperty("totals").GetProperty("tensors").GetInt32());
    }

    [Fact]
    public void PagesAreConsecutiveSlices()
    {
        string dir = Sd1();
        var names = new List<string>();
        for (int p = 1; p <= 4; p++)
        {
            var r = Run("inspect", dir, "--json", "--page-size", "100", "--page", p.ToString());
            Assert.Equal(0, r.Code);
            using var doc = JsonDocument.Parse(r.Out);
            Assert.Equal(4, doc.RootElement.GetProperty("pages").GetInt32());
            names.AddRange(doc.RootElement.GetProperty("tensors").EnumerateArray().Select(t => t.GetProperty("name").GetString()!));
        }
        Assert.Equal(304, names.Count);
        Assert.Equal(304, names.Distinct().Count());
    }

    [Fact]
    public void PipelineFolderNamesTensorsByComponent()
    {
        string pipe = Path.Combine(_dir, "pipe");
        GoldenModels.Materialize("unet_sdxl_tiny", Path.Combine(pipe, "unet"));
        GoldenModels.Materialize("vae_tiny", Path.Combine(pipe, "vae"));
        var r = Run("inspect", pipe, "--filter", "vae/decoder.conv_in*");
        Assert.Equal(0, r.Code);
        Assert.Contains("SDXL pipeline (unet + vae)", r.Out);
        Assert.Contains("vae/decoder.conv_in.weight", r.Out);
        Assert.DoesNotContain("unet/conv_in.weight", r.Out);
    }

    [Fact]
    public void ShardedIndexShowsItsShards()
    {
        new SafetensorsWriter().Add("a", new float[2], 2).Save(Path.Combine(_dir, "m-1.safetensors"));
        new SafetensorsWriter().Add("b", new Half[3], 3).Save(Path.Combine(_dir, "m-2.safetensors"));
        string index = Path.Combine(_dir, "m.safetensors.index.json");
        File.WriteAllText(index, "{\"metadata\":{\"total_size\":14},\"weight_map\":{\"a\":\"m-1.safetensors\",\"b\":\"m-2.safetensors\"}}");

        var t = Run("inspect", index);
        Assert.Equal(0, t.Code);
        Assert.Contains("(2 shards: m-1.safetensors, m-2.safetensors)", t.Out);
        Assert.Contains("metadata  total_size=14", t.Out);

        var r = Run("inspect", index, "--json");
        Assert.Equal(0, r.Code);
        using var doc = JsonDocument.Parse(r.Out);
        var f = doc.RootElement.GetProperty("files")[0];
        Assert.True(f.GetProperty("sharded").GetBoolean());
        Assert.Equal(2, f.GetProperty("shards").GetArrayLength());
        var tensors = doc.RootElement.GetProperty("tensors");
        Assert.EndsWith("m-2.safetensors", tensors[1].GetProperty("file").GetString());
        Assert.Equal("F16", tensors[1].GetProperty("dtype").GetString());
        Assert.Equal(14, doc.RootElement.GetProperty("totals").GetProperty("bytes").GetInt64());
    }

    [Fact]
    public void UnrecognisedFileIsStillListed()
    {
        string p = Path.Combine(_dir, "inputs.safetensors");
        new SafetensorsWriter().Add("sample", new float[8], 2, 4).Save(p);
        var r = Run("inspect", p);
        Assert.Equal(0, r.Code);
        Assert.Contains("model: not recognised — cannot tell what model this is", r.Out);
        Assert.Contains("sample", r.Out);
    }

    [Fact]
    public void MalformedFileIsOneErrorLine()
    {
        string p = Path.Combine(_dir, "bad.safetensors");
        var h = Encoding.UTF8.GetBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}");
        var bytes = new byte[8 + h.Length + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        File.WriteAllBytes(p, bytes);
        AssertOneLineError(Run("inspect", p), p, "tensor 'w'", "mismatch");
        AssertOneLineError(Run("inspect", p, "--json"), p, "tensor 'w'");
    }

    [Fact]
    public void HeaderClaimingTwoToTheSixtyThreeBytesIsOneErrorLine()
    {
        string p = Path.Combine(_dir, "huge.safetensors");
        var bytes = new byte[10];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 63);
        File.WriteAllBytes(p, bytes);
        AssertOneLineError(Run("inspect", p), p, "header length");
    }

    [Fact]
    public void PickleIsOneErrorLineWithTheConvertHint()
    {
        string p = Path.Combine(_dir, "v1-5-pruned.ckpt");
        File.WriteAllBytes(p, [0x50, 0x4B, 3, 4, 0, 0, 8, 0, 0, 0, 0, 0]);
        AssertOneLineError(Run("inspect", p), p, "convert it to safetensors", "never unpickles");
    }

    [Fact]
    public void BadOptionsAndPathsAreOneErrorLine()
    {
        string dir = Sd1();
        AssertOneLineError(Run("inspect", dir, "--page", "0"), "--page");
        AssertOneLineError(Run("inspect", dir, "--page-size", "-1"), "--page-size");
        AssertOneLineError(Run("inspect", dir, "--page", "99"), "--page 99", "last page 7");
        AssertOneLineError(Run("inspect", dir, "--filter", "no-such-tensor"), "--filter 'no-such-tensor' matches no tensor");
        AssertOneLineError(Run("inspect", Path.Combine(_dir, "missing")), "does not exist");
        string empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        AssertOneLineError(Run("inspect", empty), "cannot tell what model this is", empty);
        var r = Run("inspect", dir, "--page", "many");
        Assert.NotEqual(0, r.Code);
        Assert.StartsWith("pixelcost: error:", r.Err);
    }
}
