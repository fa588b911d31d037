using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using PixelCost.Runtime.Tokenizers;
using Xunit;
using Xunit.Abstractions;

namespace PixelCost.Runtime.Tests.Tokenizers;

/// <summary>
/// ClipTokenizer against Golden/clip/token_ids.json (copied from the shared CLIP data: ids of HF's CLIPTokenizer for a
/// dozen prompts, [bos] + bpe + [eos] before truncation and padding) and Golden/clip/{vocab.json,merges.txt}.gz (the
/// shared vocabulary files, gzip-compressed — the folder layout of a diffusers pipeline's tokenizer/).
/// </summary>
[Trait("Golden", "HF CLIPTokenizer ids (Golden/clip)")]
public class ClipTokenizerTests(ITestOutputHelper output)
{
    private static string GoldenDir => Path.Combine(AppContext.BaseDirectory, "Golden", "clip");

    public static IReadOnlyList<(string Prompt, int[] Ids)> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(GoldenDir, "token_ids.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("prompt").GetString()!, c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray()))
            .ToList();
    }

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Cases().Count; i++) data.Add(i);
        return data;
    }

    /// <summary>Writes the golden vocab.json + merges.txt (decompressed) into a fresh folder.</summary>
    internal static string WriteVocabularyFolder(string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var name in new[] { "vocab.json", "merges.txt" })
        {
            using var gz = new GZipStream(File.OpenRead(Path.Combine(GoldenDir, name + ".gz")), CompressionMode.Decompress);
            using var outFile = File.Create(Path.Combine(dir, name));
            gz.CopyTo(outFile);
        }
        return dir;
    }

    private static string TempDir() => Directory.CreateTempSubdirectory("pixelcost-tok-").FullName;

    [Fact]
    public void Golden_HasTwelvePrompts() => Assert.Equal(12, Cases().Count);

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void EncodeUnpadded_MatchesGoldenIds(int index)
    {
        var (prompt, ids) = Cases()[index];
        Assert.Equal(ids, ClipTokenizer.Default.EncodeUnpadded(prompt));
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void Encode_PadsWithEndOfTextOrZero(int index)
    {
        var (prompt, ids) = Cases()[index];
        if (ids.Length > ClipTokenizer.MaxLength) return;   // the long prompt: Encode_TruncatesTheLongPrompt
        foreach (var (padding, pad) in new[] { (ClipPadding.EndOfText, 49407), (ClipPadding.Zero, 0) })
        {
            var t = ClipTokenizer.Default.Encode(prompt, padding);
            var expected = ids.Concat(Enumerable.Repeat(pad, 77 - ids.Length)).ToArray();
            Assert.Equal(expected, t.Ids);
            Assert.Equal(ids.Length, t.TokenCount);
            Assert.Equal(ids.Length, t.OriginalTokenCount);
            Assert.False(t.Truncated);
        }
    }

    [Fact]
    public void Encode_TruncatesTheLongPrompt()
    {
        var (prompt, ids) = Cases().Single(c => c.Ids.Length > 77);
        foreach (var padding in new[] { ClipPadding.EndOfText, ClipPadding.Zero })
        {
            var t = ClipTokenizer.Default.Encode(prompt, padding);
            Assert.Equal(77, t.Ids.Length);
            Assert.True(t.Truncated);
            Assert.Equal(77, t.TokenCount);
            Assert.Equal(ids.Length, t.OriginalTokenCount);
            // HF CLIPTokenizer(truncation=True, max_length=77): the first 76 ids, then eos.
            Assert.Equal(ids.Take(76).Append(49407).ToArray(), t.Ids);
        }
        var short10 = ClipTokenizer.Default.Encode(prompt, ClipPadding.Zero, maxLength: 10);
        Assert.Equal(ids.Take(9).Append(49407).ToArray(), short10.Ids);
    }

    [Fact]
    public void EmptyPrompt_IsBosEos()
    {
        Assert.Equal([49406, 49407], ClipTokenizer.Default.EncodeUnpadded(""));
        Assert.Equal([49406, 49407], ClipTokenizer.Default.EncodeUnpadded("  \t\n "));
        var t = ClipTokenizer.Default.Encode("", ClipPadding.Zero);
        Assert.Equal(new[] { 49406, 49407 }.Concat(new int[75]).ToArray(), t.Ids);
        Assert.Equal(2, t.TokenCount);
    }

    [Fact]
    public void Normalizer_UnescapesHtmlCollapsesWhitespaceAndLowerCases()
    {
        // CLIP's basic_clean + whitespace_clean + lower, written out by hand.
        Assert.Equal("a & b <c>", ClipNormalizer.Instance.Normalize("  A &amp;amp;   B\t&lt;C&gt;\n"));
        Assert.Equal(ClipTokenizer.Default.EncodeUnpadded("cat & dog"), ClipTokenizer.Default.EncodeUnpadded("Cat &amp; DOG"));
    }

    [Fact]
    public void TokenStringsAndDecode_RoundTrip()
    {
        var tok = ClipTokenizer.Default;
        var ids = tok.EncodeUnpadded("a photo of a cat");
        Assert.Equal(new[] { "<|startoftext|>", "a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>", "<|endoftext|>" }, ids.Select(i => tok.TokenString(i) ?? "?").ToArray());
        Assert.Equal("a photo of a cat", tok.Decode(ids));
        // Non-ASCII goes through byte-level symbols: 'é' is bytes C3 A9, two symbols.
        Assert.Equal("café crème", tok.Decode(tok.EncodeUnpadded("Café  Crème")));
        // Digits are single pre-tokens in CLIP, so each one ends a "word".
        Assert.Equal("1 0 2 4 x", tok.Decode(tok.EncodeUnpadded("1024x")));
        Assert.Null(tok.TokenString(-1));
        Assert.Equal(49408, tok.VocabularySize);
    }

    [Fact]
    public void Load_FromFolder_GivesTheSameIdsAsDefault()
    {
        string dir = TempDir();
        try
        {
            WriteVocabularyFolder(Path.Combine(dir, "tokenizer"));
            var fromFolder = ClipTokenizer.Load(Path.Combine(dir, "tokenizer"));
            var forModel = ClipTokenizer.ForModel(dir);
            Assert.NotSame(ClipTokenizer.Default, forModel);
            foreach (var (prompt, ids) in Cases())
            {
                Assert.Equal(ids, fromFolder.EncodeUnpadded(prompt));
                Assert.Equal(ids, forModel.EncodeUnpadded(prompt));
            }
            Assert.Equal(ClipPadding.EndOfText, fromFolder.Padding);   // no special_tokens_map.json
            // SD 2.x's tokenizer folder names "!" (id 0) as its pad token; SD 1.x's <|endoftext|>.
            File.WriteAllText(Path.Combine(dir, "tokenizer", "tokenizer_config.json"), """{"model_max_length": 77, "pad_token": "!"}""");
            Assert.Equal(ClipPadding.Zero, ClipTokenizer.Load(Path.Combine(dir, "tokenizer")).Padding);
            File.WriteAllText(Path.Combine(dir, "tokenizer", "special_tokens_map.json"), """{"pad_token": {"content": "<|endoftext|>"}}""");
            Assert.Equal(ClipPadding.EndOfText, ClipTokenizer.Load(Path.Combine(dir, "tokenizer")).Padding);   // the map is read first
            Assert.Equal(ClipPadding.EndOfText, ClipTokenizer.Default.Padding);
            // No tokenizer files: the built-in vocabulary.
            Assert.Same(ClipTokenizer.Default, ClipTokenizer.ForModel(dir, "tokenizer_2"));
            Assert.Same(ClipTokenizer.Default, ClipTokenizer.ForModel(null));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Load_CorruptFolder_NamesTheFile()
    {
        string dir = TempDir();
        try
        {
            WriteVocabularyFolder(dir);
            string vocab = Path.Combine(dir, "vocab.json"), merges = Path.Combine(dir, "merges.txt");
            string good = File.ReadAllText(vocab), goodMerges = File.ReadAllText(merges);

            File.Delete(merges);
            var e = Assert.Throws<InvalidDataException>(() => ClipTokenizer.Load(dir));
            Assert.Contains("merges.txt", e.Message);
            Assert.Throws<InvalidDataException>(() => ClipTokenizer.ForModel(dir));   // files present but broken: no fallback

            File.WriteAllText(merges, goodMerges);
            File.WriteAllText(vocab, good[..(good.Length / 2)]);   // truncated JSON
            e = Assert.Throws<InvalidDataException>(() => ClipTokenizer.Load(dir));
            Assert.Contains("vocab.json", e.Message);

            File.WriteAllText(vocab, "[1, 2, 3]");
            e = Assert.Throws<InvalidDataException>(() => ClipTokenizer.Load(dir));
            Assert.Contains("vocab.json", e.Message);

            File.WriteAllText(vocab, good.Replace("\"<|endoftext|>\"", "\"<|end|>\""));
            e = Assert.Throws<InvalidDataException>(() => ClipTokenizer.Load(dir));
            Assert.Contains("vocab.json", e.Message);
            Assert.Contains("<|endoftext|>", e.Message);

            File.WriteAllText(vocab, good);
            File.WriteAllText(merges, "#version: 0.2\ni n\nthis line has three\n");
            e = Assert.Throws<InvalidDataException>(() => ClipTokenizer.Load(dir));
            Assert.Contains("merges.txt", e.Message);
            Assert.Contains("line 3", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Encode_RejectsBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ClipTokenizer.Default.Encode("a", ClipPadding.Zero, 1));
        Assert.Throws<ArgumentNullException>(() => ClipTokenizer.Default.EncodeUnpadded(null!));
    }

    [Fact]
    public void LoadTime_IsReported()
    {
        // Not an assertion on time (no timed assertions): the first-call cost of a fresh built-in load, for the log.
        for (int i = 0; i < 3; i++)
        {
            var sw = Stopwatch.StartNew();
            var t = ClipTokenizer.LoadEmbedded();
            var ids = t.EncodeUnpadded("a photo of a cat");
            output.WriteLine($"built-in vocabulary: load + first encode {sw.Elapsed.TotalMilliseconds:F0} ms");
            Assert.Equal(Cases()[0].Ids, ids);
        }
    }
}
