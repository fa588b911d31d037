using Spectre.Console;

namespace PixelCost.Harness.Reporting;

/// <summary>
/// The one place output decides about colour and terminals. Colour (ANSI escapes) only when the writer is the real
/// console, not redirected, <c>NO_COLOR</c> is unset and <c>TERM</c> is not <c>dumb</c>; everything else (pipes,
/// files, tests' StringWriters) gets plain text at a fixed width wide enough for the tables.
/// </summary>
public static class Terminal
{
    /// <summary>True when <paramref name="writer"/> is the process's stdout or stderr and that goes to a terminal.</summary>
    public static bool IsTerminal(TextWriter writer) =>
        ReferenceEquals(writer, System.Console.Out) ? !System.Console.IsOutputRedirected
        : ReferenceEquals(writer, System.Console.Error) && !System.Console.IsErrorRedirected;

    /// <summary>The rule, with the environment passed in (tests check it without a terminal).</summary>
    public static bool ColorAllowed(bool isTerminal, string? noColor, string? term) =>
        isTerminal && string.IsNullOrEmpty(noColor) && !string.Equals(term, "dumb", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether escape sequences may be written to <paramref name="writer"/>.</summary>
    public static bool ColorAllowed(TextWriter writer) =>
        ColorAllowed(IsTerminal(writer), Environment.GetEnvironmentVariable("NO_COLOR"), Environment.GetEnvironmentVariable("TERM"));

    /// <summary>A Spectre console on <paramref name="writer"/>: colours only where <see cref="ColorAllowed(TextWriter)"/>;
    /// elsewhere no escapes and <paramref name="width"/> columns.</summary>
    public static IAnsiConsole Console(TextWriter writer, int width = 200)
    {
        bool color = ColorAllowed(writer);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = color ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = color ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = color ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!IsTerminal(writer)) console.Profile.Width = width;
        return console;
    }
}
