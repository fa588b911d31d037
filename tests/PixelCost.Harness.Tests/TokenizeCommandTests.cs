using System.Text.Json;
using PixelCost.Harness.Commands;
using Xunit;

namespace PixelCost.Harness.Tests;

/// <summary><c>pixelcost tokenize</c> against Golden/clip/token_ids.json (HF CLIPTokenizer ids, linked from the Runtime tests).</summary>
public class TokenizeCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args, TokenizeCommand.Create());

    private static IReadOnlyList<(string Prompt, int[] Ids)> Golden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Golden", "clip", "token_ids.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("prompt").GetString()!, c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray()))
            .ToList();
    }

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(i => i.GetInt32()).ToArray();

    [Fact]
    public void Json_GivesTheGoldenIdsPadded()
    {
        foreach (var (prompt, ids) in Golden().Where(g => g.Ids.Length <= 77))
        {
            var r = Run("tokenize", prompt, "--json");
            Assert.True(r.Code == 0, r.Err);
            using var doc = JsonDocument.Parse(r.Out);
            var root = doc.RootElement;
            Assert.Equal(ids.Concat(Enumerable.Repeat(49407, 77 - ids.Length)), Ints(root.GetProperty("ids")));
            Assert.Equal(ids.Length, root.GetProperty("token_count").GetInt32());
            Assert.Equal(ids.Length, root.GetProperty("tokens").GetArrayLength());
            Assert.False(root.GetProperty("truncated").GetBoolean());
        }
    }

    [Fact]
    public void ZeroPadding_AndTheEmptyPrompt()
    {
        var r = Run("tokenize", "", "--pad", "zero", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(new[] { 49406, 49407 }.Concat(new int[75]), Ints(doc.RootElement.GetProperty("ids")));
        Assert.Equal(2, doc.RootElement.GetProperty("token_count").GetInt32());
    }

    [Fact]
    public void Text_ShowsIdsTokensAndCount()
    {
        var r = Run("tokenize", "a photo of a cat");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("[49406, 320, 1125, 539, 320, 2368, 49407, 49407", r.Out);
        Assert.Contains("<|startoftext|> a</w> photo</w> of</w> a</w> cat</w> <|endoftext|>", r.Out);
        Assert.Contains("7 tokens", r.Out);
        Assert.DoesNotContain("truncated", r.Out);
        Assert.Equal("", r.Err);
    }

    [Fact]
    public void LongPrompt_IsTruncatedWithTheNote()
    {
        var (prompt, ids) = Golden().Single(g => g.Ids.Length > 77);
        var r = Run("tokenize", prompt, "--json");
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal(ids.Take(76).Append(49407), Ints(root.GetProperty("ids")));
        Assert.True(root.GetProperty("truncated").GetBoolean());
        Assert.Equal(ids.Length, root.GetProperty("original_token_count").GetInt32());
        Assert.Equal(ids.Skip(76).Take(ids.Length - 77), Ints(root.GetProperty("dropped_ids")));

        var text = Run("tokenize", prompt);
        Assert.Contains($"truncated: {ids.Length} tokens → 77; dropped: '", text.Out);

        // 10,000 characters: "cat " × 2500 is 2500 BPE tokens (each "cat</w>" one token), bos and eos.
        string huge = string.Concat(Enumerable.Repeat("cat ", 2500));
        Assert.Equal(10_000, huge.Length);
        var h = Run("tokenize", huge);
        Assert.True(h.Code == 0, h.Err);
        Assert.Contains("truncated: 2502 tokens → 77; dropped: 'cat cat", h.Out);
    }

    [Fact]
    public void MaxLength_TruncatesShorter()
    {
        var r = Run("tokenize", "a photo of a cat", "--max-length", "4", "--json");
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal([49406, 320, 1125, 49407], Ints(doc.RootElement.GetProperty("ids")));
        Assert.Equal("of a cat", doc.RootElement.GetProperty("dropped_text").GetString());
    }

    [Fact]
    public void ModelFolder_UsesItsTokenizerFiles()
    {
        string dir = Directory.CreateTempSubdirectory("pixelcost-tokcli-").FullName;
        try
        {
            string tokDir = Path.Combine(dir, "tokenizer");
            Directory.CreateDirectory(tokDir);
            // A toy vocabulary in CLIP's layout: "a" and "cat" merged, so the ids say which vocabulary was used.
            File.WriteAllText(Path.Combine(tokDir, "vocab.json"),
                """{"a": 0, "c": 1, "t": 2, "a</w>": 3, "t</w>": 4, "ca": 5, "cat</w>": 6, "<|startoftext|>": 7, "<|endoftext|>": 8}""");
            File.WriteAllText(Path.Combine(tokDir, "merges.txt"), "#version: 0.2\nc a\nca t</w>\n");
            var r = Run("tokenize", "a cat", "--model", dir, "--max-length", "5", "--json");
            Assert.True(r.Code == 0, r.Err);
            using var doc = JsonDocument.Parse(r.Out);
            Assert.Equal([7, 3, 6, 8, 8], Ints(doc.RootElement.GetProperty("ids")));

            // --pad auto (the default) follows the folder's pad_token when it is id 0 (SD 2.x folders name "!", CLIP's id 0;
            // in this toy vocabulary id 0 is "a") or <|endoftext|>; any other pad token is refused.
            File.WriteAllText(Path.Combine(tokDir, "special_tokens_map.json"), """{"pad_token": {"content": "a", "lstrip": false}}""");
            var z = Run("tokenize", "a cat", "--model", dir, "--max-length", "5", "--json");
            using (var zd = JsonDocument.Parse(z.Out))
            {
                Assert.Equal([7, 3, 6, 8, 0], Ints(zd.RootElement.GetProperty("ids")));
                Assert.Equal("zero", zd.RootElement.GetProperty("padding").GetString());
            }
            var forced = Run("tokenize", "a cat", "--model", dir, "--max-length", "5", "--pad", "eot", "--json");
            using (var fd = JsonDocument.Parse(forced.Out))
                Assert.Equal([7, 3, 6, 8, 8], Ints(fd.RootElement.GetProperty("ids")));
            File.WriteAllText(Path.Combine(tokDir, "special_tokens_map.json"), """{"pad_token": "t"}""");
            CliRun.AssertOneLineError(Run("tokenize", "a cat", "--model", dir), "special_tokens_map.json", "pad_token");
            File.WriteAllText(Path.Combine(tokDir, "special_tokens_map.json"), "{");
            CliRun.AssertOneLineError(Run("tokenize", "a cat", "--model", dir), "special_tokens_map.json");
            File.Delete(Path.Combine(tokDir, "special_tokens_map.json"));

            File.Delete(Path.Combine(tokDir, "merges.txt"));
            CliRun.AssertOneLineError(Run("tokenize", "a cat", "--model", dir), "merges.txt");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("--pad", "left", "--pad")]
    [InlineData("--max-length", "1", "--max-length")]
    [InlineData("--max-length", "x", "--max-length")]
    [InlineData("--model", "/no/such/model", "/no/such/model")]
    [InlineData("--tokenizer-folder", "../x", "--tokenizer-folder")]
    public void BadOptions_AreOneLine(string option, string value, string mention) =>
        CliRun.AssertOneLineError(Run("tokenize", "a cat", option, value), mention);

    [Fact]
    public void MissingPrompt_IsAnError()
    {
        var r = Run("tokenize");
        Assert.NotEqual(0, r.Code);
        Assert.StartsWith("pixelcost: error:", r.Err);
    }
}
