using PixelCost.Kernels;
using PixelCost.Runtime.Safetensors;

namespace PixelCost.Runtime.Models.TextEncoder;

/// <summary>What one text-encoder pass returns; the caller owns (and disposes) every tensor.</summary>
public sealed class ClipTextOutput : IDisposable
{
    internal ClipTextOutput(Tensor last, Tensor penultimate, Tensor pooled, Tensor? textEmbeds)
    {
        LastHiddenState = last;
        PenultimateHiddenState = penultimate;
        Pooled = pooled;
        TextEmbeds = textEmbeds;
    }

    /// <summary>[B,T,D]: the last layer's output after final_layer_norm (SD 1.x and 2.x condition on it).</summary>
    public Tensor LastHiddenState { get; }

    /// <summary>[B,T,D]: the second-to-last layer's output, no final norm — transformers' hidden_states[-2] (SDXL).</summary>
    public Tensor PenultimateHiddenState { get; }

    /// <summary>[B,D]: LastHiddenState at each prompt's first &lt;|endoftext|&gt;.</summary>
    public Tensor Pooled { get; }

    /// <summary>[B,P]: Pooled·text_projectionᵀ (CLIPTextModelWithProjection only).</summary>
    public Tensor? TextEmbeds { get; }

    public void Dispose()
    {
        LastHiddenState.Dispose();
        PenultimateHiddenState.Dispose();
        Pooled.Dispose();
        TextEmbeds?.Dispose();
    }
}

/// <summary>
/// transformers' <c>CLIPTextModel</c> / <c>CLIPTextModelWithProjection</c> with its weights on one accelerator and the
/// forward pass composed only of <see cref="Ops"/> calls (cpu, ilgpu-cpu, cuda, meta): token + position embeddings (one
/// fused <c>embedding</c> launch); per layer x += out_proj(causal attention(layer_norm1(x))) and
/// x += fc2(act(fc1(layer_norm2(x)))); final_layer_norm; pooled = the final-normed state at the first
/// &lt;|endoftext|&gt; (gathered on the device by the embedding op over the [B·T, D] rows); text_embeds =
/// pooled·text_projectionᵀ. Weights are named as transformers names them (<see cref="ClipTextConfig.ParameterShapes"/>).
/// </summary>
public sealed class ClipTextModel : IDisposable
{
    private readonly Dictionary<string, Tensor> _weights;
    private bool _disposed;

    private ClipTextModel(IAccelerator acc, ClipTextConfig config, Dictionary<string, Tensor> weights, string component)
    {
        Accelerator = acc;
        Config = config;
        _weights = weights;
        Component = component;
    }

    public IAccelerator Accelerator { get; }
    public ClipTextConfig Config { get; }

    /// <summary>The weights by transformers name (text_model.encoder.layers.0.self_attn.q_proj.weight, …).</summary>
    public IReadOnlyDictionary<string, Tensor> Weights => _weights;

    /// <summary>The pipeline component ("text_encoder", "text_encoder_2"): the ledger scope every launch runs under.</summary>
    public string Component { get; set; }

    public long ParameterCount => _weights.Values.Sum(t => t.Length);

    public long WeightBytes => _weights.Values.Sum(t => t.Bytes);

    // ------------------------------------------------------------------ loading

    /// <summary>How a checkpoint names the text encoder: a prefix and transformers (HF) or OpenCLIP names.</summary>
    private sealed record Naming(string Prefix, bool OpenClip, bool DropLastLayer)
    {
        public string KeyTensor => Prefix + (OpenClip ? "token_embedding.weight" : "text_model.embeddings.token_embedding.weight");
        public string Describe => (OpenClip ? "OpenCLIP" : "transformers") + " names" + (Prefix.Length > 0 ? $" under '{Prefix}'" : "");
    }

    /// <summary>Where each component's text encoder lives, best first: transformers names (a text_encoder/ folder),
    /// SD 1.x single files, SDXL's first embedder; OpenCLIP under SD 2.x's cond_stage_model.model. (whose diffusers
    /// conversion drops the last resblock: the penultimate layer is baked in) or SDXL's second embedder.</summary>
    private static Naming[] Candidates(string component) => component == "text_encoder_2"
        ? [new("conditioner.embedders.1.model.", true, false), new("", false, false), new("", true, false)]
        : [new("", false, false), new("cond_stage_model.transformer.", false, false), new("conditioner.embedders.0.transformer.", false, false),
           new("cond_stage_model.model.", true, true), new("", true, false)];

    /// <summary>
    /// Loads a text encoder: a pipeline folder (its <paramref name="component"/>/ — text_encoder or text_encoder_2), a
    /// component folder (config.json + model.safetensors) or a .safetensors file — transformers names, or a single-file
    /// checkpoint: SD 1.x <c>cond_stage_model.transformer.text_model.…</c>, SDXL <c>conditioner.embedders.0.transformer.…</c>
    /// (text_encoder) and OpenCLIP names under SD 2.x's <c>cond_stage_model.model.</c> or SDXL's
    /// <c>conditioner.embedders.1.model.</c> (text_encoder_2): <c>transformer.resblocks.N.attn.in_proj_weight</c> [3D,D]
    /// split into q/k/v, ln_1/ln_2/mlp.c_fc/mlp.c_proj, token_embedding, positional_embedding, ln_final and
    /// text_projection [D,P] (transposed). Without a config (argument or config.json beside the weights) the shape is
    /// read from the tensors (heads = width/64, CLIP's head size; OpenCLIP → gelu, transformers names → quick_gelu;
    /// SD 2.x's OpenCLIP drops its last layer, as diffusers' conversion does). F16/BF16 are widened. Every tensor's
    /// shape is checked; errors name the file and the tensor. On the meta accelerator only shapes are read.
    /// </summary>
    public static ClipTextModel Load(IAccelerator acc, string path, string component = "text_encoder", ClipTextConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(acc);
        if (component is not ("text_encoder" or "text_encoder_2"))
            throw new ArgumentException($"text encoder component must be text_encoder or text_encoder_2, not '{component}'");
        using var src = ModelSource.Open(path);
        var part = src.IsPipelineFolder
            ? src.Parts.FirstOrDefault(q => q.Component == component)
              ?? throw new InvalidDataException($"{path}: this pipeline folder has no {component}/ component with safetensors weights")
            : src.Parts[0];
        var ck = part.Checkpoint;
        string file = part.WeightsPath;
        var naming = Candidates(component).FirstOrDefault(n => ck.Contains(n.KeyTensor))
            ?? throw new InvalidDataException(
                $"{file}: no CLIP text encoder for {component} found (looked for {string.Join(", ", Candidates(component).Select(n => $"'{n.KeyTensor}'").Distinct())})");
        string? configPath = part.ConfigPath;
        if (configPath is null && File.Exists(path))
        {
            string beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "config.json");
            if (File.Exists(beside)) configPath = beside;
        }
        // A single file's config.json (if any) describes the pipeline or another component: only a component's own is read.
        bool ownConfig = configPath is not null && naming.Prefix.Length == 0;
        var cfg = config ?? (ownConfig ? ClipTextConfig.Load(configPath!) : InferConfig(ck, naming, file));

        var expected = ClipTextConfig.ParameterShapes(cfg);
        if (!naming.OpenClip && naming.Prefix.Length == 0)
        {
            // transformers keeps a position_ids buffer in some files; anything else the config does not describe is a mismatch.
            var known = new HashSet<string>(expected.Select(e => e.Name), StringComparer.Ordinal) { "text_model.embeddings.position_ids" };
            var extra = ck.TensorNames.Where(t => !known.Contains(t)).ToList();
            if (extra.Count > 0)
                throw new InvalidDataException(
                    $"{file}: {extra.Count} tensor(s) the config ({cfg.Source}) does not describe, e.g. '{string.Join("', '", extra.Take(3))}' — weights and config do not belong together");
        }
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, shape) in expected)
            {
                var (stored, storedShape, read) = Locate(naming, name, shape, cfg.HiddenSize);
                string what = stored == name ? $"'{name}'" : $"'{stored}' (transformers '{name}')";
                if (!ck.Contains(stored))
                    throw new InvalidDataException($"{file}: tensor {what} is missing (the config {cfg.Source} needs it, shape {Tensor.FormatShape(storedShape)})");
                var info = ck.Info(stored);
                if (!info.Shape.AsSpan().SequenceEqual(storedShape))
                    throw new InvalidDataException(
                        $"{file}: tensor {what} has shape {info.ShapeString} but the config ({cfg.Source}) expects {Tensor.FormatShape(storedShape)}");
                var t = acc.Allocate(shape);
                weights[name] = t;
                if (!t.IsMeta) acc.Upload<float>(t, read(ck.ReadFloats(stored)));
            }
        }
        catch
        {
            foreach (var w in weights.Values) w.Dispose();
            throw;
        }
        return new ClipTextModel(acc, cfg, weights, component);
    }

    /// <summary>The stored name and shape of a transformers parameter under a naming, and how its data becomes ours.</summary>
    private static (string Stored, int[] Shape, Func<float[], float[]> Read) Locate(Naming n, string name, int[] shape, int d)
    {
        static float[] Same(float[] x) => x;
        if (!n.OpenClip) return (n.Prefix + name, shape, Same);
        string p = n.Prefix;
        if (name == "text_model.embeddings.token_embedding.weight") return (p + "token_embedding.weight", shape, Same);
        if (name == "text_model.embeddings.position_embedding.weight") return (p + "positional_embedding", shape, Same);
        if (name.StartsWith("text_model.final_layer_norm.", StringComparison.Ordinal)) return (p + "ln_final." + name[^(name.EndsWith("weight") ? 6 : 4)..], shape, Same);
        if (name == "text_projection.weight")
        {
            int pd = shape[0];
            // OpenCLIP multiplies x @ text_projection ([D,P]); transformers' Linear holds its transpose [P,D].
            return (p + "text_projection", [d, pd], x =>
            {
                var y = new float[x.Length];
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < pd; j++) y[j * d + i] = x[i * pd + j];
                return y;
            });
        }
        // text_model.encoder.layers.{i}.{rest}
        string[] parts = name.Split('.');
        string layer = parts[3], rest = string.Join('.', parts[4..]);
        string blk = $"{p}transformer.resblocks.{layer}.";
        string kind = parts[^1];   // weight | bias
        switch (rest)
        {
            case "self_attn.q_proj.weight" or "self_attn.k_proj.weight" or "self_attn.v_proj.weight"
                or "self_attn.q_proj.bias" or "self_attn.k_proj.bias" or "self_attn.v_proj.bias":
            {
                // in_proj_weight [3D, D] / in_proj_bias [3D] stack q, k, v along the rows.
                int j = rest[10] switch { 'q' => 0, 'k' => 1, _ => 2 };
                long per = kind == "weight" ? (long)d * d : d;
                return (blk + "attn.in_proj_" + kind, kind == "weight" ? [3 * d, d] : [3 * d], x => x.AsSpan((int)(j * per), (int)per).ToArray());
            }
            case "self_attn.out_proj.weight" or "self_attn.out_proj.bias": return (blk + "attn.out_proj." + kind, shape, Same);
            case "layer_norm1.weight" or "layer_norm1.bias": return (blk + "ln_1." + kind, shape, Same);
            case "layer_norm2.weight" or "layer_norm2.bias": return (blk + "ln_2." + kind, shape, Same);
            case "mlp.fc1.weight" or "mlp.fc1.bias": return (blk + "mlp.c_fc." + kind, shape, Same);
            case "mlp.fc2.weight" or "mlp.fc2.bias": return (blk + "mlp.c_proj." + kind, shape, Same);
            default: throw new ArgumentException($"'{name}' is not a CLIP text model parameter name");
        }
    }

    /// <summary>The config from the tensors themselves (a single-file checkpoint carries none).</summary>
    private static ClipTextConfig InferConfig(SafetensorsCheckpoint ck, Naming n, string file)
    {
        var tok = ck.Info(n.KeyTensor);
        string posName = n.Prefix + (n.OpenClip ? "positional_embedding" : "text_model.embeddings.position_embedding.weight");
        if (!ck.Contains(posName)) throw new InvalidDataException($"{file}: tensor '{posName}' is missing");
        if (tok.Shape.Length != 2) throw new InvalidDataException($"{file}: tensor '{n.KeyTensor}' has shape {tok.ShapeString}, not [V,D]");
        int vocab = tok.Shape[0], d = tok.Shape[1], positions = ck.Info(posName).Shape[0];
        string layerPrefix = n.Prefix + (n.OpenClip ? "transformer.resblocks." : "text_model.encoder.layers.");
        int layers = 0;
        while (ck.Contains($"{layerPrefix}{layers}.{(n.OpenClip ? "mlp.c_fc.weight" : "mlp.fc1.weight")}")) layers++;
        if (layers == 0) throw new InvalidDataException($"{file}: no text encoder layers under '{layerPrefix}'");
        int mlp = ck.Info($"{layerPrefix}0.{(n.OpenClip ? "mlp.c_fc.weight" : "mlp.fc1.weight")}").Shape[0];
        if (n.DropLastLayer) layers--;
        int? proj = null;
        if (n.OpenClip && !n.DropLastLayer && ck.Contains(n.Prefix + "text_projection")) proj = ck.Info(n.Prefix + "text_projection").Shape[1];
        if (!n.OpenClip && n.Prefix.Length == 0 && ck.Contains("text_projection.weight")) proj = ck.Info("text_projection.weight").Shape[0];
        if (d % 64 != 0) throw new InvalidDataException($"{file}: width {d} is not a multiple of CLIP's head size 64; give the config (config.json) explicitly");
        return new ClipTextConfig(vocab, positions, d, layers, d / 64, mlp, n.OpenClip ? "gelu" : "quick_gelu", ProjectionDim: proj)
        {
            Source = $"{file} ({n.Describe}, shapes read from the tensors)",
        };
    }

    /// <summary>
    /// Deterministic random weights (Philox, one stream per tensor, the same numbers on every accelerator): matrices
    /// and embeddings ~ N(0, 1/fan_in), layer-norm scales 1, biases 0. Cost and speed do not depend on the values.
    /// </summary>
    public static ClipTextModel Random(IAccelerator acc, ClipTextConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(config);
        var weights = RandomWeights.Create(acc, ClipTextConfig.ParameterShapes(config), seed);
        return new ClipTextModel(acc, config, weights, "text_encoder");
    }

    private Tensor W(string name) =>
        _weights.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"text encoder weight '{name}' is not loaded");

    // ------------------------------------------------------------------ forward

    /// <summary>
    /// One pass over <paramref name="inputIds"/> [B,T] (I32, T ≤ max positions, ids in [0, vocab)). The pooled row of
    /// each prompt is chosen as transformers chooses it (<see cref="PooledToken"/>: the argmax id when eos_token_id is
    /// 2, the first eos otherwise; for CLIP prompts both find the first &lt;|endoftext|&gt;). The ids are read on the
    /// host for that (a small download); on the meta accelerator the pooled row is the last token (the cost does not
    /// depend on which). Every launch runs under the ledger scope <see cref="Component"/>.
    /// </summary>
    public ClipTextOutput Forward(Tensor inputIds)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(inputIds);
        var c = Config;
        var acc = Accelerator;
        if (inputIds.DType != DType.I32 || inputIds.Rank != 2 || inputIds.Dim(0) < 1 || inputIds.Dim(1) < 1 || inputIds.Dim(1) > c.MaxPositions)
            throw new ArgumentException($"text encoder: input_ids {inputIds.ShapeString} ({inputIds.DType}) must be I32 [B,T] with 1 ≤ T ≤ {c.MaxPositions}");
        int batch = inputIds.Dim(0), tokens = inputIds.Dim(1), d = c.HiddenSize;
        var pooledRows = new int[batch];
        if (inputIds.IsMeta) for (int b = 0; b < batch; b++) pooledRows[b] = b * tokens + tokens - 1;
        else
        {
            var ids = new int[inputIds.Length];
            acc.Download<int>(inputIds, ids);
            for (int i = 0; i < ids.Length; i++)
                if ((uint)ids[i] >= (uint)c.VocabSize)
                    throw new ArgumentException($"text encoder: input_ids[{i / tokens},{i % tokens}] = {ids[i]} is outside the vocabulary [0, {c.VocabSize})");
            for (int b = 0; b < batch; b++) pooledRows[b] = b * tokens + PooledToken(ids.AsSpan(b * tokens, tokens), c.EosTokenId);
        }

        var L = acc.Ledger;
        using var scope = L.Scope(Component);
        Tensor? x = null, penultimate = null, last = null, pooled = null, textEmbeds = null;
        try
        {
            x = acc.Allocate(batch, tokens, d);
            using (L.Scope("embeddings"))
                Ops.Embedding(acc, inputIds, W("text_model.embeddings.token_embedding.weight"), W("text_model.embeddings.position_embedding.weight"), x);
            if (c.Layers == 1) penultimate = Ops.Contiguous(acc, x);   // hidden_states[-2] is then the embeddings
            for (int i = 0; i < c.Layers; i++)
            {
                using (L.Scope($"encoder.layers.{i}")) Layer($"text_model.encoder.layers.{i}.", x);
                if (i == c.Layers - 2) penultimate = Ops.Contiguous(acc, x);
            }
            last = acc.Allocate(batch, tokens, d);
            using (L.Scope("final_layer_norm"))
                Ops.LayerNorm(acc, x, W("text_model.final_layer_norm.weight"), W("text_model.final_layer_norm.bias"), last, c.LayerNormEps);
            x.Dispose();
            x = null;

            pooled = acc.Allocate(batch, d);
            using (L.Scope("pooled"))
            using (var rows = acc.Allocate(DType.I32, 1, batch))
            {
                if (!rows.IsMeta) acc.Upload<int>(rows, pooledRows);
                using var y = pooled.Reshape(1, batch, d);
                using var table = last.Reshape(batch * tokens, d);
                Ops.Embedding(acc, rows, table, null, y);
            }
            if (c.ProjectionDim is int pd)
            {
                textEmbeds = acc.Allocate(batch, pd);
                using (L.Scope("text_projection")) Ops.Linear(acc, pooled, W("text_projection.weight"), null, textEmbeds);
            }
            return new ClipTextOutput(last, penultimate!, pooled, textEmbeds);
        }
        catch
        {
            x?.Dispose(); penultimate?.Dispose(); last?.Dispose(); pooled?.Dispose(); textEmbeds?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// transformers' pooled position: with the legacy eos_token_id 2 (SD 1.x's config.json still says 2) the argmax
    /// id — CLIP's &lt;|endoftext|&gt; 49407 is the largest id, so its first occurrence; otherwise the first eos id
    /// (position 0 when there is none, as argmax over all-false gives). torch's argmax returns the first maximum.
    /// </summary>
    internal static int PooledToken(ReadOnlySpan<int> ids, int eosTokenId)
    {
        int best = 0;
        if (eosTokenId == 2)
        {
            for (int i = 1; i < ids.Length; i++) if (ids[i] > ids[best]) best = i;
            return best;
        }
        int at = ids.IndexOf(eosTokenId);
        return at >= 0 ? at : 0;
    }

    /// <summary>One encoder layer, in place on x [B,T,D]: pre-norm causal self-attention and MLP, each with a residual.</summary>
    private void Layer(string pre, Tensor x)
    {
        var acc = Accelerator;
        var c = Config;
        int batch = x.Dim(0), tokens = x.Dim(1), d = c.HiddenSize;
        using (var h = acc.Allocate(batch, tokens, d))
        using (var o = acc.Allocate(batch, tokens, d))
        {
            Ops.LayerNorm(acc, x, W(pre + "layer_norm1.weight"), W(pre + "layer_norm1.bias"), h, c.LayerNormEps);
            using (var q = acc.Allocate(batch, tokens, d))
            using (var k = acc.Allocate(batch, tokens, d))
            using (var v = acc.Allocate(batch, tokens, d))
            {
                Ops.Linear(acc, h, W(pre + "self_attn.q_proj.weight"), W(pre + "self_attn.q_proj.bias"), q);
                Ops.Linear(acc, h, W(pre + "self_attn.k_proj.weight"), W(pre + "self_attn.k_proj.bias"), k);
                Ops.Linear(acc, h, W(pre + "self_attn.v_proj.weight"), W(pre + "self_attn.v_proj.bias"), v);
                Ops.Attention(acc, q, k, v, o, c.Heads, causal: true);
            }
            Ops.Linear(acc, o, W(pre + "self_attn.out_proj.weight"), W(pre + "self_attn.out_proj.bias"), h);
            Ops.Add(acc, x, h, x);
        }
        using (var h = acc.Allocate(batch, tokens, d))
        {
            Ops.LayerNorm(acc, x, W(pre + "layer_norm2.weight"), W(pre + "layer_norm2.bias"), h, c.LayerNormEps);
            using (var f = acc.Allocate(batch, tokens, c.IntermediateSize))
            {
                Ops.Linear(acc, h, W(pre + "mlp.fc1.weight"), W(pre + "mlp.fc1.bias"), f);
                if (c.HiddenAct == "gelu") Ops.Gelu(acc, f, f);
                else Ops.QuickGelu(acc, f, f);
                Ops.Linear(acc, f, W(pre + "mlp.fc2.weight"), W(pre + "mlp.fc2.bias"), h);
            }
            Ops.Add(acc, x, h, x);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var w in _weights.Values) w.Dispose();
        _weights.Clear();
    }
}
