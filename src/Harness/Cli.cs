namespace PixelCost.Harness;

/// <summary>Turns library exceptions into one-line messages (only the CLI does this; DESIGN §7.11).</summary>
public static class Cli
{
    /// <summary>Exceptions that describe bad input or the environment, shown as one line instead of a stack trace.</summary>
    public static bool IsUserError(Exception e) => e is ArgumentException or IOException or UnauthorizedAccessException
        or OutOfMemoryException or NotSupportedException or InvalidDataException or OverflowException or CliException
        or PixelCost.Kernels.AcceleratorUnavailableException;

    /// <summary>The `--simd` option shared by the commands that run kernels.</summary>
    public static System.CommandLine.Option<string> SimdOption() => new("--simd")
    {
        Description = "SIMD path of the CPU kernels: auto (the hardware's widest), 256 or 512. A path wider than the hardware runs emulated in software (slow; for checking, not timing).",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>"auto" → 0, "256"/"512" → that width; anything else is a CliException naming the option.</summary>
    public static int ParseSimd(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => 0,
        "256" => 256,
        "512" => 512,
        _ => throw new CliException($"--simd must be auto, 256 or 512 (got '{value}')"),
    };

    /// <summary>
    /// Runs <paramref name="commands"/> under a root as <c>pixelcost &lt;args&gt;</c> in process with the given writers —
    /// how tests drive a command: parse errors are one line each (exit 2); the command's own errors are its lines.
    /// </summary>
    public static int RunInProcess(string[] args, TextWriter stdout, TextWriter stderr, params System.CommandLine.Command[] commands)
    {
        var root = new System.CommandLine.RootCommand("pixelcost");
        foreach (var c in commands) root.Subcommands.Add(c);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) stderr.WriteLine($"pixelcost: error: {e.Message}");
            return 2;
        }
        try
        {
            return parsed.Invoke(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsUserError(e))
        {
            stderr.WriteLine($"pixelcost: error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Writes an error line and returns the exit code to use.</summary>
    public static int Fail(string message, int code = 1)
    {
        Console.Error.WriteLine($"pixelcost: error: {message}");
        return code;
    }
}

/// <summary>A bad option or input detected by a command; its message is shown as is.</summary>
public sealed class CliException(string message) : Exception(message);
