using PixelCost.Kernels;
using PixelCost.Runtime.Safetensors;

namespace PixelCost.Runtime.Models;

/// <summary>
/// Weights of one VAE half by diffusers name, and the blocks both halves are built from (resnet, mid attention, conv,
/// up/down-sampling), each composed only from <see cref="Ops"/> calls. Every block method takes ownership of its input
/// activation and frees it (on failure too); it returns a new activation the caller owns.
/// </summary>
internal sealed class VaeGraph : IDisposable
{
    private readonly Dictionary<string, Tensor> _weights;

    private VaeGraph(IAccelerator acc, VaeConfig config, Dictionary<string, Tensor> weights)
    {
        Acc = acc;
        Config = config;
        _weights = weights;
    }

    public IAccelerator Acc { get; }
    public VaeConfig Config { get; }
    public long ParameterCount => _weights.Values.Sum(t => t.Length);
    public long WeightBytes => _weights.Values.Sum(t => t.Bytes);

    public Tensor Weight(string name) =>
        _weights.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"the VAE has no parameter '{name}'");

    public bool Has(string name) => _weights.ContainsKey(name);

    /// <summary>
    /// Loads <paramref name="specs"/> (diffusers names) from a checkpoint in diffusers names or in LDM names (a
    /// single-file checkpoint's <c>first_stage_model.</c>, or a bare LDM VAE file), checking every name and shape
    /// before allocating; a checkpoint tensor under one of <paramref name="prefixes"/> the specs do not list means the
    /// config does not fit. On a meta accelerator only the shapes are read.
    /// </summary>
    public static VaeGraph Load(IAccelerator acc, SafetensorsCheckpoint checkpoint, VaeConfig config, IReadOnlyList<VaeParameter> specs,
        string what, string[] prefixes)
    {
        string cfg = config.Source.Length > 0 ? config.Source : "the VAE config";
        var ldm = LdmNames.Detect(checkpoint, config);
        string Source(string name) => ldm?.Map(name) ?? name;
        foreach (var p in specs)
        {
            string src = Source(p.Name);
            string also = src == p.Name ? "" : $" (diffusers '{p.Name}')";
            if (!checkpoint.Contains(src))
                throw new InvalidDataException($"{checkpoint.Path}: tensor '{src}'{also} is missing: expected {p.ShapeString} for the {what} of {cfg}");
            var info = checkpoint.Info(src);
            // LDM's attention projections are 1×1 convs [C,C,1,1]: the same numbers as diffusers' [C,C] linear.
            bool fits = info.Shape.SequenceEqual(p.Shape) || ldm is not null && info.Shape.SequenceEqual(p.Shape.Concat([1, 1]));
            if (!fits)
                throw new InvalidDataException($"{info.File}: tensor '{src}'{also} has shape {info.ShapeString}, expected {p.ShapeString} for the {what} of {cfg}");
        }
        // A tensor of this half the config does not ask for means the config does not fit the weights (e.g. fewer layers).
        var expected = specs.Select(p => Source(p.Name)).ToHashSet(StringComparer.Ordinal);
        var under = ldm is null ? prefixes : prefixes.Select(ldm.MapPrefix).ToArray();
        foreach (var n in checkpoint.TensorNames)
            if (under.Any(pre => n.StartsWith(pre, StringComparison.Ordinal)) && !expected.Contains(n))
                throw new InvalidDataException($"{checkpoint.Info(n).File}: tensor '{n}' is not part of the {what} of {cfg}: the config does not fit these weights");
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var p in specs)
            {
                var t = acc.Allocate(DType.F32, p.Shape);
                weights[p.Name] = t;
                if (!t.IsMeta) acc.Upload<float>(t, checkpoint.ReadFloats(Source(p.Name)));
            }
        }
        catch
        {
            foreach (var t in weights.Values) t.Dispose();
            throw;
        }
        return new VaeGraph(acc, config, weights);
    }

    /// <summary>
    /// diffusers → LDM (CompVis) names of the VAE: mid_block.resnets.0/1 → mid.block_1/2, attentions.0.{group_norm,
    /// to_q, to_k, to_v, to_out.0} → attn_1.{norm, q, k, v, proj_out}, conv_shortcut → nin_shortcut, conv_norm_out →
    /// norm_out, encoder down_blocks.i.{resnets.j, downsamplers.0} → down.i.{block.j, downsample}, decoder
    /// up_blocks.i.{resnets.j, upsamplers.0} → up.k.{block.j, upsample} with k counting down: LDM numbers its up levels
    /// by resolution, so diffusers' first up block is LDM's highest index. The indices are taken from the file (its
    /// distinct up.k, highest first) rather than assumed to be L−1…0.
    /// </summary>
    private sealed class LdmNames(string prefix, int[] upIndex)
    {
        public static LdmNames? Detect(SafetensorsCheckpoint ckpt, VaeConfig config)
        {
            string? prefix = null;
            foreach (var p in new[] { "first_stage_model.", "" })
                if (ckpt.Contains(p + "decoder.mid.block_1.norm1.weight") || ckpt.Contains(p + "encoder.mid.block_1.norm1.weight")) { prefix = p; break; }
            if (prefix is null) return null;
            string up = prefix + "decoder.up.";
            var levels = ckpt.TensorNames.Where(n => n.StartsWith(up, StringComparison.Ordinal))
                .Select(n => n[up.Length..]).Select(r => r[..Math.Max(0, r.IndexOf('.'))])
                .Select(k => int.TryParse(k, out int v) ? v : -1).Where(v => v >= 0).Distinct().OrderDescending().ToArray();
            if (levels.Length > 0 && levels.Length != config.BlockOutChannels.Length)
                throw new InvalidDataException($"{ckpt.Path}: the LDM VAE decoder has {levels.Length} up levels ({up}{string.Join(", ", levels)}) but {config.Source} has {config.BlockOutChannels.Length}");
            return new LdmNames(prefix, levels);
        }

        public string MapPrefix(string diffusersPrefix) => prefix + diffusersPrefix;

        public string Map(string name)
        {
            string n = name
                .Replace(".mid_block.resnets.0.", ".mid.block_1.").Replace(".mid_block.resnets.1.", ".mid.block_2.")
                .Replace(".mid_block.attentions.0.group_norm.", ".mid.attn_1.norm.")
                .Replace(".mid_block.attentions.0.to_q.", ".mid.attn_1.q.").Replace(".mid_block.attentions.0.to_k.", ".mid.attn_1.k.")
                .Replace(".mid_block.attentions.0.to_v.", ".mid.attn_1.v.").Replace(".mid_block.attentions.0.to_out.0.", ".mid.attn_1.proj_out.")
                .Replace(".conv_shortcut.", ".nin_shortcut.").Replace(".conv_norm_out.", ".norm_out.")
                .Replace(".downsamplers.0.", ".downsample.").Replace(".upsamplers.0.", ".upsample.");
            var m = System.Text.RegularExpressions.Regex.Match(n, @"^(encoder\.down|decoder\.up)_blocks\.(\d+)\.(.*)$");
            if (m.Success)
            {
                int i = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
                string rest = m.Groups[3].Value.StartsWith("resnets.", StringComparison.Ordinal) ? "block." + m.Groups[3].Value["resnets.".Length..] : m.Groups[3].Value;
                string level = m.Groups[1].Value == "decoder.up" ? (i < upIndex.Length ? upIndex[i] : upIndex.Length - 1 - i).ToString(System.Globalization.CultureInfo.InvariantCulture)
                    : i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                n = $"{m.Groups[1].Value}.{level}.{rest}";
            }
            return prefix + n;
        }
    }

    /// <summary>Random weights by <see cref="RandomWeights"/>: conv/linear N(0, 1/fan_in), norm weights 1, biases 0.</summary>
    public static VaeGraph Random(IAccelerator acc, VaeConfig config, IReadOnlyList<VaeParameter> specs, ulong seed) =>
        new(acc, config, RandomWeights.Create(acc, specs.Select(p => (p.Name, p.Shape)), seed));

    /// <summary>A new tensor: conv <paramref name="name"/> (k×k) of x; x is left alone.</summary>
    public Tensor Conv(Tensor x, string name, int padding, int stride = 1)
    {
        var w = Weight(name + ".weight");
        int k = w.Dim(2);
        var y = Acc.Allocate(x.Dim(0), w.Dim(0), (x.Dim(2) + 2 * padding - k) / stride + 1, (x.Dim(3) + 2 * padding - k) / stride + 1);
        try { Ops.Conv2d(Acc, x, w, Weight(name + ".bias"), y, stride: stride, padding: padding); }
        catch { y.Dispose(); throw; }
        return y;
    }

    /// <summary>Conv of x, then x is freed.</summary>
    public Tensor ConvAndFree(Tensor x, string name, int padding, int stride = 1)
    {
        try { return Conv(x, name, padding, stride); }
        finally { x.Dispose(); }
    }

    /// <summary>In place: GroupNorm (eps 1e-6) + SiLU fused, as conv_norm_out + conv_act. Frees x on failure.</summary>
    public Tensor NormSiluInPlace(Tensor x, string name)
    {
        try
        {
            Ops.GroupNorm(Acc, x, Config.NormNumGroups, Weight(name + ".weight"), Weight(name + ".bias"), x, VaeConfig.NormEps, fuseSilu: true);
            return x;
        }
        catch { x.Dispose(); throw; }
    }

    /// <summary>
    /// ResnetBlock2D without a time embedding: norm1 + SiLU → conv1 → norm2 + SiLU → conv2, + x (or its 1×1
    /// conv_shortcut when the channels change). Dropout is the identity at inference.
    /// </summary>
    public Tensor Resnet(Tensor x, string name)
    {
        int g = Config.NormNumGroups;
        Tensor? h = null, y = null;
        try
        {
            h = Acc.Allocate(x.Shape.ToArray());
            Ops.GroupNorm(Acc, x, g, Weight(name + ".norm1.weight"), Weight(name + ".norm1.bias"), h, VaeConfig.NormEps, fuseSilu: true);
            y = Conv(h, name + ".conv1", padding: 1);
            h.Dispose();
            Ops.GroupNorm(Acc, y, g, Weight(name + ".norm2.weight"), Weight(name + ".norm2.bias"), y, VaeConfig.NormEps, fuseSilu: true);
            h = y;
            y = Conv(h, name + ".conv2", padding: 1);
            h.Dispose();
            h = null;
            if (Has(name + ".conv_shortcut.weight"))
            {
                h = Conv(x, name + ".conv_shortcut", padding: 0);
                Ops.Add(Acc, h, y, y);
                h.Dispose();
                h = null;
            }
            else Ops.Add(Acc, x, y, y);
            return y;
        }
        catch
        {
            h?.Dispose();
            y?.Dispose();
            throw;
        }
        finally { x.Dispose(); }
    }

    /// <summary>
    /// The mid block's single-head attention (diffusers Attention with group_norm, residual, q/k/v/out with bias),
    /// on tokens [B, HW, C]. The layout change from NCHW costs one copy in and none out:
    /// in — group_norm on [B,C,H,W], then one transposed copy to [B,HW,C] (what diffusers' view + transpose does), so
    /// to_q/to_k/to_v are ordinary linears with their bias fused;
    /// out — to_out.0 as a GEMM with the token matrix transposed, W·oᵀ, which writes [B,C,HW] (NCHW) directly; its bias
    /// is then a per-channel add and the residual an add. Matmul FLOPs equal the linear's; no second copy.
    /// </summary>
    public Tensor Attention(Tensor x, string name)
    {
        int b = x.Dim(0), c = x.Dim(1), hh = x.Dim(2), ww = x.Dim(3), tokens = hh * ww;
        var live = new List<Tensor>();
        Tensor Alloc(params int[] shape) { var t = Acc.Allocate(shape); live.Add(t); return t; }
        void Free(Tensor t) { live.Remove(t); t.Dispose(); }
        Tensor? y = null;
        try
        {
            var n = Alloc(b, c, hh, ww);
            Ops.GroupNorm(Acc, x, Config.NormNumGroups, Weight(name + ".group_norm.weight"), Weight(name + ".group_norm.bias"), n, VaeConfig.NormEps);
            var tok = Ops.Contiguous(Acc, n.Reshape(b, c, tokens).Transpose(1, 2));   // [B, HW, C]
            live.Add(tok);
            Free(n);
            var q = Alloc(b, tokens, c);
            var k = Alloc(b, tokens, c);
            var v = Alloc(b, tokens, c);
            Ops.Linear(Acc, tok, Weight(name + ".to_q.weight"), Weight(name + ".to_q.bias"), q);
            Ops.Linear(Acc, tok, Weight(name + ".to_k.weight"), Weight(name + ".to_k.bias"), k);
            Ops.Linear(Acc, tok, Weight(name + ".to_v.weight"), Weight(name + ".to_v.bias"), v);
            Free(tok);
            var o = Alloc(b, tokens, c);
            Ops.Attention(Acc, q, k, v, o, heads: 1);   // scale 1/√C, as diffusers' single head of dim C
            Free(q); Free(k); Free(v);
            y = Acc.Allocate(b, c, hh, ww);
            var y3 = y.Reshape(b, c, tokens);
            Ops.Gemm(Acc, Weight(name + ".to_out.0.weight"), o, y3, transB: true);   // y[b] = W · o[b]ᵀ: [C, HW]
            Free(o);
            var bias = Weight(name + ".to_out.0.bias").Reshape(1, c);
            for (int i = 0; i < b; i++)
            {
                var yi = y3.Slice(0, i, 1);   // a batch slice of a dense tensor is dense
                Ops.AddChannelBias(Acc, yi, bias, yi);
            }
            Ops.Add(Acc, y, x, y);   // residual; rescale_output_factor is 1
            return y;
        }
        catch
        {
            foreach (var t in live) t.Dispose();
            y?.Dispose();
            throw;
        }
        finally { x.Dispose(); }
    }

    /// <summary>UNetMidBlock2D without a time embedding: resnet, attention (unless disabled), resnet — in the
    /// ledger scopes resnets.0, attentions.0, resnets.1 under the current one.</summary>
    public Tensor MidBlock(Tensor x, string name)
    {
        using (Acc.Ledger.Scope("resnets.0")) x = Resnet(x, name + ".resnets.0");
        if (Config.MidBlockAttention)
            using (Acc.Ledger.Scope("attentions.0")) x = Attention(x, name + ".attentions.0");
        using (Acc.Ledger.Scope("resnets.1")) x = Resnet(x, name + ".resnets.1");
        return x;
    }

    /// <summary>Upsample2D: nearest 2×, then the 3×3 conv.</summary>
    public Tensor Upsample(Tensor x, string name)
    {
        Tensor u;
        try
        {
            u = Acc.Allocate(x.Dim(0), x.Dim(1), 2 * x.Dim(2), 2 * x.Dim(3));
            try { Ops.Upsample2xNearest(Acc, x, u); }
            catch { u.Dispose(); throw; }
        }
        finally { x.Dispose(); }
        return ConvAndFree(u, name + ".conv", padding: 1);
    }

    /// <summary>
    /// Downsample2D of the VAE encoder (padding 0): F.pad(x, (0, 1, 0, 1)) — one zero column on the right, one zero row
    /// at the bottom — then the 3×3 stride-2 conv without padding. Our conv pads symmetrically, so the one-sided pad is
    /// two channel concatenations with zeros on flattened views (data movement only, as F.pad): [B·C·H, W] ++ [B·C·H, 1],
    /// then [B·C, H, W+1] ++ [B·C, 1, W+1].
    /// </summary>
    public Tensor Downsample(Tensor x, string name)
    {
        int b = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        Tensor? col = null, wide = null, row = null, padded = null;
        try
        {
            col = Acc.Zeros(b * c * h, 1);
            wide = Acc.Allocate(b, c, h, w + 1);
            Ops.ConcatChannels(Acc, x.Reshape(b * c * h, w), col, wide.Reshape(b * c * h, w + 1));
            col.Dispose();
            x.Dispose();
            row = Acc.Zeros(b * c, 1, w + 1);
            padded = Acc.Allocate(b, c, h + 1, w + 1);
            Ops.ConcatChannels(Acc, wide.Reshape(b * c, h, w + 1), row, padded.Reshape(b * c, h + 1, w + 1));
            wide.Dispose();
            row.Dispose();
        }
        catch
        {
            col?.Dispose(); wide?.Dispose(); row?.Dispose(); padded?.Dispose();
            throw;
        }
        finally { x.Dispose(); }
        return ConvAndFree(padded, name + ".conv", padding: 0, stride: 2);
    }

    public void Dispose()
    {
        foreach (var t in _weights.Values) t.Dispose();
        _weights.Clear();
    }
}

/// <summary>What the VAE's encoder and decoder share: their weights (a <see cref="VaeGraph"/> on one accelerator), the
/// config, counts, and disposal.</summary>
public abstract class VaeComponent : IDisposable
{
    private protected VaeComponent(VaeGraph g, bool random)
    {
        G = g;
        IsRandom = random;
    }

    private protected VaeGraph G { get; }

    private protected bool Disposed { get; private set; }

    public IAccelerator Accelerator => G.Acc;

    public VaeConfig Config => G.Config;

    /// <summary>True when the weights are deterministic random ones (<c>Random</c>), not a checkpoint's.</summary>
    public bool IsRandom { get; }

    /// <summary>Parameters held (the component and its 1×1 quant/post-quant conv).</summary>
    public long ParameterCount => G.ParameterCount;

    /// <summary>Bytes of the weights on the accelerator.</summary>
    public long WeightBytes => G.WeightBytes;

    /// <summary>A weight by its diffusers name (e.g. "decoder.conv_in.weight").</summary>
    public Tensor Weight(string name) => G.Weight(name);

    public void Dispose()
    {
        if (Disposed) return;
        Disposed = true;
        G.Dispose();
    }
}
