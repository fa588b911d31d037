namespace PixelCost.Harness;

/// <summary>Turns library exceptions into one-line messages (only the CLI does this; DESIGN §7.11).</summary>
public static class Cli
{
    /// <summary>Exceptions that describe bad input or the environment, shown as one line instead of a stack trace.</summary>
    public static bool IsUserError(Exception e) => e is ArgumentException or IOException or UnauthorizedAccessException
        or OutOfMemoryException or NotSupportedException or InvalidDataException or OverflowException or CliException;

    /// <summary>Writes an error line and returns the exit code to use.</summary>
    public static int Fail(string message, int code = 1)
    {
        Console.Error.WriteLine($"pixelcost: error: {message}");
        return code;
    }
}

/// <summary>A bad option or input detected by a command; its message is shown as is.</summary>
public sealed class CliException(string message) : Exception(message);
