using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>
/// Resolves the NVIDIA libraries by their versioned file names (DESIGN §4). A driver install ships
/// <c>libcuda.so.1</c> and <c>libnvidia-ml.so.1</c>; the unversioned <c>libcuda.so</c> symlink comes only with the
/// development packages, and .NET's default probing for a <c>[DllImport("cuda")]</c> tries <c>libcuda.so</c> and
/// <c>cuda.so</c>, never <c>.so.1</c>. ILGPU 1.5.3 asks for <c>cuda</c> (Linux/macOS) and <c>nvcuda</c> (Windows)
/// in its generated CudaAPI (Src/ILGPU/Runtime/Cuda/CudaAPI.xml); it loads libNVVM only by an explicit path
/// (<c>Context.Builder.LibDevice</c>) and never asks for <c>nvptxcompiler</c>, so those need no mapping.
/// </summary>
/// <remarks>
/// The handler is hooked to <see cref="AssemblyLoadContext.ResolvingUnmanagedDll"/> of the default context, which runs
/// only after default probing failed, for every assembly (ILGPU included; ILGPU sets its own
/// <see cref="NativeLibrary.SetDllImportResolver"/> on WSL, and an assembly can have only one, so we do not use that).
/// ILGPU binds its CUDA API once, when <c>CudaAPI</c> is first touched: <see cref="Register"/> must run before that,
/// which <see cref="IlgpuContexts"/> guarantees from its static constructor.
/// </remarks>
public static class NativeLibraries
{
    private static readonly Lock Gate = new();
    private static bool _registered;
    private static readonly Dictionary<string, nint> Loaded = new(StringComparer.Ordinal);

    /// <summary>The versioned file names tried, in order, for a library name as written in a DllImport/LibraryImport;
    /// empty when the name is not one of ours (default probing's answer then stands).</summary>
    public static IReadOnlyList<string> Candidates(string requested)
    {
        ArgumentNullException.ThrowIfNull(requested);
        return Normalise(requested) switch
        {
            "cuda" or "nvcuda" => ["libcuda.so.1", "libcuda.so"],
            "nvidia-ml" or "nvml" => ["libnvidia-ml.so.1", "libnvidia-ml.so"],
            // cuBLAS 13 (CUDA 13) first, then 12; the unversioned name exists only with the toolkit's dev files.
            "cublas" => ["libcublas.so.13", "libcublas.so.12", "libcublas.so"],
            _ => [],
        };
    }

    /// <summary>"libcuda.so.1" → "cuda", "nvcuda.dll" → "nvcuda", "cublas" → "cublas" (lower case).</summary>
    internal static string Normalise(string requested)
    {
        string n = Path.GetFileName(requested).ToLowerInvariant();
        int so = n.IndexOf(".so", StringComparison.Ordinal);
        if (so >= 0) n = n[..so];
        if (n.EndsWith(".dll", StringComparison.Ordinal)) n = n[..^4];
        if (n.StartsWith("lib", StringComparison.Ordinal)) n = n[3..];
        return n;
    }

    /// <summary>Hooks the resolver once; later calls do nothing. Safe to call from any thread.</summary>
    public static void Register()
    {
        lock (Gate)
        {
            if (_registered) return;
            AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
            _registered = true;
        }
    }

    // Names that are not ours (ILGPU's "OpenCL", say) are left alone: failing them is default probing's job.
    private static nint Resolve(Assembly assembly, string name) =>
        Candidates(name).Count > 0 && TryLoad(name, out nint handle, out _) ? handle : 0;

    /// <summary>Toolkit folders tried after the loader's own search path, for cuBLAS installed with the CUDA toolkit
    /// but not registered with ld.so: $CUDA_HOME/lib64, $CUDA_PATH/lib64, /usr/local/cuda/lib64 and its targets/ twin.</summary>
    public static IReadOnlyList<string> SearchDirectories()
    {
        var dirs = new List<string>();
        foreach (string env in (string[])["CUDA_HOME", "CUDA_PATH"])
        {
            if (Environment.GetEnvironmentVariable(env) is { Length: > 0 } root) dirs.Add(Path.Combine(root, "lib64"));
        }
        dirs.Add("/usr/local/cuda/lib64");
        dirs.Add("/usr/local/cuda/targets/x86_64-linux/lib");
        return dirs.Distinct(StringComparer.Ordinal).Where(Directory.Exists).ToList();
    }

    /// <summary>Loads the library requested as <paramref name="requested"/> by its candidates (cached per name), e.g.
    /// <c>TryLoad("cuda", …)</c>. <paramref name="reason"/> names every file tried when none loads.</summary>
    public static bool TryLoad(string requested, out nint handle, out string? reason)
    {
        var names = Candidates(requested);
        if (names.Count == 0) names = [requested];
        lock (Gate)
        {
            if (Loaded.TryGetValue(names[0], out handle))
            {
                reason = null;
                return true;
            }
        }
        var errors = new List<string>();
        var dirs = SearchDirectories();
        foreach (string file in names.Concat(dirs.SelectMany(d => names.Select(n => Path.Combine(d, n))).Where(File.Exists)))
        {
            try
            {
                handle = NativeLibrary.Load(file);
                lock (Gate) Loaded[names[0]] = handle;
                reason = null;
                return true;
            }
            catch (DllNotFoundException e)
            {
                // "No such file" is what "not found" says already; anything else (a missing dependency such as
                // libcublasLt, a wrong architecture) is worth keeping.
                string line = LastLine(e.Message); // the dynamic loader's own words come last
                if (!line.Contains("No such file or directory", StringComparison.Ordinal)) errors.Add(line);
            }
            catch (BadImageFormatException e)
            {
                errors.Add($"{file}: {LastLine(e.Message)}");
            }
        }
        handle = 0;
        reason = $"{string.Join(", ", names)} not found";
        if (errors.Count > 0) reason += $" ({errors[0]})";
        return false;
    }

    private static string LastLine(string s) =>
        s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
}
