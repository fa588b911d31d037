using System.Collections.Concurrent;

namespace PixelCost.Runtime.IO;

/// <summary>
/// The one way this project writes an output file: into a hidden temporary file in the destination folder, renamed over
/// the destination when complete. The rename stays on one file system (atomic on POSIX), so readers see either the old
/// file or the whole new one, never a partial one. A failed write deletes its temporary file; every temporary file in
/// flight is registered, so an interrupted process (Ctrl-C) can delete them all with <see cref="DeletePending"/>.
/// </summary>
public static class AtomicFile
{
    private static readonly ConcurrentDictionary<string, byte> Pending = new(StringComparer.Ordinal);

    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, which gets the temporary file's stream.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"{path}: not a file path", nameof(path));
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: folder {dir} does not exist");
        // Hidden, unique name: two writers of the same file never share a temporary file.
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        Pending[temp] = 0;
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        finally { Pending.TryRemove(temp, out _); }
    }

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes));

    public static void WriteAllText(string path, string text) => Write(path, s =>
    {
        using var w = new StreamWriter(s, new System.Text.UTF8Encoding(false), leaveOpen: true);
        w.Write(text);
    });

    /// <summary>Deletes every temporary file still being written (for an interrupted process); returns how many.</summary>
    public static int DeletePending()
    {
        int n = 0;
        foreach (var temp in Pending.Keys)
            if (Pending.TryRemove(temp, out _) && TryDelete(temp)) n++;
        return n;
    }

    private static bool TryDelete(string temp)
    {
        try { File.Delete(temp); return true; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
