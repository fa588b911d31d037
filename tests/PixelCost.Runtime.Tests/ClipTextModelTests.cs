using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Kernels.Meta;
using PixelCost.Runtime.Models.TextEncoder;
using PixelCost.Runtime.Safetensors;
using PixelCost.Tests;
using Xunit;
using Xunit.Abstractions;

namespace PixelCost.Runtime.Tests;

/// <summary>
/// The CLIP text encoders against Golden/clip_text_tiny (plain PyTorch float64 from CLIP's text-transformer formulas,
/// see tools/golden/README: 2 layers, width 32, 4 heads, full vocabulary): four prompts × eos and zero padding;
/// OpenCLIP single-file names; parameter counts and matmul FLOPs of the presets from the config arithmetic.
/// </summary>
[Trait("Golden", "PyTorch float64 CLIP text transformer (Golden/clip_text_tiny)")]
public sealed class ClipTextModelTests(ITestOutputHelper output)
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Golden", "clip_text_tiny");

    private static readonly string[] Cases =
        ["case0_eos", "case0_zero", "case1_eos", "case1_zero", "case2_eos", "case2_zero", "case3_eos", "case3_zero"];

    // Reference float64 from the same float32 weights; ours fp32. Reductions are over 32 (attention, norms) and 64 (fc2)
    // terms through 2 layers whose outputs are renormalised; |values| are O(1). Measured worst |diff| over the 8 cases
    // and 4 outputs: 1.2e-6 on cpu and on ilgpu-cpu; 2e-5 + 2e-5·|ref| leaves ≥ 10× for other summation orders.
    private const double Atol = 2e-5, Rtol = 2e-5;

    internal static int[] Ids(SafetensorsFile io, string key)
    {
        var raw = io.RawBytes(key + ".input_ids");
        var ids = new int[raw.Length / 8];
        for (int i = 0; i < ids.Length; i++) ids[i] = checked((int)BitConverter.ToInt64(raw.Slice(8 * i, 8)));
        return ids;
    }

    /// <summary>All eight cases as one batch [8,77]; every output compared with the golden tensors.</summary>
    private double CheckGolden(IAccelerator acc, ClipTextModel model)
    {
        using var io = SafetensorsFile.Open(Path.Combine(Dir, "io.safetensors"));
        int t = 77, d = model.Config.HiddenSize;
        var ids = Cases.SelectMany(k => Ids(io, k)).ToArray();
        using var input = acc.Allocate(DType.I32, Cases.Length, t);
        acc.Upload<int>(input, ids);
        using var o = model.Forward(input);
        Assert.Equal(new[] { Cases.Length, t, d }, o.LastHiddenState.Shape.ToArray());
        Assert.Equal(new[] { Cases.Length, d }, o.Pooled.Shape.ToArray());
        Assert.NotNull(o.TextEmbeds);
        float[] last = o.LastHiddenState.ToArray(), pen = o.PenultimateHiddenState.ToArray(), pooled = o.Pooled.ToArray(), te = o.TextEmbeds!.ToArray();
        int p = model.Config.ProjectionDim!.Value;
        double worst = 0;
        for (int b = 0; b < Cases.Length; b++)
        {
            string k = Cases[b];
            foreach (var (name, got, size) in new[] { ("last_hidden_state", last, t * d), ("penultimate_hidden_state", pen, t * d), ("pooled", pooled, d), ("text_embeds", te, p) })
            {
                var want = io.ReadFloats($"{k}.{name}");
                var mine = got.AsSpan(b * size, size);
                Close.All(want, mine, Atol, Rtol, default, $"{k}.{name} on {acc.Id}");
                for (int i = 0; i < size; i++) worst = Math.Max(worst, Math.Abs(mine[i] - want[i]));
            }
        }
        output.WriteLine($"{acc.Name}: worst |ours − golden| over 8 cases × 4 outputs = {worst:G3}");
        return worst;
    }

    [Fact]
    public void Cpu_AllCasesBothPaddings_MatchGolden()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        using var model = ClipTextModel.Load(cpu, Dir);
        Assert.Equal(2, model.Config.Layers);
        Assert.Equal(24, model.Config.ProjectionDim);
        CheckGolden(cpu, model);
    }

    /// <summary>SD 1.x's config.json still carries the legacy eos_token_id 2, for which transformers pools at the argmax
    /// id: the same (first) &lt;|endoftext|&gt; for eot- and 0-padded prompts, so the golden outputs hold.</summary>
    [Fact]
    public void Cpu_LegacyEosTokenId2_PoolsAtTheArgmaxId()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        using var model = ClipTextModel.Load(cpu, Dir, config: ClipTextConfig.Load(Dir) with { EosTokenId = 2 });
        CheckGolden(cpu, model);
        // By hand: argmax is the first maximum; without the legacy id, the first eos (0 when there is none).
        Assert.Equal(2, ClipTextModel.PooledToken([49406, 5, 49407, 49407], 2));
        Assert.Equal(2, ClipTextModel.PooledToken([49406, 5, 49407, 0], 2));
        Assert.Equal(2, ClipTextModel.PooledToken([49406, 2, 49407, 0], 49407));
        Assert.Equal(0, ClipTextModel.PooledToken([49406, 5, 7, 0], 49407));
    }

    [Fact]
    public void IlgpuCpu_AllCasesBothPaddings_MatchGolden()
    {
        using var acc = IlgpuAccelerator.CreateCpu();
        using var model = ClipTextModel.Load(acc, Dir);
        CheckGolden(acc, model);
    }

    /// <summary>The tiny weights rewritten under OpenCLIP names (in_proj concatenated q;k;v, text_projection [D,P]
    /// transposed), as SDXL's second embedder, beside a transformers-named copy as its first: both components load
    /// from the one file and give the golden outputs.</summary>
    [Fact]
    public void Cpu_OpenClipSingleFile_SameOutputs()
    {
        var cfg = ClipTextConfig.Load(Dir);
        string tmp = Directory.CreateTempSubdirectory("clip-openclip-").FullName;
        try
        {
            string file = Path.Combine(tmp, "sdxl_like.safetensors");
            WriteSdxlStyle(Path.Combine(Dir, "model.safetensors"), file, cfg);
            using var cpu = new CpuAccelerator(threads: 2);
            using (var m2 = ClipTextModel.Load(cpu, file, "text_encoder_2", cfg))
            {
                Assert.Equal("text_encoder_2", m2.Component);
                CheckGolden(cpu, m2);
            }
            using (var m1 = ClipTextModel.Load(cpu, file, "text_encoder", cfg)) CheckGolden(cpu, m1);
        }
        finally { Directory.Delete(tmp, recursive: true); }
    }

    /// <summary>Independent of the model code: names and layouts from OpenCLIP's text tower.</summary>
    private static void WriteSdxlStyle(string hfFile, string outFile, ClipTextConfig c)
    {
        using var src = SafetensorsFile.Open(hfFile);
        var w = new SafetensorsWriter();
        foreach (var t in src.Tensors)
            w.Add("conditioner.embedders.0.transformer." + t.Name, src.ReadFloats(t.Name), t.Shape);
        const string p = "conditioner.embedders.1.model.";
        int d = c.HiddenSize, pd = c.ProjectionDim!.Value;
        w.Add(p + "token_embedding.weight", src.ReadFloats("text_model.embeddings.token_embedding.weight"), c.VocabSize, d);
        w.Add(p + "positional_embedding", src.ReadFloats("text_model.embeddings.position_embedding.weight"), c.MaxPositions, d);
        for (int i = 0; i < c.Layers; i++)
        {
            string h = $"text_model.encoder.layers.{i}.", o = $"{p}transformer.resblocks.{i}.";
            w.Add(o + "attn.in_proj_weight", new[] { "q", "k", "v" }.SelectMany(x => src.ReadFloats(h + $"self_attn.{x}_proj.weight")).ToArray(), 3 * d, d);
            w.Add(o + "attn.in_proj_bias", new[] { "q", "k", "v" }.SelectMany(x => src.ReadFloats(h + $"self_attn.{x}_proj.bias")).ToArray(), 3 * d);
            foreach (var (hf, oc) in new[] { ("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj") })
                foreach (var kind in new[] { "weight", "bias" })
                    w.Add(o + oc + "." + kind, src.ReadFloats(h + hf + "." + kind), src.Shape(h + hf + "." + kind));
        }
        w.Add(p + "ln_final.weight", src.ReadFloats("text_model.final_layer_norm.weight"), d);
        w.Add(p + "ln_final.bias", src.ReadFloats("text_model.final_layer_norm.bias"), d);
        var proj = src.ReadFloats("text_projection.weight");   // [P, D]
        var projT = new float[proj.Length];
        for (int j = 0; j < pd; j++)
            for (int i = 0; i < d; i++) projT[i * pd + j] = proj[j * d + i];
        w.Add(p + "text_projection", projT, d, pd);
        w.Save(outFile);
    }

    /// <summary>CLIP text encoder parameters from the config arithmetic alone: embeddings V·D + P·D; per layer four
    /// D×D projections with bias, two layer norms, fc1 (M×D + M) and fc2 (D×M + D); the final norm; the projection.</summary>
    private static long Parameters(int v, int p, int d, int layers, int m, int proj) =>
        (long)v * d + (long)p * d + layers * (4L * (d * d + d) + 2 * 2 * d + ((long)m * d + m) + ((long)d * m + d)) + 2 * d + (long)proj * d;

    [Theory]
    [InlineData("clip-l", 123_060_480L)]       // CLIP ViT-L/14 text encoder (SD 1.x text_encoder)
    [InlineData("openclip-h", 340_387_840L)]   // SD 2.x text_encoder (23 layers)
    [InlineData("openclip-bigg", 694_659_840L)] // SDXL text_encoder_2 (with projection)
    public void Meta_Presets_ParameterCounts(string preset, long published)
    {
        var c = ClipTextConfig.Preset(preset);
        Assert.Equal(published, Parameters(c.VocabSize, c.MaxPositions, c.HiddenSize, c.Layers, c.IntermediateSize, c.ProjectionDim ?? 0));
        using var meta = new MetaAccelerator();
        using var model = ClipTextModel.Random(meta, c, seed: 1);
        Assert.Equal(published, model.ParameterCount);
    }

    [Fact]
    public void Meta_ClipL_MatmulFlopsPerPrompt()
    {
        var c = ClipTextConfig.Preset("clip-l");
        using var meta = new MetaAccelerator();
        using var model = ClipTextModel.Random(meta, c, seed: 1);
        const int batch = 2, t = 77;
        long d = c.HiddenSize, m = c.IntermediateSize;
        // Per layer: q, k, v, out projections 2·T·D² each; fc1 + fc2 2·T·D·M each; causal attention: query i meets
        // i + 1 keys, D MACs per (query, key) for QKᵀ and again for PV: 2·2·D·Σ(i+1) = 4·D·T(T+1)/2.
        long perLayer = 4 * 2 * t * d * d + 2 * 2 * t * d * m + 4 * d * (t * (t + 1) / 2);
        long expected = batch * c.Layers * perLayer;
        meta.Ledger.Clear();
        using var ids = meta.Allocate(DType.I32, batch, t);
        using var o = model.Forward(ids);
        var cost = meta.Ledger.TotalCost();
        output.WriteLine($"clip-l, batch {batch}: {cost.MatmulFlops:N0} matmul FLOPs ({cost.MatmulFlops / batch:N0} per prompt), {meta.Ledger.Count} launches");
        Assert.Equal(expected, cost.MatmulFlops);
        Assert.Equal(13_190_639_616L, expected / batch);   // 13.19 GFLOP = 6.60 GMAC per prompt: the formula above evaluated in Python
        // Every launch runs under the component's scope.
        Assert.All(meta.Ledger.Entries, e => Assert.StartsWith("text_encoder", e.Scope));
        Assert.Equal(new[] { batch, c.HiddenSize }, o.Pooled.Shape.ToArray());
        Assert.Null(o.TextEmbeds);
    }

    [Fact]
    public void Cpu_ActivationsFreed_AndBadInputsRejected()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        using var model = ClipTextModel.Load(cpu, Dir);
        long weights = cpu.Memory.InUse;
        using (var ids = cpu.Allocate(DType.I32, 1, 77))
        {
            var v = new int[77];
            v[0] = 49406; v[1] = 49407;
            cpu.Upload<int>(ids, v);
            using (model.Forward(ids)) { }
            v[5] = 49408;   // = vocab size: out of range
            cpu.Upload<int>(ids, v);
            var e = Assert.Throws<ArgumentException>(() => model.Forward(ids));
            Assert.Contains("input_ids[0,5] = 49408", e.Message);
        }
        Assert.Equal(weights, cpu.Memory.InUse);
        using var f = cpu.Allocate(1, 77);
        Assert.Contains("must be I32 [B,T]", Assert.Throws<ArgumentException>(() => model.Forward(f)).Message);
        using var tooLong = cpu.Zeros(DType.I32, 1, 78);
        Assert.Throws<ArgumentException>(() => model.Forward(tooLong));
    }

    [Fact]
    public void Embedding_IdOutOfRange_NamesOpPositionAndId()
    {
        using var cpu = new CpuAccelerator(threads: 1);
        using var table = cpu.Zeros(5, 3);
        using var ids = cpu.Allocate(DType.I32, 2, 2);
        cpu.Upload<int>(ids, new[] { 0, 4, 1, -1 });
        using var y = cpu.Allocate(2, 2, 3);
        var e = Assert.Throws<ArgumentException>(() => Ops.Embedding(cpu, ids, table, null, y));
        Assert.Contains("embedding: id -1 at position (batch 1, token 1)", e.Message);
    }

    [Fact]
    public void Load_MissingTensorAndWrongShape_NameFileAndTensor()
    {
        string tmp = Directory.CreateTempSubdirectory("clip-bad-").FullName;
        try
        {
            using var src = SafetensorsFile.Open(Path.Combine(Dir, "model.safetensors"));
            File.Copy(Path.Combine(Dir, "config.json"), Path.Combine(tmp, "config.json"));
            var w = new SafetensorsWriter();
            foreach (var t in src.Tensors.Where(t => t.Name != "text_model.final_layer_norm.bias"))
                w.Add(t.Name, src.ReadFloats(t.Name), t.Shape);
            w.Save(Path.Combine(tmp, "model.safetensors"));
            using var cpu = new CpuAccelerator(threads: 1);
            var e = Assert.Throws<InvalidDataException>(() => ClipTextModel.Load(cpu, tmp));
            Assert.Contains("'text_model.final_layer_norm.bias' is missing", e.Message);
            Assert.Contains("model.safetensors", e.Message);
            var cfg = ClipTextConfig.Load(Dir) with { IntermediateSize = 48 };
            e = Assert.Throws<InvalidDataException>(() => ClipTextModel.Load(cpu, Path.Combine(Dir, "model.safetensors"), config: cfg));
            Assert.Contains("mlp.fc1.weight' has shape [64,32] but the config", e.Message);
        }
        finally { Directory.Delete(tmp, recursive: true); }
    }
}
