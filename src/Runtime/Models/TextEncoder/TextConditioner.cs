using PixelCost.Kernels;
using PixelCost.Runtime.Tokenizers;

namespace PixelCost.Runtime.Models.TextEncoder;

/// <summary>What the UNet is conditioned on; the caller owns it.</summary>
public sealed class TextConditioning : IDisposable
{
    internal TextConditioning(Tensor hidden, Tensor? pooled, IReadOnlyList<TokenizedPrompt> tokens)
    {
        Hidden = hidden;
        Pooled = pooled;
        Tokens = tokens;
    }

    /// <summary>[B,77,cross]: the UNet's encoder_hidden_states.</summary>
    public Tensor Hidden { get; }

    /// <summary>[B,1280]: SDXL's text_embeds (the second encoder's projected pooled output); null for SD 1.x/2.x.</summary>
    public Tensor? Pooled { get; }

    /// <summary>The prompts as the first encoder's tokenizer saw them (truncation shows here).</summary>
    public IReadOnlyList<TokenizedPrompt> Tokens { get; }

    public void Dispose()
    {
        Hidden.Dispose();
        Pooled?.Dispose();
    }
}

/// <summary>
/// The text side of a pipeline: tokenizer(s) + CLIP text encoder(s), as the UNet needs them (diffusers' encode_prompt):
/// SD 1.x — CLIP-L, prompts padded with &lt;|endoftext|&gt;, last_hidden_state [B,77,768]; SD 2.x — OpenCLIP-H
/// (23 layers), padded with 0, last_hidden_state [B,77,1024]; SDXL — CLIP-L (pad eot) and OpenCLIP-bigG (pad 0: SDXL's
/// tokenizer_2 pads with "!" = id 0), hidden = concat(penultimate(CLIP-L), penultimate(bigG)) [B,77,2048] and
/// pooled = bigG's text_embeds [B,1280].
/// </summary>
public sealed class TextConditioner : IDisposable
{
    private enum Kind { Sd1, Sd2, Sdxl }

    private readonly Kind _kind;
    private readonly ClipTextModel[] _encoders;
    private readonly ClipTokenizer[] _tokenizers;

    private TextConditioner(Kind kind, ClipTextModel[] encoders, ClipTokenizer[] tokenizers)
    {
        _kind = kind;
        _encoders = encoders;
        _tokenizers = tokenizers;
    }

    /// <summary>text_encoder, then text_encoder_2 (SDXL).</summary>
    public IReadOnlyList<ClipTextModel> Encoders => _encoders;

    /// <summary>Hidden width the UNet cross-attends to (768, 1024, 2048).</summary>
    public int CrossAttentionDim => _kind == Kind.Sdxl ? _encoders[0].Config.HiddenSize + _encoders[1].Config.HiddenSize : _encoders[0].Config.HiddenSize;

    /// <summary>The UNet presets' text encoders with deterministic random weights (seed for the first, seed + 1 for the second).</summary>
    public static TextConditioner ForPreset(IAccelerator acc, string unetPreset, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(acc);
        var kind = unetPreset switch
        {
            "sd15" => Kind.Sd1,
            "sd21" or "sd21-base" or "sd-turbo" => Kind.Sd2,
            "sdxl" or "sdxl-turbo" => Kind.Sdxl,
            _ => throw new ArgumentException($"no text encoder preset for UNet preset '{unetPreset}' (known: sd15, sd21, sd21-base, sd-turbo, sdxl, sdxl-turbo)"),
        };
        var list = new List<ClipTextModel>();
        try
        {
            list.Add(ClipTextModel.Random(acc, ClipTextConfig.Preset(kind == Kind.Sd2 ? "openclip-h" : "clip-l"), seed));
            if (kind == Kind.Sdxl)
            {
                var g = ClipTextModel.Random(acc, ClipTextConfig.Preset("openclip-bigg"), seed + 1);
                g.Component = "text_encoder_2";
                list.Add(g);
            }
        }
        catch
        {
            foreach (var m in list) m.Dispose();
            throw;
        }
        var tok = ClipTokenizer.Default;
        return new TextConditioner(kind, list.ToArray(), kind == Kind.Sdxl ? [tok, tok] : [tok]);
    }

    /// <summary>
    /// A pipeline folder (text_encoder/, and text_encoder_2/ for SDXL; tokenizer/ and tokenizer_2/ if present, else
    /// the built-in vocabulary) or a single-file checkpoint (SD 1.x cond_stage_model.transformer., SD 2.x
    /// cond_stage_model.model., SDXL conditioner.embedders.0/1). SDXL is recognised by a second encoder; otherwise an
    /// OpenCLIP-style encoder (gelu) means SD 2.x (pad 0), CLIP-L (quick_gelu) SD 1.x (pad eot).
    /// </summary>
    public static TextConditioner Load(IAccelerator acc, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(acc);
        bool xl;
        using (var src = ModelSource.Open(modelPath))
            xl = src.IsPipelineFolder
                ? src.Parts.Any(p => p.Component == "text_encoder_2")
                : src.Parts[0].Checkpoint.Contains("conditioner.embedders.1.model.token_embedding.weight");
        var list = new List<ClipTextModel>();
        try
        {
            list.Add(ClipTextModel.Load(acc, modelPath, "text_encoder"));
            if (xl) list.Add(ClipTextModel.Load(acc, modelPath, "text_encoder_2"));
        }
        catch
        {
            foreach (var m in list) m.Dispose();
            throw;
        }
        var kind = xl ? Kind.Sdxl : list[0].Config.HiddenAct == "gelu" ? Kind.Sd2 : Kind.Sd1;
        if (xl && list[1].Config.ProjectionDim is null)
        {
            foreach (var m in list) m.Dispose();
            throw new InvalidDataException($"{modelPath}: SDXL's text_encoder_2 has no text projection (CLIPTextModelWithProjection expected: the UNet needs its text_embeds)");
        }
        var tokenizers = xl
            ? new[] { ClipTokenizer.ForModel(modelPath), ClipTokenizer.ForModel(modelPath, "tokenizer_2") }
            : [ClipTokenizer.ForModel(modelPath)];
        return new TextConditioner(kind, list.ToArray(), tokenizers);
    }

    /// <summary>
    /// Tokenizes and encodes <paramref name="prompts"/> (one batch). On the meta accelerator the ids are not
    /// uploaded (shapes only). Every launch runs under the encoder's ledger scope (text_encoder, text_encoder_2).
    /// </summary>
    public TextConditioning Encode(IReadOnlyList<string> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("text encoder: no prompts to encode");
        var acc = _encoders[0].Accelerator;
        IReadOnlyList<TokenizedPrompt>? first = null;
        var outs = new List<ClipTextOutput>();
        try
        {
            for (int e = 0; e < _encoders.Length; e++)
            {
                var enc = _encoders[e];
                // SD 1.x and SDXL's CLIP-L pad with <|endoftext|>; OpenCLIP (SD 2.x, SDXL's second) with 0.
                var padding = _kind == Kind.Sd2 || e == 1 ? ClipPadding.Zero : ClipPadding.EndOfText;
                int t = enc.Config.MaxPositions;
                var tokens = prompts.Select(p => _tokenizers[e].Encode(p, padding, t)).ToList();
                first ??= tokens;
                using var ids = acc.Allocate(DType.I32, prompts.Count, t);
                if (!ids.IsMeta) acc.Upload<int>(ids, tokens.SelectMany(x => x.Ids).ToArray());
                outs.Add(enc.Forward(ids));
            }
            if (_kind != Kind.Sdxl)
            {
                var o = outs[0];
                o.PenultimateHiddenState.Dispose();
                o.Pooled.Dispose();
                o.TextEmbeds?.Dispose();
                outs.Clear();
                return new TextConditioning(o.LastHiddenState, null, first!);
            }
            // SDXL: hidden_states[-2] of both, concatenated on the feature dim: [B·T, D1, 1] ++ [B·T, D2, 1].
            var (a, b) = (outs[0].PenultimateHiddenState, outs[1].PenultimateHiddenState);
            int batch = a.Dim(0), tt = a.Dim(1), d1 = a.Dim(2), d2 = b.Dim(2);
            var hidden = acc.Allocate(batch, tt, d1 + d2);
            try
            {
                using var scope = acc.Ledger.Scope(_encoders[1].Component);
                using var inner = acc.Ledger.Scope("concat_hidden_states");
                using var va = a.Reshape(batch * tt, d1, 1);
                using var vb = b.Reshape(batch * tt, d2, 1);
                using var vy = hidden.Reshape(batch * tt, d1 + d2, 1);
                Ops.ConcatChannels(acc, va, vb, vy);
            }
            catch
            {
                hidden.Dispose();
                throw;
            }
            var pooled = outs[1].TextEmbeds!;   // checked when the conditioner was made
            outs[0].Dispose();
            outs[1].LastHiddenState.Dispose(); outs[1].PenultimateHiddenState.Dispose(); outs[1].Pooled.Dispose();
            outs.Clear();
            return new TextConditioning(hidden, pooled, first!);
        }
        finally
        {
            foreach (var o in outs) o.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var e in _encoders) e.Dispose();
    }
}
