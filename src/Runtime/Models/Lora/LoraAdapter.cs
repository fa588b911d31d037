using PixelCost.Kernels;
using PixelCost.Runtime.Safetensors;

namespace PixelCost.Runtime.Models.Lora;

/// <summary>Which model of a pipeline a LoRA module adapts.</summary>
public enum LoraTarget { Unet, TextEncoder, TextEncoder2 }

/// <summary>What <see cref="LoraAdapter.FuseInto(IAccelerator, IReadOnlyDictionary{string, Tensor}, LoraTarget, float)"/> did:
/// modules fused, and the adapter's module names (as stored) that matched no weight of the target.</summary>
public sealed record LoraFuseReport(LoraTarget Target, int Matched, IReadOnlyList<string> Unmatched);

/// <summary>One LoRA module as named in the file: its target, module name (dotted, or kohya's underscored), its down and
/// up factors' tensors and its alpha tensor's name (null when none: alpha = r).</summary>
public sealed record LoraModuleLayout(LoraTarget Target, string Name, bool Underscored, CheckpointTensor Down, CheckpointTensor Up, string? AlphaName)
{
    public int Rank => Down.Shape[0];
}

/// <summary>A LoRA file's structure (<see cref="LoraAdapter.ReadLayout"/>): its naming (Peft for lora_A/lora_B, Diffusers for
/// lora.down/lora.up, Kohya for lora_unet_/lora_te*_ prefixes, Mixed when they differ), and its modules.</summary>
public sealed record LoraLayout(WeightNaming Naming, IReadOnlyList<LoraModuleLayout> Modules)
{
    /// <summary>The rank r (the largest, if modules differ).</summary>
    public int Rank => Modules.Max(m => m.Rank);

    public IReadOnlyList<LoraTarget> Targets => Modules.Select(m => m.Target).Distinct().Order().ToList();

    public int ModuleCount(LoraTarget target) => Modules.Count(m => m.Target == target);
}

/// <summary>
/// A LoRA (low-rank adapter) read from a safetensors file, ready to fuse into a model's weights: W += scale·(alpha/r)·up·down.
/// Namings read:
/// <list type="bullet">
/// <item>diffusers / PEFT: <c>unet.&lt;module&gt;.lora_A.weight</c> (down) and <c>.lora_B.weight</c> (up), the older
/// <c>&lt;module&gt;.lora.down.weight</c> / <c>.lora.up.weight</c>, prefixes <c>unet.</c>, <c>text_encoder.</c>,
/// <c>text_encoder_2.</c> (none = UNet); an optional <c>&lt;module&gt;.alpha</c>;</item>
/// <item>kohya: <c>lora_unet_&lt;module with '_' for '.'&gt;.lora_down.weight</c> / <c>.lora_up.weight</c> / <c>.alpha</c>,
/// with <c>lora_te_</c> (the text encoder), <c>lora_te1_</c> / <c>lora_te2_</c> (SDXL's two). kohya's module names are
/// diffusers' (or, for the UNet, LDM's <c>input_blocks_1_1_…</c>) with every '.' made '_'; they are mapped back by
/// matching against the target's actual weight names.</item>
/// </list>
/// Linear modules (down [r,in], up [out,r]) and convolutions (down [r,in,kh,kw], up [out,r,1,1]) are supported; a
/// linear LoRA on a 1×1 convolution weight fits too. alpha defaults to the rank (factor 1). F16/BF16 tensors are widened.
/// </summary>
public sealed class LoraAdapter : IDisposable
{
    /// <summary>One adapted module: its name as stored (dotted, or kohya's underscored), and the host copies of its factors.</summary>
    private sealed record Module(LoraTarget Target, string Name, bool Underscored, float[] Down, int[] DownShape, float[] Up, int[] UpShape, float Alpha)
    {
        public int Rank => DownShape[0];
    }

    private static readonly (string Suffix, char Part)[] Suffixes =
    [
        (".lora_A.weight", 'd'), (".lora_B.weight", 'u'),
        (".lora.down.weight", 'd'), (".lora.up.weight", 'u'),
        (".lora_down.weight", 'd'), (".lora_up.weight", 'u'),
        (".alpha", 'a'),
    ];

    private static readonly (string Prefix, LoraTarget Target, bool Underscored)[] Prefixes =
    [
        ("lora_unet_", LoraTarget.Unet, true), ("lora_te1_", LoraTarget.TextEncoder, true),
        ("lora_te2_", LoraTarget.TextEncoder2, true), ("lora_te_", LoraTarget.TextEncoder, true),
        ("unet.", LoraTarget.Unet, false), ("text_encoder_2.", LoraTarget.TextEncoder2, false),
        ("text_encoder.", LoraTarget.TextEncoder, false),
    ];

    private readonly List<Module> _modules;

    private LoraAdapter(string path, List<Module> modules)
    {
        Path = path;
        _modules = modules;
        Rank = modules.Max(m => m.Rank);
        Targets = modules.Select(m => m.Target).Distinct().Order().ToList();
    }

    public string Path { get; }

    /// <summary>The rank r (the largest, if modules differ).</summary>
    public int Rank { get; }

    public IReadOnlyCollection<LoraTarget> Targets { get; }

    /// <summary>Number of adapted modules for <paramref name="target"/>.</summary>
    public int ModuleCount(LoraTarget target) => _modules.Count(m => m.Target == target);

    /// <summary>
    /// Reads a LoRA safetensors file (see the class summary for the namings). Errors — a tensor that is no LoRA factor, a
    /// down without its up (or the reverse), ranks that disagree, an unsupported dtype or rank of tensor — are one
    /// <see cref="InvalidDataException"/> naming the file and the tensor.
    /// </summary>
    public static LoraAdapter Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: LoRA file not found", path);
        using var ck = SafetensorsCheckpoint.Open(path);
        var layout = ReadLayout(path, ck.TensorNames.Select(ck.Info).ToList());
        var modules = new List<Module>(layout.Modules.Count);
        foreach (var m in layout.Modules)
        {
            float alpha = m.Down.Shape[0];
            if (m.AlphaName is { } alphaName)
            {
                var a = ck.ReadFloats(alphaName);
                if (a.Length != 1 || !float.IsFinite(a[0]))
                    throw new InvalidDataException($"{path}: tensor '{alphaName}' must be one finite number (got {a.Length} values)");
                alpha = a[0];
            }
            modules.Add(new Module(m.Target, m.Name, m.Underscored, ck.ReadFloats(m.Down.Name), m.Down.Shape, ck.ReadFloats(m.Up.Name), m.Up.Shape, alpha));
        }
        return new LoraAdapter(path, modules);
    }

    /// <summary>Whether a tensor name ends like a LoRA factor or alpha (the suffixes <see cref="ReadLayout"/> reads).</summary>
    public static bool IsLoraTensorName(string name) => Suffixes.Any(s => name.EndsWith(s.Suffix, StringComparison.Ordinal));

    /// <summary>The name a pipeline folder gives the model a target adapts: unet, text_encoder, text_encoder_2.</summary>
    public static string TargetName(LoraTarget target) => target switch
    {
        LoraTarget.Unet => "unet",
        LoraTarget.TextEncoder => "text_encoder",
        _ => "text_encoder_2",
    };

    /// <summary>
    /// A LoRA file's structure from its tensor names and shapes alone (no data read): modules, their targets, factors and
    /// naming. <see cref="Load"/> reads through it; <see cref="ModelDetection"/> uses it to describe a LoRA file. Errors are
    /// the <see cref="InvalidDataException"/>s described at <see cref="Load"/>, naming <paramref name="source"/>.
    /// </summary>
    public static LoraLayout ReadLayout(string source, IReadOnlyList<CheckpointTensor> tensors)
    {
        var parts = new Dictionary<(LoraTarget, string, bool), Dictionary<char, CheckpointTensor>>();
        var namings = new HashSet<WeightNaming>();
        foreach (var info in tensors)
        {
            string name = info.Name;
            var (suffix, part) = Suffixes.FirstOrDefault(s => name.EndsWith(s.Suffix, StringComparison.Ordinal));
            if (suffix is null)
                throw new InvalidDataException(
                    $"{source}: tensor '{name}' is not a LoRA factor (expected names ending in .lora_A/.lora_B.weight, .lora.down/.lora.up.weight, .lora_down/.lora_up.weight or .alpha; LoHa/LoKr/DoRA are not supported)");
            string module = name[..^suffix.Length];
            var (prefix, target, underscored) = Prefixes.FirstOrDefault(p => module.StartsWith(p.Prefix, StringComparison.Ordinal));
            if (prefix is not null) module = module[prefix.Length..];
            else if (module.StartsWith("lora_", StringComparison.Ordinal))
                throw new InvalidDataException($"{source}: tensor '{name}': unknown kohya prefix (known: lora_unet_, lora_te_, lora_te1_, lora_te2_)");
            else (target, underscored) = (LoraTarget.Unet, false);   // diffusers' attention-processor LoRAs carry no prefix
            if (module.Length == 0) throw new InvalidDataException($"{source}: tensor '{name}' names no module");
            if (info.DType is not (SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F64))
                throw new InvalidDataException($"{source}: tensor '{name}' has dtype {info.DType}; LoRA tensors must be F32, F16, BF16 (widened to F32) or F64");
            if (part != 'a')
                namings.Add(underscored ? WeightNaming.Kohya : suffix.StartsWith(".lora_A", StringComparison.Ordinal) || suffix.StartsWith(".lora_B", StringComparison.Ordinal)
                    ? WeightNaming.Peft : WeightNaming.Diffusers);
            var key = (target, module, underscored);
            if (!parts.TryGetValue(key, out var byPart)) parts[key] = byPart = new Dictionary<char, CheckpointTensor>();
            if (!byPart.TryAdd(part, info))
                throw new InvalidDataException($"{source}: module '{module}' has two {PartName(part)} tensors: '{byPart[part].Name}' and '{name}'");
        }
        if (parts.Count == 0) throw new InvalidDataException($"{source}: no tensors — not a LoRA");

        var modules = new List<LoraModuleLayout>(parts.Count);
        foreach (var ((target, module, underscored), byPart) in parts)
        {
            string any = byPart.Values.First().Name;
            if (!byPart.TryGetValue('d', out var down) || !byPart.TryGetValue('u', out var up))
                throw new InvalidDataException(
                    $"{source}: module '{module}' ({any}) has no {(byPart.ContainsKey('d') ? "up (lora_B / lora_up)" : "down (lora_A / lora_down)")} tensor — a LoRA module needs both");
            if (down.Shape.Length is not (2 or 4))
                throw new InvalidDataException($"{source}: tensor '{down.Name}' has shape {down.ShapeString}; a LoRA down is [r,in] or [r,in,kh,kw]");
            if (up.Shape.Length is not (2 or 4) || (up.Shape.Length == 4 && (up.Shape[2] != 1 || up.Shape[3] != 1)))
                throw new InvalidDataException($"{source}: tensor '{up.Name}' has shape {up.ShapeString}; a LoRA up is [out,r] or [out,r,1,1]");
            if (up.Shape[1] != down.Shape[0] || down.Shape[0] == 0)
                throw new InvalidDataException(
                    $"{source}: module '{module}': up '{up.Name}' {up.ShapeString} and down '{down.Name}' {down.ShapeString} disagree on the rank ({up.Shape[1]} vs {down.Shape[0]})");
            modules.Add(new LoraModuleLayout(target, module, underscored, down, up, byPart.TryGetValue('a', out var a) ? a.Name : null));
        }
        return new LoraLayout(namings.Count == 1 ? namings.First() : WeightNaming.Mixed, modules);
    }

    /// <summary>
    /// A command-line LoRA spec, <c>FILE[:scale]</c> (what <c>generate --lora</c> takes): the scale after the last ':'
    /// when it parses as a number, else 1 with the whole text as the path.
    /// </summary>
    public static (string Path, float Scale) ParseSpec(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        int colon = spec.LastIndexOf(':');
        if (colon > 0 && float.TryParse(spec.AsSpan(colon + 1), System.Globalization.NumberStyles.Float,
                System.Globalization.CultureInfo.InvariantCulture, out float scale))
        {
            if (!float.IsFinite(scale)) throw new ArgumentException($"LoRA '{spec}': the scale must be a finite number");
            return (spec[..colon], scale);
        }
        return (spec, 1f);
    }

    private static string PartName(char part) => part switch { 'd' => "down", 'u' => "up", _ => "alpha" };

    /// <summary>
    /// Fuses every module of <paramref name="target"/> into <paramref name="weights"/> (names as the model keeps them:
    /// diffusers' for the UNet, HF's for the CLIP text encoders), in place on the tensors: W += scale·(alpha/r)·up·down,
    /// one <see cref="Ops.Gemm"/> (beta = 1) per module under the ledger scope "lora", so the fuse's cost is counted
    /// (2·out·r·in matmul FLOPs per module) and the model's per-step cost does not change. Modules that match no
    /// weight are listed in the report; if none matches, an <see cref="InvalidDataException"/> lists a few tried.
    /// </summary>
    public LoraFuseReport FuseInto(IAccelerator acc, IReadOnlyDictionary<string, Tensor> weights, LoraTarget target, float scale) =>
        FuseInto(acc, weights, target, scale, alternateNames: null);

    /// <summary>Fuses the UNet modules into a <see cref="UnetModel"/>; kohya's LDM-style module names
    /// (<c>lora_unet_input_blocks_1_1_…</c>) resolve through <see cref="UnetModel.LdmName"/>.</summary>
    public LoraFuseReport FuseInto(UnetModel unet, float scale)
    {
        ArgumentNullException.ThrowIfNull(unet);
        var ldm = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in unet.Weights.Keys) ldm[UnetModel.LdmName(unet.Config, name)] = name;
        return FuseInto(unet.Accelerator, unet.Weights, LoraTarget.Unet, scale, ldm);
    }

    /// <param name="alternateNames">Other names of weights (e.g. LDM's) → the dictionary's names; matched as well.</param>
    public LoraFuseReport FuseInto(IAccelerator acc, IReadOnlyDictionary<string, Tensor> weights, LoraTarget target, float scale,
        IReadOnlyDictionary<string, string>? alternateNames)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(weights);
        if (!float.IsFinite(scale)) throw new ArgumentException($"LoRA scale must be finite, got {scale}", nameof(scale));
        ObjectDisposedException.ThrowIf(_disposed, this);
        var mine = _modules.Where(m => m.Target == target).ToList();
        if (mine.Count == 0) return new LoraFuseReport(target, 0, []);

        // Module name → weight name, dotted and with '.' → '_' (kohya), from the weights actually present.
        const string weightSuffix = ".weight";
        var dotted = new Dictionary<string, string>(StringComparer.Ordinal);
        var underscored = new Dictionary<string, string?>(StringComparer.Ordinal);
        void AddName(string alias, string weightName)
        {
            if (!alias.EndsWith(weightSuffix, StringComparison.Ordinal)) return;
            string module = alias[..^weightSuffix.Length];
            dotted.TryAdd(module, weightName);
            string u = module.Replace('.', '_');
            // Two weights whose names differ only in '.' vs '_' would be ambiguous for kohya names: mark, never guess.
            if (underscored.TryGetValue(u, out var prior) && prior != weightName) underscored[u] = null;
            else underscored[u] = weightName;
        }
        foreach (var name in weights.Keys) AddName(name, name);
        if (alternateNames is not null)
            foreach (var (alias, name) in alternateNames)
                if (weights.ContainsKey(name)) AddName(alias, name);

        var matched = new List<(Module M, string Weight)>();
        var unmatched = new List<string>();
        foreach (var m in mine)
        {
            string? w = m.Underscored ? underscored.GetValueOrDefault(m.Name) : dotted.GetValueOrDefault(m.Name);
            if (w is null) unmatched.Add(m.Name);
            else matched.Add((m, w));
        }
        if (matched.Count == 0)
            throw new InvalidDataException(
                $"{Path}: none of the {mine.Count} {target} LoRA modules matches a weight of the model — tried '{string.Join("', '", unmatched.Take(4))}'"
                + $"{(unmatched.Count > 4 ? ", …" : "")} (the model's weights are named like '{weights.Keys.FirstOrDefault(k => k.EndsWith(weightSuffix, StringComparison.Ordinal)) ?? "(none)"}')");

        // Check every shape before changing any weight: a LoRA for another model fails whole, not half-fused.
        var plans = new List<(Module M, string Weight, Tensor W, int Out, int In)>(matched.Count);
        foreach (var (m, wName) in matched)
        {
            var w = weights[wName];
            if (w.DType != DType.F32)
                throw new NotSupportedException($"{Path}: cannot fuse into '{wName}': it is {w.DType}; fuse LoRAs into F32 weights (before any conversion to F16)");
            if (w.Rank is not (2 or 4) || !w.IsContiguous)
                throw new InvalidDataException($"{Path}: module '{m.Name}' targets '{wName}' {w.ShapeString}, which is neither a linear nor a conv weight");
            int outF = w.Dim(0);
            int inF = (int)(w.Length / outF);
            long downIn = Tensor.ElementCount(m.DownShape) / m.Rank;
            bool upFits = m.UpShape[0] == outF;
            // A conv down [r,in,kh,kw] must have the weight's kernel; a 1×1 one also fits a linear weight (SD 2 proj_in/out).
            bool downFits = downIn == inF && (m.DownShape.Length == 2
                || (w.Rank == 4 ? m.DownShape.AsSpan(1).SequenceEqual(w.Shape[1..]) : m.DownShape[2] == 1 && m.DownShape[3] == 1));
            if (!upFits || !downFits)
                throw new InvalidDataException(
                    $"{Path}: module '{m.Name}' does not fit '{wName}' {w.ShapeString}: up {Tensor.FormatShape(m.UpShape)} · down {Tensor.FormatShape(m.DownShape)}"
                    + $" gives [{m.UpShape[0]},{downIn}] — a LoRA for another model?");
            plans.Add((m, wName, w, outF, inF));
        }

        using (acc.Ledger.Scope("lora"))
        {
            foreach (var (m, _, w, outF, inF) in plans)
            {
                using var up = Upload(acc, w, m.Up, outF, m.Rank);
                using var down = Upload(acc, w, m.Down, m.Rank, inF);
                using var flat = w.Reshape(outF, inF);
                Ops.Gemm(acc, up, down, flat, alpha: scale * (m.Alpha / m.Rank), beta: 1f);
            }
        }
        return new LoraFuseReport(target, matched.Count, unmatched);
    }

    private static Tensor Upload(IAccelerator acc, Tensor like, float[] data, int rows, int cols) =>
        like.IsMeta ? acc.Allocate(rows, cols) : acc.FromArray(data, rows, cols);

    private bool _disposed;

    /// <summary>Drops the host copies of the factors; the adapter cannot fuse afterwards.</summary>
    public void Dispose()
    {
        _disposed = true;
        _modules.Clear();
    }
}
