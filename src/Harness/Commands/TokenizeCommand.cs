using System.CommandLine;
using System.Text.Json;
using PixelCost.Runtime.Tokenizers;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost tokenize "PROMPT"</c>: the CLIP token ids a text encoder gets — the built-in vocabulary, or the one of a
/// model folder (its tokenizer/) — with the token strings, the count, and what truncation to the context length dropped.
/// </summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var prompt = new Argument<string>("prompt") { Description = "The prompt (\"\" is valid: bos, eos)." };
        var model = new Option<string?>("--model") { Description = "A pipeline folder (its tokenizer/ vocab.json + merges.txt), a tokenizer folder, or a single-file checkpoint (built-in vocabulary). Default: the built-in CLIP vocabulary." };
        var pad = new Option<string>("--pad") { Description = "Padding: eot (<|endoftext|>, SD 1.x), zero (id 0, SD 2.x / OpenCLIP) or auto (the tokenizer folder's pad_token; eot for the built-in vocabulary).", DefaultValueFactory = _ => "auto" };
        var maxLength = new Option<int>("--max-length") { Description = "Context length: truncate (eos kept last) and pad to it.", DefaultValueFactory = _ => ClipTokenizer.MaxLength };
        var folder = new Option<string>("--tokenizer-folder") { Description = "The component folder inside a pipeline: tokenizer (default) or tokenizer_2 (SDXL's second encoder).", DefaultValueFactory = _ => "tokenizer" };
        var json = new Option<bool>("--json") { Description = "Write JSON only." };
        var cmd = new Command("tokenize", "CLIP token ids of a prompt: ids, token strings, count, what truncation dropped.");
        cmd.Arguments.Add(prompt);
        foreach (var o in new Option[] { model, pad, maxLength, folder, json }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var stdout = pr.InvocationConfiguration.Output;
            var stderr = pr.InvocationConfiguration.Error;
            try
            {
                var report = Collect(pr.GetValue(prompt) ?? "", pr.GetValue(model), pr.GetValue(pad)!, pr.GetValue(maxLength), pr.GetValue(folder)!);
                if (pr.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(report, KernelBench.JsonOptions));
                else Write(report, stdout);
                return 0;
            }
            catch (Exception e) when (Cli.IsUserError(e))
            {
                stderr.WriteLine($"pixelcost: error: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    internal sealed record TokenizeReport(string Prompt, string Vocabulary, int VocabularySize, string Padding, int MaxLength,
        int[] Ids, IReadOnlyList<string> Tokens, int TokenCount, int OriginalTokenCount, bool Truncated,
        IReadOnlyList<int> DroppedIds, string DroppedText);

    internal static TokenizeReport Collect(string prompt, string? model, string pad, int maxLength, string folderName)
    {
        ClipPadding? padding = pad.Trim().ToLowerInvariant() switch
        {
            "auto" => null,
            "eot" or "endoftext" => ClipPadding.EndOfText,
            "zero" or "0" => ClipPadding.Zero,
            _ => throw new CliException($"--pad must be auto, eot or zero (got '{pad}')"),
        };
        if (maxLength < 2) throw new CliException($"--max-length must be at least 2 (bos and eos), got {maxLength}");
        if (model is not null && !File.Exists(model) && !Directory.Exists(model))
            throw new CliException($"--model '{model}': no such file or folder");
        if (folderName.Length == 0 || folderName.IndexOfAny(['/', '\\']) >= 0 || folderName is "." or "..")
            throw new CliException($"--tokenizer-folder must be a folder name such as tokenizer or tokenizer_2 (got '{folderName}')");
        var tok = ClipTokenizer.ForModel(model, folderName);
        var full = tok.EncodeUnpadded(prompt);
        var t = tok.Encode(prompt, padding ?? tok.Padding, maxLength);
        var tokens = t.Ids.Take(t.TokenCount).Select(i => tok.TokenString(i) ?? $"<id {i}>").ToList();
        // What truncation dropped: the BPE tokens between the kept ones and the original eos.
        var dropped = t.Truncated ? full.Skip(maxLength - 1).Take(full.Count - maxLength).ToList() : [];
        return new TokenizeReport(prompt, tok.Source, tok.VocabularySize, (padding ?? tok.Padding) == ClipPadding.EndOfText ? "eot" : "zero", maxLength,
            t.Ids, tokens, t.TokenCount, t.OriginalTokenCount, t.Truncated, dropped, tok.Decode(dropped));
    }

    private static void Write(TokenizeReport r, TextWriter o)
    {
        o.WriteLine($"pixelcost tokenize — CLIP BPE, vocabulary {r.Vocabulary} ({r.VocabularySize:N0} tokens), max length {r.MaxLength}, padding {(r.Padding == "eot" ? "<|endoftext|> (49407)" : "0")}");
        o.WriteLine($"  count   {r.TokenCount} tokens (bos … eos){(r.Truncated ? "" : $" + {r.MaxLength - r.TokenCount} padding")}");
        o.WriteLine($"  tokens  {string.Join(" ", r.Tokens)}");
        o.WriteLine($"  ids     [{string.Join(", ", r.Ids)}]");
        if (r.Truncated)
        {
            const int show = 80;
            string text = r.DroppedText.Length > show ? r.DroppedText[..show] + "…" : r.DroppedText;
            o.WriteLine($"  truncated: {r.OriginalTokenCount} tokens → {r.MaxLength}; dropped: '{text}'");
        }
    }
}
