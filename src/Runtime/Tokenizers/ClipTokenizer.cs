using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace PixelCost.Runtime.Tokenizers;

/// <summary>How a prompt is padded to the model's context length.</summary>
public enum ClipPadding
{
    /// <summary>SD 1.x (OpenAI CLIP's HF tokenizer): pad with &lt;|endoftext|&gt; (49407).</summary>
    EndOfText,

    /// <summary>SD 2.x / OpenCLIP: pad with id 0 ("!").</summary>
    Zero,
}

/// <summary>
/// One prompt as the text encoder takes it: <see cref="Ids"/> has the requested length (77), bos … eos then padding.
/// <see cref="TokenCount"/> counts bos..eos after truncation; <see cref="OriginalTokenCount"/> before it.
/// </summary>
public sealed record TokenizedPrompt(int[] Ids, int TokenCount, bool Truncated, int OriginalTokenCount);

/// <summary>
/// OpenAI CLIP's byte-level BPE tokenizer (SD 1.x, SD 2.x and SDXL all use its vocabulary), on Microsoft.ML.Tokenizers'
/// <see cref="BpeTokenizer"/>: CLIP's cleaning (<see cref="ClipNormalizer"/>), CLIP's pre-tokenizer regex, byte-level
/// symbols, "&lt;/w&gt;" marking a word's last symbol. Encodes as <c>[bos] + bpe(prompt) + [eos]</c>, truncated so eos stays last.
/// </summary>
public sealed class ClipTokenizer
{
    public const int BeginOfText = 49406, EndOfText = 49407, MaxLength = 77;
    public const string BeginOfTextToken = "<|startoftext|>", EndOfTextToken = "<|endoftext|>";
    public const string VocabFile = "vocab.json", MergesFile = "merges.txt";

    // CLIP's pre-tokenizer (simple_tokenizer.py / HF CLIPTokenizer), compiled once: the special tokens, English
    // contractions, letter runs, single digits, runs of other non-space characters. re.IGNORECASE as in CLIP.
    private static readonly Regex PreTokenizerPattern = new(
        @"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    private static readonly Lazy<ClipTokenizer> DefaultInstance = new(LoadEmbedded, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<int, string> _tokens;

    private ClipTokenizer(BpeTokenizer bpe, Dictionary<int, string> tokens, string source, int bos, int eos)
    {
        _bpe = bpe;
        _tokens = tokens;
        Source = source;
        BeginOfTextId = bos;
        EndOfTextId = eos;
    }

    /// <summary>The vocabulary shipped inside PixelCost.Runtime (OpenAI CLIP's, 49,408 tokens), loaded on first use.</summary>
    public static ClipTokenizer Default => DefaultInstance.Value;

    /// <summary>Where the vocabulary came from: "built-in" or the folder.</summary>
    public string Source { get; }

    /// <summary>The padding the tokenizer's folder names (its pad_token); <see cref="ClipPadding.EndOfText"/> for the
    /// built-in vocabulary and folders that name none.</summary>
    public ClipPadding Padding { get; private set; } = ClipPadding.EndOfText;

    public int BeginOfTextId { get; }
    public int EndOfTextId { get; }
    public int VocabularySize => _tokens.Count;

    /// <summary>
    /// A tokenizer from a folder with <c>vocab.json</c> + <c>merges.txt</c> (a diffusers pipeline's <c>tokenizer/</c>).
    /// A missing or invalid file is an <see cref="InvalidDataException"/> naming it.
    /// </summary>
    public static ClipTokenizer Load(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: tokenizer folder not found");
        string vocabPath = Path.Combine(folder, VocabFile), mergesPath = Path.Combine(folder, MergesFile);
        foreach (var p in new[] { vocabPath, mergesPath })
            if (!File.Exists(p)) throw new InvalidDataException($"{p}: missing — a CLIP tokenizer folder needs {VocabFile} and {MergesFile}");
        ClipTokenizer tok;
        using (var vocab = File.OpenRead(vocabPath))
        using (var merges = File.OpenRead(mergesPath))
            tok = Create(vocab, vocabPath, merges, mergesPath, Path.GetFullPath(folder));
        tok.Padding = ReadPadding(folder, tok);
        return tok;
    }

    /// <summary>
    /// The padding a tokenizer folder asks for: the <c>pad_token</c> of special_tokens_map.json or tokenizer_config.json
    /// (diffusers pipelines carry both): &lt;|endoftext|&gt; (SD 1.x) or "!" = id 0 (SD 2.x, SDXL's tokenizer_2).
    /// Neither file: <see cref="ClipPadding.EndOfText"/>.
    /// </summary>
    private static ClipPadding ReadPadding(string folder, ClipTokenizer tok)
    {
        foreach (var name in new[] { "special_tokens_map.json", "tokenizer_config.json" })
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path)) continue;
            string? pad;
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
                if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("pad_token", out var p)) continue;
                pad = p.ValueKind switch
                {
                    JsonValueKind.String => p.GetString(),
                    JsonValueKind.Object when p.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
                    JsonValueKind.Null => null,
                    _ => throw new InvalidDataException($"{path}: pad_token must be a string or an object with \"content\""),
                };
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}: invalid JSON: {e.Message}", e);
            }
            if (pad is null) continue;
            int id = tok._bpe.Vocabulary.TryGetValue(pad, out int v) ? v : -1;
            if (id == tok.EndOfTextId) return ClipPadding.EndOfText;
            if (id == 0) return ClipPadding.Zero;
            throw new InvalidDataException($"{path}: pad_token '{pad}' (id {id}) is neither <|endoftext|> nor id 0 — not a CLIP padding this tokenizer knows");
        }
        return ClipPadding.EndOfText;
    }

    /// <summary>
    /// The tokenizer of a model: <paramref name="modelPath"/>/<paramref name="folderName"/> (a pipeline folder's
    /// tokenizer/, or tokenizer_2/ for SDXL's second encoder) or <paramref name="modelPath"/> itself when it holds
    /// vocab.json or merges.txt; otherwise — null, a single-file checkpoint, a folder without tokenizer files, a preset
    /// name — <see cref="Default"/>. A tokenizer folder with one file missing or invalid is an error, not a fallback.
    /// </summary>
    public static ClipTokenizer ForModel(string? modelPath, string folderName = "tokenizer")
    {
        if (string.IsNullOrEmpty(modelPath) || !Directory.Exists(modelPath)) return Default;
        foreach (var dir in new[] { Path.Combine(modelPath, folderName), modelPath })
            if (File.Exists(Path.Combine(dir, VocabFile)) || File.Exists(Path.Combine(dir, MergesFile)))
                return Load(dir);
        return Default;
    }

    /// <summary><c>[bos] + bpe(prompt) + [eos]</c>, not truncated, not padded.</summary>
    public IReadOnlyList<int> EncodeUnpadded(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var body = _bpe.EncodeToIds(prompt);
        var ids = new int[body.Count + 2];
        ids[0] = BeginOfTextId;
        for (int i = 0; i < body.Count; i++) ids[i + 1] = body[i];
        ids[^1] = EndOfTextId;
        return ids;
    }

    /// <summary>
    /// The prompt as <paramref name="maxLength"/> ids: truncated to <paramref name="maxLength"/> with eos last (the
    /// text encoder reads its pooled output at the eos), then padded.
    /// </summary>
    public TokenizedPrompt Encode(string prompt, ClipPadding padding, int maxLength = MaxLength)
    {
        if (maxLength < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "max length must be at least 2 (bos and eos)");
        if (!Enum.IsDefined(padding)) throw new ArgumentOutOfRangeException(nameof(padding), padding, "unknown padding");
        var full = EncodeUnpadded(prompt);
        int count = Math.Min(full.Count, maxLength);
        var ids = new int[maxLength];
        for (int i = 0; i < count; i++) ids[i] = full[i];
        bool truncated = full.Count > maxLength;
        if (truncated) ids[count - 1] = EndOfTextId;
        Array.Fill(ids, padding == ClipPadding.EndOfText ? EndOfTextId : 0, count, maxLength - count);
        return new TokenizedPrompt(ids, count, truncated, full.Count);
    }

    /// <summary>The vocabulary entry of an id as HF's convert_ids_to_tokens shows it ("cat&lt;/w&gt;"); null when unknown.</summary>
    public string? TokenString(int id) => _tokens.GetValueOrDefault(id);

    /// <summary>Ids back to text (byte-level symbols to UTF-8, "&lt;/w&gt;" to a space; bos/eos left out).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        // CLIP's decode: the symbols' bytes (byte-level: every byte is one printable char), UTF-8, then "</w>" → " ".
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (id == BeginOfTextId || id == EndOfTextId || !_tokens.TryGetValue(id, out var token)) continue;
            foreach (char c in token) bytes.Add(ByteOfSymbol.Value.TryGetValue(c, out byte b) ? b : (byte)'?');
        }
        return Encoding.UTF8.GetString(bytes.ToArray()).Replace("</w>", " ").Trim();
    }

    /// <summary>
    /// GPT-2/CLIP byte-level symbols: bytes '!'..'~', '¡'..'¬', '®'..'ÿ' stand for themselves; the other 68 bytes (controls,
    /// space, …), in order, for U+0100 onwards.
    /// </summary>
    private static readonly Lazy<Dictionary<char, byte>> ByteOfSymbol = new(() =>
    {
        var map = new Dictionary<char, byte>(256);
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[printable ? (char)b : (char)next++] = (byte)b;
        }
        return map;
    });

    /// <summary>A fresh load of the built-in vocabulary (what <see cref="Default"/> does once).</summary>
    internal static ClipTokenizer LoadEmbedded()
    {
        var asm = typeof(ClipTokenizer).Assembly;
        const string vocabName = "PixelCost.Runtime.Tokenizers.clip-vocab.json.gz", mergesName = "PixelCost.Runtime.Tokenizers.clip-merges.txt.gz";
        using var vocabRes = asm.GetManifestResourceStream(vocabName) ?? throw new InvalidDataException($"resource {vocabName} missing from {asm.GetName().Name}");
        using var mergesRes = asm.GetManifestResourceStream(mergesName) ?? throw new InvalidDataException($"resource {mergesName} missing from {asm.GetName().Name}");
        using var vocab = new GZipStream(vocabRes, CompressionMode.Decompress);
        using var merges = new GZipStream(mergesRes, CompressionMode.Decompress);
        return Create(vocab, "built-in " + VocabFile, merges, "built-in " + MergesFile, "built-in");
    }

    private static ClipTokenizer Create(Stream vocabStream, string vocabName, Stream mergesStream, string mergesName, string source)
    {
        var vocab = ReadVocabulary(vocabStream, vocabName);
        var merges = ReadMerges(mergesStream, mergesName);
        int Special(string token) => vocab.TryGetValue(token, out int id) ? id
            : throw new InvalidDataException($"{vocabName}: has no '{token}' entry — not a CLIP vocabulary");
        var special = new Dictionary<string, int> { [BeginOfTextToken] = Special(BeginOfTextToken), [EndOfTextToken] = Special(EndOfTextToken) };
        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(new BpeOptions(vocab)
            {
                Merges = merges,
                SpecialTokens = special,
                Normalizer = ClipNormalizer.Instance,
                PreTokenizer = new RegexPreTokenizer(PreTokenizerPattern, special),
                EndOfWordSuffix = "</w>",
                ByteLevel = true,
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidDataException($"{vocabName} + {mergesName}: not a usable BPE vocabulary: {e.Message}", e);
        }
        var tokens = new Dictionary<int, string>(vocab.Count);
        foreach (var (token, id) in vocab)
            if (!tokens.TryAdd(id, token)) throw new InvalidDataException($"{vocabName}: id {id} is given to both '{tokens[id]}' and '{token}'");
        return new ClipTokenizer(bpe, tokens, source, special[BeginOfTextToken], special[EndOfTextToken]);
    }

    /// <summary>vocab.json: one JSON object of token → id.</summary>
    private static Dictionary<string, int> ReadVocabulary(Stream stream, string name)
    {
        byte[] json;
        using (var ms = new MemoryStream())
        {
            stream.CopyTo(ms);
            json = ms.ToArray();
        }
        var vocab = new Dictionary<string, int>(50_000, StringComparer.Ordinal);
        try
        {
            var r = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject)
                throw new InvalidDataException($"{name}: expected a JSON object of token → id");
            while (r.Read() && r.TokenType != JsonTokenType.EndObject)
            {
                string token = r.GetString()!;
                if (!r.Read() || r.TokenType != JsonTokenType.Number || !r.TryGetInt32(out int id) || id < 0)
                    throw new InvalidDataException($"{name}: token '{token}' has no non-negative integer id");
                if (!vocab.TryAdd(token, id)) throw new InvalidDataException($"{name}: token '{token}' appears twice");
            }
            if (r.TokenType != JsonTokenType.EndObject) throw new InvalidDataException($"{name}: the JSON object is not closed");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{name}: invalid JSON: {e.Message}", e);
        }
        if (vocab.Count == 0) throw new InvalidDataException($"{name}: the vocabulary is empty");
        return vocab;
    }

    /// <summary>merges.txt: an optional "#version" line, then one "left right" pair per line, highest priority first.</summary>
    private static List<string> ReadMerges(Stream stream, string name)
    {
        var merges = new List<string>(50_000);
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        int lineNo = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (line.Length == 0 || (lineNo == 1 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            int sp = line.IndexOf(' ');
            if (sp <= 0 || sp == line.Length - 1 || line.IndexOf(' ', sp + 1) >= 0)
                throw new InvalidDataException($"{name}: line {lineNo} is not a merge pair \"left right\": '{(line.Length > 60 ? line[..60] + "…" : line)}'");
            merges.Add(line);
        }
        if (merges.Count == 0) throw new InvalidDataException($"{name}: no merges");
        return merges;
    }
}

/// <summary>
/// CLIP's text cleaning before BPE: HTML entities unescaped (twice, as CLIP's <c>html.unescape(html.unescape(t))</c>),
/// whitespace runs collapsed to one space, trimmed, lower-cased. ftfy's mojibake repair is not reproduced; prompts that
/// need it are rare and already broken text.
/// </summary>
public sealed class ClipNormalizer : Normalizer
{
    private static readonly Regex Whitespace = new(@"\s+", RegexOptions.CultureInvariant);

    public static ClipNormalizer Instance { get; } = new();

    public override string Normalize(string original)
    {
        ArgumentNullException.ThrowIfNull(original);
        string t = original.Contains('&') ? WebUtility.HtmlDecode(WebUtility.HtmlDecode(original)) : original;
        return Whitespace.Replace(t, " ").Trim().ToLowerInvariant();
    }

    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());
}
