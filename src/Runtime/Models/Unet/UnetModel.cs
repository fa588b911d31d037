using PixelCost.Kernels;
using PixelCost.Runtime.Safetensors;

namespace PixelCost.Runtime.Models;

/// <summary>
/// diffusers' <c>UNet2DConditionModel</c> (SD 1.x, 2.x, XL) with its weights as tensors on one accelerator, and its
/// forward pass composed only of <see cref="Ops"/> calls, so the same code runs on cpu, ilgpu-cpu and cuda. Every
/// block runs under a ledger scope with diffusers' module path ("down_blocks.1/attentions.0/transformer_blocks.0", …)
/// so costs and times roll up per block. Activations come from the accelerator's pool and are freed as soon as dead.
/// Weight names are exactly diffusers'; <see cref="ParameterShapes"/> lists them with the shapes the config implies.
/// </summary>
public sealed class UnetModel : IDisposable
{
    /// <summary>diffusers' Transformer2DModel GroupNorm eps (the resnets use the config's norm_eps).</summary>
    private const float TransformerGroupNormEps = 1e-6f;

    /// <summary>BasicTransformerBlock's LayerNorm eps.</summary>
    private const float LayerNormEps = 1e-5f;

    private readonly Dictionary<string, Tensor> _weights;
    private bool _disposed;

    private UnetModel(IAccelerator acc, UnetConfig config, Dictionary<string, Tensor> weights)
    {
        Accelerator = acc;
        Config = config;
        _weights = weights;
    }

    public IAccelerator Accelerator { get; }
    public UnetConfig Config { get; }

    /// <summary>The weights by diffusers name.</summary>
    public IReadOnlyDictionary<string, Tensor> Weights => _weights;

    public long ParameterCount => _weights.Values.Sum(t => t.Length);

    // ------------------------------------------------------------------ parameters

    /// <summary>Every parameter of the model the config describes, by diffusers name, in module order.</summary>
    public static IReadOnlyList<(string Name, int[] Shape)> ParameterShapes(UnetConfig c)
    {
        var p = new List<(string, int[])>();
        int c0 = c.BlockOutChannels[0], t = c.TimeEmbedDim, n = c.Levels;
        void Conv(string name, int cout, int cin, int k) { p.Add(($"{name}.weight", [cout, cin, k, k])); p.Add(($"{name}.bias", [cout])); }
        void Lin(string name, int nOut, int nIn, bool bias = true)
        {
            p.Add(($"{name}.weight", [nOut, nIn]));
            if (bias) p.Add(($"{name}.bias", [nOut]));
        }
        void Norm(string name, int ch) { p.Add(($"{name}.weight", [ch])); p.Add(($"{name}.bias", [ch])); }
        void Resnet(string pre, int cin, int cout)
        {
            Norm($"{pre}.norm1", cin);
            Conv($"{pre}.conv1", cout, cin, 3);
            Lin($"{pre}.time_emb_proj", cout, t);
            Norm($"{pre}.norm2", cout);
            Conv($"{pre}.conv2", cout, cout, 3);
            if (cin != cout) Conv($"{pre}.conv_shortcut", cout, cin, 1);
        }
        void Transformer(string pre, int ch, int depth)
        {
            Norm($"{pre}.norm", ch);
            if (c.UseLinearProjection) Lin($"{pre}.proj_in", ch, ch); else Conv($"{pre}.proj_in", ch, ch, 1);
            for (int k = 0; k < depth; k++)
            {
                string b = $"{pre}.transformer_blocks.{k}";
                Norm($"{b}.norm1", ch);
                Lin($"{b}.attn1.to_q", ch, ch, false); Lin($"{b}.attn1.to_k", ch, ch, false); Lin($"{b}.attn1.to_v", ch, ch, false);
                Lin($"{b}.attn1.to_out.0", ch, ch);
                Norm($"{b}.norm2", ch);
                Lin($"{b}.attn2.to_q", ch, ch, false);
                Lin($"{b}.attn2.to_k", ch, c.CrossAttentionDim, false); Lin($"{b}.attn2.to_v", ch, c.CrossAttentionDim, false);
                Lin($"{b}.attn2.to_out.0", ch, ch);
                Norm($"{b}.norm3", ch);
                Lin($"{b}.ff.net.0.proj", 8 * ch, ch);
                Lin($"{b}.ff.net.2", ch, 4 * ch);
            }
            if (c.UseLinearProjection) Lin($"{pre}.proj_out", ch, ch); else Conv($"{pre}.proj_out", ch, ch, 1);
        }

        Conv("conv_in", c0, c.InChannels, 3);
        Lin("time_embedding.linear_1", t, c0);
        Lin("time_embedding.linear_2", t, t);
        if (c.HasTextTimeEmbedding)
        {
            Lin("add_embedding.linear_1", t, c.ProjectionClassEmbeddingsInputDim);
            Lin("add_embedding.linear_2", t, t);
        }
        int ch = c0;
        for (int i = 0; i < n; i++)
        {
            int cin = ch;
            ch = c.BlockOutChannels[i];
            for (int j = 0; j < c.LayersPerBlock; j++)
            {
                Resnet($"down_blocks.{i}.resnets.{j}", j == 0 ? cin : ch, ch);
                if (c.DownBlockTypes[i] == UnetConfig.CrossAttnDown) Transformer($"down_blocks.{i}.attentions.{j}", ch, c.TransformerLayersPerBlock[i]);
            }
            if (i < n - 1) Conv($"down_blocks.{i}.downsamplers.0.conv", ch, ch, 3);
        }
        Resnet("mid_block.resnets.0", ch, ch);
        Transformer("mid_block.attentions.0", ch, c.TransformerLayersPerBlock[^1]);
        Resnet("mid_block.resnets.1", ch, ch);
        int prev = ch;
        for (int i = 0; i < n; i++)
        {
            int lvl = n - 1 - i, cout = c.BlockOutChannels[lvl], cin = c.BlockOutChannels[Math.Max(lvl - 1, 0)];
            for (int j = 0; j <= c.LayersPerBlock; j++)
            {
                int skip = j == c.LayersPerBlock ? cin : cout;
                Resnet($"up_blocks.{i}.resnets.{j}", (j == 0 ? prev : cout) + skip, cout);
                if (c.UpBlockTypes[i] == UnetConfig.CrossAttnUp) Transformer($"up_blocks.{i}.attentions.{j}", cout, c.TransformerLayersPerBlock[lvl]);
            }
            if (i < n - 1) Conv($"up_blocks.{i}.upsamplers.0.conv", cout, cout, 3);
            prev = cout;
        }
        Norm("conv_norm_out", c0);
        Conv("conv_out", c.OutChannels, c0, 3);
        return p;
    }

    /// <summary>
    /// Loads a diffusers UNet: a component folder (config.json + diffusion_pytorch_model[.fp16].safetensors, possibly
    /// sharded), a pipeline folder (its unet/), or a .safetensors file with config.json beside it — diffusers names, or
    /// a single-file (LDM) checkpoint's model.diffusion_model.* (see <see cref="LdmName"/>; pass the config when none is
    /// beside it). F16/BF16 weights are widened to F32. Every tensor's shape is checked against the config; errors
    /// name the file and the tensor.
    /// </summary>
    public static UnetModel Load(IAccelerator acc, string path, UnetConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(acc);
        using var src = ModelSource.Open(path);
        var part = src.IsPipelineFolder
            ? src.Parts.FirstOrDefault(q => q.Component == "unet")
              ?? throw new InvalidDataException($"{path}: this pipeline folder has no unet/ component with safetensors weights")
            : src.Parts[0];
        string? configPath = part.ConfigPath;
        if (configPath is null && File.Exists(path))
        {
            string beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "config.json");
            if (File.Exists(beside)) configPath = beside;
        }
        var cfg = config ?? (configPath is not null ? UnetConfig.Load(configPath)
            : throw new InvalidDataException($"{part.WeightsPath}: no config.json beside the weights; give a UnetConfig (or a preset) explicitly"));
        var ck = part.Checkpoint;
        string file = part.WeightsPath;
        // Single-file (LDM) checkpoints: the UNet's tensors under model.diffusion_model. (other components beside it
        // are not ours to read), named by input_blocks/middle_block/output_blocks; each maps to one diffusers name.
        bool ldm = ck.TensorNames.Any(t => t.StartsWith(LdmPrefix, StringComparison.Ordinal));
        Func<string, string> stored = ldm ? d => LdmPrefix + LdmName(cfg, d) : d => d;

        var expected = ParameterShapes(cfg);
        var known = new HashSet<string>(expected.Select(e => stored(e.Name)), StringComparer.Ordinal);
        var extra = ck.TensorNames.Where(t => (!ldm || t.StartsWith(LdmPrefix, StringComparison.Ordinal)) && !known.Contains(t)).ToList();
        if (extra.Count > 0)
            throw new InvalidDataException(
                $"{file}: {extra.Count} tensor(s) the config ({cfg.Source}) does not describe, e.g. '{string.Join("', '", extra.Take(3))}' — weights and config.json do not belong together");
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, shape) in expected)
            {
                string sn = stored(name);
                string what = ldm ? $"'{sn}' (diffusers '{name}')" : $"'{name}'";
                if (!ck.Contains(sn))
                    throw new InvalidDataException($"{file}: tensor {what} is missing (the config {cfg.Source} needs it, shape {Tensor.FormatShape(shape)})");
                var info = ck.Info(sn);
                // LDM checkpoints store SD1's proj_in/out as [C,C,1,1] convs and SD2/XL's as [C,C] linears, like diffusers.
                if (!info.Shape.AsSpan().SequenceEqual(shape))
                    throw new InvalidDataException(
                        $"{file}: tensor {what} has shape {info.ShapeString} but the config ({cfg.Source}) expects {Tensor.FormatShape(shape)}");
                weights[name] = acc.FromArray(ck.ReadFloats(sn), shape);
            }
        }
        catch
        {
            foreach (var w in weights.Values) w.Dispose();
            throw;
        }
        return new UnetModel(acc, cfg, weights);
    }

    /// <summary>Where a single-file (LDM / original Stable Diffusion) checkpoint keeps the UNet.</summary>
    public const string LdmPrefix = "model.diffusion_model.";

    /// <summary>
    /// The LDM name (without <see cref="LdmPrefix"/>) of a diffusers UNet parameter: conv_in = input_blocks.0.0, then
    /// input_blocks.k for k = 1 + level·(layers+1) + j (.0 the resnet, .1 the attention; j = layers: .0.op the
    /// downsampler), middle_block.0/1/2, output_blocks.k for k = up_level·(layers+1) + j (.0 resnet, .1 attention, the
    /// upsampler after them: .1.conv or .2.conv), out.0/out.2, time_embed.0/2, SDXL's label_emb.0.0/2. Inside a resnet
    /// in_layers.0/2 = norm1/conv1, emb_layers.1 = time_emb_proj, out_layers.0/3 = norm2/conv2, skip_connection =
    /// conv_shortcut; attentions keep diffusers' names.
    /// </summary>
    public static string LdmName(UnetConfig c, string name)
    {
        static string Resnet(string rest) => rest
            .Replace("norm1.", "in_layers.0.").Replace("conv1.", "in_layers.2.").Replace("time_emb_proj.", "emb_layers.1.")
            .Replace("norm2.", "out_layers.0.").Replace("conv2.", "out_layers.3.").Replace("conv_shortcut.", "skip_connection.");
        string[] p = name.Split('.');
        string Tail(int from) => string.Join('.', p[from..]);
        int per = c.LayersPerBlock + 1;
        switch (p[0])
        {
            case "conv_in": return "input_blocks.0.0." + Tail(1);
            case "time_embedding": return (p[1] == "linear_1" ? "time_embed.0." : "time_embed.2.") + Tail(2);
            case "add_embedding": return (p[1] == "linear_1" ? "label_emb.0.0." : "label_emb.0.2.") + Tail(2);
            case "conv_norm_out": return "out.0." + Tail(1);
            case "conv_out": return "out.2." + Tail(1);
            case "down_blocks":
            {
                int i = int.Parse(p[1]);
                if (p[2] == "downsamplers") return $"input_blocks.{1 + i * per + c.LayersPerBlock}.0.op.{Tail(5)}";
                int k = 1 + i * per + int.Parse(p[3]);
                return p[2] == "resnets" ? $"input_blocks.{k}.0.{Resnet(Tail(4))}" : $"input_blocks.{k}.1.{Tail(4)}";
            }
            case "mid_block":
                return p[1] == "attentions" ? $"middle_block.1.{Tail(3)}" : $"middle_block.{(p[2] == "0" ? 0 : 2)}.{Resnet(Tail(3))}";
            case "up_blocks":
            {
                int i = int.Parse(p[1]);
                bool attn = c.UpBlockTypes[i] == UnetConfig.CrossAttnUp;
                if (p[2] == "upsamplers") return $"output_blocks.{i * per + c.LayersPerBlock}.{(attn ? 2 : 1)}.conv.{Tail(5)}";
                int k = i * per + int.Parse(p[3]);
                return p[2] == "resnets" ? $"output_blocks.{k}.0.{Resnet(Tail(4))}" : $"output_blocks.{k}.1.{Tail(4)}";
            }
            default: throw new ArgumentException($"'{name}' is not a UNet2DConditionModel parameter name");
        }
    }

    /// <summary>
    /// Deterministic random weights on the accelerator (Philox, one stream per tensor): weights ~ N(0, 1/fan_in), norm
    /// scales 1, biases 0. Cost and speed do not depend on the values; the output is only a smoke signal.
    /// </summary>
    public static UnetModel Random(IAccelerator acc, UnetConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(config);
        var weights = RandomWeights.Create(acc, ParameterShapes(config), seed);
        return new UnetModel(acc, config, weights);
    }

    private Tensor W(string name) =>
        _weights.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"UNet weight '{name}' is not loaded");

    private Tensor? B(string name) => _weights.GetValueOrDefault(name);

    // ------------------------------------------------------------------ forward

    /// <summary>
    /// One UNet evaluation: <paramref name="sample"/> [B,in,H,W] (H, W divisible by 2^(levels−1)), <paramref name="timesteps"/>
    /// [B] (float), <paramref name="encoderHiddenStates"/> [B,T,cross_attention_dim]; SDXL also <paramref name="textEmbeds"/>
    /// [B,P] and <paramref name="timeIds"/> [B,n] with P + n·addition_time_embed_dim = projection_class_embeddings_input_dim.
    /// Returns a new tensor [B,out,H,W] the caller owns. <paramref name="observe"/>, if given, sees the outputs of
    /// "time_embedding", "add_embedding", "conv_in", each "down_blocks.i", "mid_block" and each "up_blocks.i" (valid
    /// only during the call) — how tests compare against diffusers' intermediates.
    /// </summary>
    public Tensor Forward(Tensor sample, Tensor timesteps, Tensor encoderHiddenStates, Tensor? textEmbeds = null,
        Tensor? timeIds = null, Action<string, Tensor>? observe = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(timesteps);
        ArgumentNullException.ThrowIfNull(encoderHiddenStates);
        var c = Config;
        var acc = Accelerator;
        var L = acc.Ledger;
        int n = c.Levels, factor = 1 << (n - 1);
        if (sample.Rank != 4 || sample.Dim(1) != c.InChannels || sample.Dim(2) % factor != 0 || sample.Dim(3) % factor != 0)
            throw new ArgumentException($"unet: sample {sample.ShapeString} must be [B,{c.InChannels},H,W] with H and W divisible by {factor}");
        int batch = sample.Dim(0), h0 = sample.Dim(2), w0 = sample.Dim(3);
        if (timesteps.Rank != 1 || timesteps.Dim(0) != batch)
            throw new ArgumentException($"unet: timesteps {timesteps.ShapeString} must be [{batch}] for sample {sample.ShapeString}");
        if (encoderHiddenStates.Rank != 3 || encoderHiddenStates.Dim(0) != batch || encoderHiddenStates.Dim(2) != c.CrossAttentionDim)
            throw new ArgumentException($"unet: encoder_hidden_states {encoderHiddenStates.ShapeString} must be [{batch},T,{c.CrossAttentionDim}]");
        if (c.HasTextTimeEmbedding)
        {
            if (textEmbeds is null || timeIds is null)
                throw new ArgumentException("unet: this UNet has the text_time added embedding (SDXL): text_embeds and time_ids are required");
            if (textEmbeds.Rank != 2 || timeIds.Rank != 2 || textEmbeds.Dim(0) != batch || timeIds.Dim(0) != batch
                || textEmbeds.Dim(1) + timeIds.Dim(1) * c.AdditionTimeEmbedDim != c.ProjectionClassEmbeddingsInputDim)
                throw new ArgumentException(
                    $"unet: text_embeds {textEmbeds.ShapeString} and time_ids {timeIds.ShapeString} must be [{batch},P] and [{batch},n] with P + n·{c.AdditionTimeEmbedDim} = {c.ProjectionClassEmbeddingsInputDim}");
        }

        Tensor embAct = TimeEmbedding(timesteps, textEmbeds, timeIds, observe);
        var skips = new Stack<Tensor>();
        Tensor? h = null;
        try
        {
            h = acc.Allocate(batch, c.BlockOutChannels[0], h0, w0);
            using (L.Scope("conv_in")) Ops.Conv2d(acc, sample, W("conv_in.weight"), B("conv_in.bias"), h, 1, 1);
            observe?.Invoke("conv_in", h);
            skips.Push(h);

            for (int i = 0; i < n; i++)
            {
                string pre = $"down_blocks.{i}";
                using (L.Scope(pre))
                {
                    bool attn = c.DownBlockTypes[i] == UnetConfig.CrossAttnDown;
                    for (int j = 0; j < c.LayersPerBlock; j++)
                    {
                        // h is on the skip stack: the resnet reads it and makes a new tensor.
                        h = Resnet($"{pre}.resnets.{j}", h, embAct, $"resnets.{j}");
                        if (attn) Transformer($"{pre}.attentions.{j}", h, encoderHiddenStates, c.HeadsPerBlock[i], c.TransformerLayersPerBlock[i], $"attentions.{j}");
                        skips.Push(h);
                    }
                    if (i < n - 1)
                    {
                        var d = acc.Allocate(batch, h.Dim(1), h.Dim(2) / 2, h.Dim(3) / 2);
                        using (L.Scope("downsamplers.0"))
                            Ops.Conv2d(acc, h, W($"{pre}.downsamplers.0.conv.weight"), B($"{pre}.downsamplers.0.conv.bias"), d, stride: 2, padding: 1);
                        h = d;
                        skips.Push(h);
                    }
                }
                observe?.Invoke(pre, h);
            }

            using (L.Scope("mid_block"))
            {
                var r = Resnet("mid_block.resnets.0", h, embAct, "resnets.0");
                h = r; // the down path's last output stays on the skip stack
                Transformer("mid_block.attentions.0", h, encoderHiddenStates, c.HeadsPerBlock[^1], c.TransformerLayersPerBlock[^1], "attentions.0");
                var r2 = Resnet("mid_block.resnets.1", h, embAct, "resnets.1");
                h.Dispose();
                h = r2;
            }
            observe?.Invoke("mid_block", h);

            for (int i = 0; i < n; i++)
            {
                string pre = $"up_blocks.{i}";
                int lvl = n - 1 - i;
                using (L.Scope(pre))
                {
                    bool attn = c.UpBlockTypes[i] == UnetConfig.CrossAttnUp;
                    for (int j = 0; j <= c.LayersPerBlock; j++)
                    {
                        var skip = skips.Pop();
                        Tensor cat;
                        try
                        {
                            cat = acc.Allocate(batch, h.Dim(1) + skip.Dim(1), h.Dim(2), h.Dim(3));
                            using (L.Scope($"resnets.{j}")) Ops.ConcatChannels(acc, h, skip, cat);
                        }
                        finally { skip.Dispose(); }
                        h.Dispose();
                        h = cat;
                        var r = Resnet($"{pre}.resnets.{j}", cat, embAct, $"resnets.{j}");
                        cat.Dispose();
                        h = r;
                        if (attn) Transformer($"{pre}.attentions.{j}", h, encoderHiddenStates, c.HeadsPerBlock[lvl], c.TransformerLayersPerBlock[lvl], $"attentions.{j}");
                    }
                    if (i < n - 1)
                    {
                        using (L.Scope("upsamplers.0"))
                        {
                            var u = acc.Allocate(batch, h.Dim(1), h.Dim(2) * 2, h.Dim(3) * 2);
                            Ops.Upsample2xNearest(acc, h, u);
                            h.Dispose();
                            h = u;
                            var o = acc.Allocate(u.Shape.ToArray());
                            Ops.Conv2d(acc, u, W($"{pre}.upsamplers.0.conv.weight"), B($"{pre}.upsamplers.0.conv.bias"), o, 1, 1);
                            u.Dispose();
                            h = o;
                        }
                    }
                }
                observe?.Invoke(pre, h);
            }

            using (L.Scope("conv_norm_out"))
                Ops.GroupNorm(acc, h, c.NormNumGroups, W("conv_norm_out.weight"), B("conv_norm_out.bias"), h, c.NormEps, fuseSilu: true);
            var output = acc.Allocate(batch, c.OutChannels, h0, w0);
            using (L.Scope("conv_out")) Ops.Conv2d(acc, h, W("conv_out.weight"), B("conv_out.bias"), output, 1, 1);
            return output;
        }
        finally
        {
            h?.Dispose();
            while (skips.Count > 0) skips.Pop().Dispose();
            embAct.Dispose();
        }
    }

    /// <summary>time_proj → time_embedding (Linear, SiLU, Linear) [+ SDXL's add_embedding], then the SiLU every
    /// resnet's time_emb_proj applies to it (diffusers repeats it per resnet; the value is the same, so once here).</summary>
    private Tensor TimeEmbedding(Tensor timesteps, Tensor? textEmbeds, Tensor? timeIds, Action<string, Tensor>? observe)
    {
        var acc = Accelerator;
        var L = acc.Ledger;
        var c = Config;
        int batch = timesteps.Dim(0), t = c.TimeEmbedDim, c0 = c.BlockOutChannels[0];
        var emb = acc.Allocate(batch, t);
        try
        {
            using (var proj = acc.Allocate(batch, c0))
            {
                using (L.Scope("time_proj")) Ops.TimestepEmbedding(acc, timesteps, proj, c.FlipSinToCos, c.FreqShift);
                using (L.Scope("time_embedding")) Mlp("time_embedding", proj, emb);
            }
            observe?.Invoke("time_embedding", emb);
            if (c.HasTextTimeEmbedding)
            {
                int ids = timeIds!.Dim(1), d = c.AdditionTimeEmbedDim;
                using var tproj = acc.Allocate(batch * ids, d);
                using (L.Scope("add_time_proj"))
                    Ops.TimestepEmbedding(acc, timeIds.Reshape(batch * ids), tproj, c.FlipSinToCos, c.FreqShift);
                using var addIn = acc.Allocate(batch, c.ProjectionClassEmbeddingsInputDim);
                using var aug = acc.Allocate(batch, t);
                using (L.Scope("add_embedding"))
                {
                    Ops.ConcatChannels(acc, textEmbeds!, tproj.Reshape(batch, ids * d), addIn);
                    Mlp("add_embedding", addIn, aug);
                }
                observe?.Invoke("add_embedding", aug);
                using (L.Scope("time_embedding")) Ops.Add(acc, emb, aug, emb);
            }
            using (L.Scope("time_embedding")) Ops.Silu(acc, emb, emb);
            return emb;
        }
        catch
        {
            emb.Dispose();
            throw;
        }
    }

    /// <summary>diffusers' TimestepEmbedding: linear_1 → SiLU → linear_2.</summary>
    private void Mlp(string pre, Tensor x, Tensor y)
    {
        var acc = Accelerator;
        using var hid = acc.Allocate(x.Dim(0), W($"{pre}.linear_1.weight").Dim(0));
        Ops.Linear(acc, x, W($"{pre}.linear_1.weight"), B($"{pre}.linear_1.bias"), hid);
        Ops.Silu(acc, hid, hid);
        Ops.Linear(acc, hid, W($"{pre}.linear_2.weight"), B($"{pre}.linear_2.bias"), y);
    }

    /// <summary>ResnetBlock2D: norm1+SiLU → conv1 → + time_emb_proj(SiLU(temb)) per channel → norm2+SiLU → conv2 →
    /// + shortcut (1×1 conv when the channel count changes). Returns a new tensor; x is left to the caller.</summary>
    private Tensor Resnet(string pre, Tensor x, Tensor embAct, string scope)
    {
        var acc = Accelerator;
        var c = Config;
        using var _ = acc.Ledger.Scope(scope);
        int batch = x.Dim(0), hh = x.Dim(2), ww = x.Dim(3);
        var conv1 = W($"{pre}.conv1.weight");
        int cout = conv1.Dim(0);
        var h = acc.Allocate(batch, cout, hh, ww);
        var o = acc.Allocate(batch, cout, hh, ww);
        try
        {
            using (var n1 = acc.Allocate(x.Shape.ToArray()))
            {
                Ops.GroupNorm(acc, x, c.NormNumGroups, W($"{pre}.norm1.weight"), B($"{pre}.norm1.bias"), n1, c.NormEps, fuseSilu: true);
                Ops.Conv2d(acc, n1, conv1, B($"{pre}.conv1.bias"), h, 1, 1);
            }
            using (var tp = acc.Allocate(batch, cout))
            {
                Ops.Linear(acc, embAct, W($"{pre}.time_emb_proj.weight"), B($"{pre}.time_emb_proj.bias"), tp);
                Ops.AddChannelBias(acc, h, tp, h);
            }
            Ops.GroupNorm(acc, h, c.NormNumGroups, W($"{pre}.norm2.weight"), B($"{pre}.norm2.bias"), h, c.NormEps, fuseSilu: true);
            Ops.Conv2d(acc, h, W($"{pre}.conv2.weight"), B($"{pre}.conv2.bias"), o, 1, 1);
            if (_weights.ContainsKey($"{pre}.conv_shortcut.weight"))
            {
                // h is dead after conv2: it holds the shortcut's output.
                Ops.Conv2d(acc, x, W($"{pre}.conv_shortcut.weight"), B($"{pre}.conv_shortcut.bias"), h);
                Ops.Add(acc, o, h, o);
            }
            else Ops.Add(acc, o, x, o);
            return o;
        }
        catch
        {
            o.Dispose();
            throw;
        }
        finally
        {
            h.Dispose();
        }
    }

    /// <summary>
    /// Transformer2DModel, in place on x [B,C,H,W]: GroupNorm (eps 1e-6) → proj_in → transformer blocks on [B,HW,C] →
    /// proj_out → + x. Layout: proj_in runs as a 1×1 convolution in NCHW for both the SD1 conv and the SD2/XL linear
    /// projection (a linear over C at every pixel is exactly a 1×1 convolution: same FLOPs, the [C,C] weight viewed as
    /// [C,C,1,1]); one Ops.Copy of a transposed view then makes [B,HW,C] — a memory-bound launch with no arithmetic,
    /// cheaper than a transposing GEMM against an identity, which would add FLOPs to the ledger. proj_out mirrors it.
    /// </summary>
    private void Transformer(string pre, Tensor x, Tensor context, int heads, int depth, string scope)
    {
        var acc = Accelerator;
        using var _ = acc.Ledger.Scope(scope);
        int batch = x.Dim(0), ch = x.Dim(1), hh = x.Dim(2), ww = x.Dim(3), len = hh * ww;
        Tensor ProjWeight(string name)
        {
            var w = W(name);
            return w.Rank == 2 ? w.Reshape(w.Dim(0), w.Dim(1), 1, 1) : w;
        }
        var hs = acc.Allocate(batch, len, ch);
        try
        {
            using (var nrm = acc.Allocate(batch, ch, hh, ww))
            using (var p = acc.Allocate(batch, ch, hh, ww))
            {
                Ops.GroupNorm(acc, x, Config.NormNumGroups, W($"{pre}.norm.weight"), B($"{pre}.norm.bias"), nrm, TransformerGroupNormEps);
                Ops.Conv2d(acc, nrm, ProjWeight($"{pre}.proj_in.weight"), B($"{pre}.proj_in.bias"), p);
                Ops.Copy(acc, p.Reshape(batch, ch, len).Transpose(1, 2), hs);
            }
            for (int k = 0; k < depth; k++)
                using (acc.Ledger.Scope($"transformer_blocks.{k}"))
                    Block($"{pre}.transformer_blocks.{k}", hs, context, heads);
            using var back = acc.Allocate(batch, ch, hh, ww);
            using var po = acc.Allocate(batch, ch, hh, ww);
            Ops.Copy(acc, hs.Transpose(1, 2), back.Reshape(batch, ch, len));
            Ops.Conv2d(acc, back, ProjWeight($"{pre}.proj_out.weight"), B($"{pre}.proj_out.bias"), po);
            Ops.Add(acc, x, po, x);
        }
        finally
        {
            hs.Dispose();
        }
    }

    /// <summary>BasicTransformerBlock, in place on hs [B,L,C]: LayerNorm → self-attention → +; LayerNorm →
    /// cross-attention on the context → +; LayerNorm → GEGLU feed-forward (C → 8C → GEGLU 4C → C) → +.</summary>
    private void Block(string pre, Tensor hs, Tensor context, int heads)
    {
        var acc = Accelerator;
        int batch = hs.Dim(0), len = hs.Dim(1), ch = hs.Dim(2);
        using var nrm = acc.Allocate(batch, len, ch);
        using var tmp = acc.Allocate(batch, len, ch);

        using (acc.Ledger.Scope("attn1"))
        {
            Ops.LayerNorm(acc, hs, W($"{pre}.norm1.weight"), B($"{pre}.norm1.bias"), nrm, LayerNormEps);
            Attend($"{pre}.attn1", nrm, nrm, heads, tmp);
            Ops.Add(acc, hs, tmp, hs);
        }
        using (acc.Ledger.Scope("attn2"))
        {
            Ops.LayerNorm(acc, hs, W($"{pre}.norm2.weight"), B($"{pre}.norm2.bias"), nrm, LayerNormEps);
            Attend($"{pre}.attn2", nrm, context, heads, tmp);
            Ops.Add(acc, hs, tmp, hs);
        }
        using (acc.Ledger.Scope("ff"))
        {
            Ops.LayerNorm(acc, hs, W($"{pre}.norm3.weight"), B($"{pre}.norm3.bias"), nrm, LayerNormEps);
            var w0 = W($"{pre}.ff.net.0.proj.weight");
            using (var proj = acc.Allocate(batch, len, w0.Dim(0)))
            using (var gated = acc.Allocate(batch, len, w0.Dim(0) / 2))
            {
                Ops.Linear(acc, nrm, w0, B($"{pre}.ff.net.0.proj.bias"), proj);
                Ops.Geglu(acc, proj, gated);
                proj.Dispose();
                Ops.Linear(acc, gated, W($"{pre}.ff.net.2.weight"), B($"{pre}.ff.net.2.bias"), tmp);
            }
            Ops.Add(acc, hs, tmp, hs);
        }
    }

    /// <summary>diffusers Attention: q from x, k and v from the context (x itself for self-attention), no biases;
    /// multi-head SDPA on [B,L,heads·D]; to_out.0 with bias into y.</summary>
    private void Attend(string pre, Tensor x, Tensor ctx, int heads, Tensor y)
    {
        var acc = Accelerator;
        int batch = x.Dim(0), len = x.Dim(1), ch = x.Dim(2), lk = ctx.Dim(1);
        using var q = acc.Allocate(batch, len, ch);
        using var k = acc.Allocate(batch, lk, ch);
        using var v = acc.Allocate(batch, lk, ch);
        using var o = acc.Allocate(batch, len, ch);
        Ops.Linear(acc, x, W($"{pre}.to_q.weight"), null, q);
        Ops.Linear(acc, ctx, W($"{pre}.to_k.weight"), null, k);
        Ops.Linear(acc, ctx, W($"{pre}.to_v.weight"), null, v);
        Ops.Attention(acc, q, k, v, o, heads);
        Ops.Linear(acc, o, W($"{pre}.to_out.0.weight"), B($"{pre}.to_out.0.bias"), y);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var w in _weights.Values) w.Dispose();
        _weights.Clear();
    }
}
