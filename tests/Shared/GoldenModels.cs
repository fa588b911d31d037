using System.Buffers.Binary;
using System.Text.Json;

namespace PixelCost.Tests;

/// <summary>
/// The tiny golden models (../shared/golden, diffusers 0.27.2) as the tests carry them: each weights file's exact
/// header in Golden/models/&lt;model&gt;/&lt;file&gt;.header.json (written by tools/golden/extract_model_headers.py)
/// plus config.json. <see cref="Materialize"/> rebuilds the files as header + a sparse zero-filled data section of
/// the declared size: the same names, dtypes, shapes and offsets as the originals, weights all zero — what
/// architecture detection and <c>inspect</c> read.
/// </summary>
public static class GoldenModels
{
    public static string HeadersDir => Path.Combine(AppContext.BaseDirectory, "Golden", "models");

    /// <summary>Writes <paramref name="model"/>'s files (config.json, every *.safetensors) into <paramref name="dir"/>.</summary>
    public static string Materialize(string model, string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(Path.Combine(HeadersDir, model)))
        {
            string name = Path.GetFileName(f);
            if (!name.EndsWith(".header.json", StringComparison.Ordinal))
            {
                File.Copy(f, Path.Combine(dir, name), overwrite: true);
                continue;
            }
            WriteFromHeader(File.ReadAllBytes(f), Path.Combine(dir, name[..^".header.json".Length]));
        }
        return dir;
    }

    /// <summary>One safetensors file from its header bytes; the data section is sized from the largest end offset.</summary>
    public static void WriteFromHeader(byte[] header, string path)
    {
        long dataLength = 0;
        using (var doc = JsonDocument.Parse(header))
            foreach (var p in doc.RootElement.EnumerateObject())
                if (p.Name != "__metadata__")
                    dataLength = Math.Max(dataLength, p.Value.GetProperty("data_offsets")[1].GetInt64());
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        fs.Write(len);
        fs.Write(header);
        fs.SetLength(8 + header.Length + dataLength);   // sparse on Linux: no disk for the zeros
    }
}
