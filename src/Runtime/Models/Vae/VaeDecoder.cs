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
public sealed class VaeDecoder : IDisposable
{
    private readonly Dictionary<string, Tensor> _weights;
    private bool _disposed;

    private VaeDecoder(IAccelerator acc, VaeConfig config, Dictionary<string, Tensor> weights, bool random)
    {
        Accelerator = acc;
        Config = config;
        _weights = weights;
        IsRandom = random;
    }

    public IAccelerator Accelerator { get; }

    public VaeConfig Config { get; }

    /// <summary>True when the weights are deterministic random ones (<see cref="Random"/>), not a checkpoint's.</summary>
    public bool IsRandom { get; }

    /// <summary>Parameters held (post_quant_conv + decoder).</summary>
    public long ParameterCount => _weights.Values.Sum(t => t.Length);

    /// <summary>Bytes of the weights on the accelerator.</summary>
    public long WeightBytes => _weights.Values.Sum(t => t.Bytes);

    /// <summary>A weight by its diffusers name (e.g. "decoder.conv_in.weight").</summary>
    public Tensor Weight(string name) =>
        _weights.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"the VAE decoder has no parameter '{name}'");

    /// <summary>
    /// Loads post_quant_conv and the decoder from diffusers-named weights: <paramref name="path"/> is a component
    /// folder (config.json + diffusion_pytorch_model.safetensors), a pipeline folder (its vae/), or a safetensors file
    /// (then <paramref name="config"/> or a config.json beside it). Every tensor's shape is checked against the config;
    /// an error names the file, the tensor, the expected and the actual shape. On a meta accelerator only the shapes are
    /// read. F16/BF16 weights are widened to F32.
    /// </summary>
    public static VaeDecoder Load(IAccelerator acc, string path, VaeConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(acc);
        string? weights;
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
        using var ckpt = SafetensorsCheckpoint.Open(weights);
        return Load(acc, ckpt, config);
    }

    /// <summary>Loads from an open checkpoint with diffusers names (see <see cref="Load(IAccelerator,string,VaeConfig?)"/>).</summary>
    public static VaeDecoder Load(IAccelerator acc, SafetensorsCheckpoint checkpoint, VaeConfig config)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(config);
        var specs = config.DecoderParameters();
        string cfg = config.Source.Length > 0 ? config.Source : "the VAE config";
        // Check every name and shape before allocating anything, so a wrong file fails fast and leaks nothing.
        foreach (var p in specs)
        {
            if (!checkpoint.Contains(p.Name))
            {
                string hint = checkpoint.TensorNames.Any(n => n.StartsWith("first_stage_model.", StringComparison.Ordinal))
                    ? " (this is a single-file LDM checkpoint, named first_stage_model.…; the decoder reads diffusers names)" : "";
                throw new InvalidDataException($"{checkpoint.Path}: tensor '{p.Name}' is missing: expected {p.ShapeString} for the VAE decoder of {cfg}{hint}");
            }
            var info = checkpoint.Info(p.Name);
            if (!info.Shape.SequenceEqual(p.Shape))
                throw new InvalidDataException($"{info.File}: tensor '{p.Name}' has shape {info.ShapeString}, expected {p.ShapeString} for the VAE decoder of {cfg}");
        }
        // A decoder tensor the config does not ask for means the config does not fit the weights (e.g. fewer layers).
        var expected = specs.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var n in checkpoint.TensorNames)
            if ((n.StartsWith("decoder.", StringComparison.Ordinal) || n.StartsWith("post_quant_conv.", StringComparison.Ordinal)) && !expected.Contains(n))
                throw new InvalidDataException($"{checkpoint.Info(n).File}: tensor '{n}' is not part of the VAE decoder of {cfg}: the config does not fit these weights");
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var p in specs)
            {
                var t = acc.Allocate(DType.F32, p.Shape);
                weights[p.Name] = t;
                if (!t.IsMeta) acc.Upload<float>(t, checkpoint.ReadFloats(p.Name));
            }
        }
        catch
        {
            foreach (var t in weights.Values) t.Dispose();
            throw;
        }
        return new VaeDecoder(acc, config, weights, random: false);
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
        var specs = config.DecoderParameters();
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            for (int i = 0; i < specs.Count; i++)
            {
                var p = specs[i];
                var t = acc.Allocate(DType.F32, p.Shape, zero: p.Kind == VaeParameterKind.Bias);
                weights[p.Name] = t;
                switch (p.Kind)
                {
                    case VaeParameterKind.Weight:
                        Ops.FillGaussian(acc, t, seed, 0f, (float)(1 / Math.Sqrt(p.FanIn)), stream: (ulong)i);
                        break;
                    case VaeParameterKind.NormWeight:
                        Ops.FillGaussian(acc, t, seed, 1f, 0f, stream: (ulong)i); // std 0: exactly 1
                        break;
                }
            }
        }
        catch
        {
            foreach (var t in weights.Values) t.Dispose();
            throw;
        }
        return new VaeDecoder(acc, config, weights, random: true);
    }

    /// <summary>
    /// latent: [B, latent_channels, h, w] (already divided by the scaling factor) → a new image tensor
    /// [B, out_channels, h·2^(L−1), w·2^(L−1)] (≈ [−1, 1]) the caller owns. The latent is not modified or freed.
    /// </summary>
    public Tensor Decode(Tensor latent)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(latent);
        if (latent.Rank != 4 || latent.Dim(1) != Config.LatentChannels || latent.DType != DType.F32 || latent.Length == 0)
            throw new ArgumentException($"VAE decode: latent {latent.ShapeString} ({latent.DType}) must be F32 [B,{Config.LatentChannels},h,w]", nameof(latent));
        var acc = Accelerator;
        Tensor x;
        using (acc.Ledger.Scope("post_quant_conv"))
            x = Conv(latent, "post_quant_conv", padding: 0);
        using (acc.Ledger.Scope("decoder"))
        {
            using (acc.Ledger.Scope("conv_in")) x = ConvAndFree(x, "decoder.conv_in", padding: 1);
            using (acc.Ledger.Scope("mid_block"))
            {
                using (acc.Ledger.Scope("resnets.0")) x = Resnet(x, "decoder.mid_block.resnets.0");
                if (Config.MidBlockAttention)
                    using (acc.Ledger.Scope("attentions.0")) x = Attention(x, "decoder.mid_block.attentions.0");
                using (acc.Ledger.Scope("resnets.1")) x = Resnet(x, "decoder.mid_block.resnets.1");
            }
            foreach (var b in Config.UpBlocks())
            {
                using var _ = acc.Ledger.Scope($"up_blocks.{b.Index}");
                for (int j = 0; j < b.Resnets; j++)
                    using (acc.Ledger.Scope($"resnets.{j}")) x = Resnet(x, $"decoder.up_blocks.{b.Index}.resnets.{j}");
                if (b.Upsample)
                    using (acc.Ledger.Scope("upsamplers.0")) x = Upsample(x, $"decoder.up_blocks.{b.Index}.upsamplers.0");
            }
            try
            {
                // conv_norm_out and conv_act (SiLU) as one fused launch, in place: x is ours and dead after.
                using (acc.Ledger.Scope("conv_norm_out"))
                    Ops.GroupNorm(acc, x, Config.NormNumGroups, Weight("decoder.conv_norm_out.weight"), Weight("decoder.conv_norm_out.bias"), x,
                        VaeConfig.NormEps, fuseSilu: true);
            }
            catch { x.Dispose(); throw; }
            using (acc.Ledger.Scope("conv_out")) x = ConvAndFree(x, "decoder.conv_out", padding: 1);
        }
        return x;
    }

    /// <summary>A new tensor: conv <paramref name="name"/> (k×k, stride 1) of x; x is left alone.</summary>
    private Tensor Conv(Tensor x, string name, int padding)
    {
        var w = Weight(name + ".weight");
        int k = w.Dim(2);
        var y = Accelerator.Allocate(x.Dim(0), w.Dim(0), x.Dim(2) + 2 * padding - k + 1, x.Dim(3) + 2 * padding - k + 1);
        try { Ops.Conv2d(Accelerator, x, w, Weight(name + ".bias"), y, stride: 1, padding: padding); }
        catch { y.Dispose(); throw; }
        return y;
    }

    /// <summary>Conv of x, then x is freed (it is an activation of ours).</summary>
    private Tensor ConvAndFree(Tensor x, string name, int padding)
    {
        try { return Conv(x, name, padding); }
        finally { x.Dispose(); }
    }

    /// <summary>
    /// ResnetBlock2D without a time embedding: norm1 + SiLU → conv1 → norm2 + SiLU → conv2, + x (or its 1×1
    /// conv_shortcut when the channels change). Dropout is the identity at inference. Frees x.
    /// </summary>
    private Tensor Resnet(Tensor x, string name)
    {
        var acc = Accelerator;
        int g = Config.NormNumGroups;
        Tensor? h = null, y = null;
        try
        {
            h = acc.Allocate(x.Shape.ToArray());
            Ops.GroupNorm(acc, x, g, Weight(name + ".norm1.weight"), Weight(name + ".norm1.bias"), h, VaeConfig.NormEps, fuseSilu: true);
            y = Conv(h, name + ".conv1", padding: 1);
            h.Dispose();
            Ops.GroupNorm(acc, y, g, Weight(name + ".norm2.weight"), Weight(name + ".norm2.bias"), y, VaeConfig.NormEps, fuseSilu: true);
            h = y;
            y = Conv(h, name + ".conv2", padding: 1);
            h.Dispose();
            h = null;
            if (_weights.ContainsKey(name + ".conv_shortcut.weight"))
            {
                h = Conv(x, name + ".conv_shortcut", padding: 0);
                Ops.Add(acc, h, y, y);
                h.Dispose();
                h = null;
            }
            else Ops.Add(acc, x, y, y);
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
    /// Frees x.
    /// </summary>
    private Tensor Attention(Tensor x, string name)
    {
        var acc = Accelerator;
        int b = x.Dim(0), c = x.Dim(1), hh = x.Dim(2), ww = x.Dim(3), tokens = hh * ww;
        var live = new List<Tensor>();
        Tensor Alloc(params int[] shape) { var t = acc.Allocate(shape); live.Add(t); return t; }
        void Free(Tensor t) { live.Remove(t); t.Dispose(); }
        Tensor? y = null;
        try
        {
            var n = Alloc(b, c, hh, ww);
            Ops.GroupNorm(acc, x, Config.NormNumGroups, Weight(name + ".group_norm.weight"), Weight(name + ".group_norm.bias"), n, VaeConfig.NormEps);
            var tok = Ops.Contiguous(acc, n.Reshape(b, c, tokens).Transpose(1, 2));   // [B, HW, C]
            live.Add(tok);
            Free(n);
            var q = Alloc(b, tokens, c);
            var k = Alloc(b, tokens, c);
            var v = Alloc(b, tokens, c);
            Ops.Linear(acc, tok, Weight(name + ".to_q.weight"), Weight(name + ".to_q.bias"), q);
            Ops.Linear(acc, tok, Weight(name + ".to_k.weight"), Weight(name + ".to_k.bias"), k);
            Ops.Linear(acc, tok, Weight(name + ".to_v.weight"), Weight(name + ".to_v.bias"), v);
            Free(tok);
            var o = Alloc(b, tokens, c);
            Ops.Attention(acc, q, k, v, o, heads: 1);   // scale 1/√C, as diffusers' single head of dim C
            Free(q); Free(k); Free(v);
            y = acc.Allocate(b, c, hh, ww);
            var y3 = y.Reshape(b, c, tokens);
            Ops.Gemm(acc, Weight(name + ".to_out.0.weight"), o, y3, transB: true);   // y[b] = W · o[b]ᵀ: [C, HW]
            Free(o);
            var bias = Weight(name + ".to_out.0.bias").Reshape(1, c);
            for (int i = 0; i < b; i++)
            {
                var yi = y3.Slice(0, i, 1);   // a batch slice of a dense tensor is dense
                Ops.AddChannelBias(acc, yi, bias, yi);
            }
            Ops.Add(acc, y, x, y);   // residual; rescale_output_factor is 1
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

    /// <summary>Upsample2D: nearest 2×, then the 3×3 conv. Frees x.</summary>
    private Tensor Upsample(Tensor x, string name)
    {
        Tensor u;
        try
        {
            u = Accelerator.Allocate(x.Dim(0), x.Dim(1), 2 * x.Dim(2), 2 * x.Dim(3));
            try { Ops.Upsample2xNearest(Accelerator, x, u); }
            catch { u.Dispose(); throw; }
        }
        finally { x.Dispose(); }
        return ConvAndFree(u, name + ".conv", padding: 1);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _weights.Values) t.Dispose();
        _weights.Clear();
    }
}
