namespace PixelCost.Runtime.Safetensors;

/// <summary>A checkpoint in a format PixelCost refuses to read (PyTorch pickle or torch.save zip).</summary>
/// <remarks>An <see cref="IOException"/> like the reader's other input errors (InvalidDataException is sealed).</remarks>
public sealed class UnsupportedCheckpointException(string message) : IOException(message);

/// <summary>
/// Recognises PyTorch pickles (<c>.ckpt</c>, <c>.bin</c>, <c>.pt</c>, <c>.pth</c>) before the safetensors parser sees
/// them, so the user is told to convert rather than "header length 2^62 exceeds the file". Unpickling runs arbitrary
/// code from the file, so PixelCost never does it.
/// </summary>
public static class PickleGuard
{
    private static readonly string[] PickleExtensions = [".ckpt", ".bin", ".pt", ".pth", ".pkl"];

    public static bool HasPickleExtension(string path) =>
        PickleExtensions.Contains(System.IO.Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>Throws <see cref="UnsupportedCheckpointException"/> naming the file when it is a pickle or a
    /// torch.save zip. A file whose byte 8 is '{' is read as safetensors whatever its name: that is where every
    /// safetensors header starts, and neither a pickle nor a zip has it there.</summary>
    public static void ThrowIfPickle(string path)
    {
        Span<byte> head = stackalloc byte[9];
        int got;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
            got = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..got];
        if (got == 9 && head[8] == (byte)'{') return;

        string? what = null;
        if (got >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4)
            what = "a zip archive (torch.save's format)";
        else if (got >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5)
            what = $"a Python pickle (protocol {head[1]})";
        else if (HasPickleExtension(path))
            what = $"by its extension '{System.IO.Path.GetExtension(path)}' a PyTorch checkpoint";
        if (what is null) return;
        throw new UnsupportedCheckpointException(
            $"'{path}' is {what}, not safetensors: convert it to safetensors (e.g. with diffusers' scripts, " +
            "convert_original_stable_diffusion_to_diffusers.py --to_safetensors); PixelCost never unpickles");
    }
}
