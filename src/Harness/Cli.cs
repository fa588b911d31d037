using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using PixelCost.Runtime.IO;

namespace PixelCost.Harness;

/// <summary>
/// How every command behaves at the edges — the one implementation behind <c>Program.Main</c> and the tests'
/// in-process runner: parse errors in plain words (exit 2), usage for a bare command group, "unknown command" with a
/// suggestion (exit 2), library errors as one <c>pixelcost: error:</c> line (exit 1), Ctrl-C (exit 130, temporary
/// files deleted). Commands only throw; they never print their own error lines.
/// </summary>
public static partial class Cli
{
    public const int ExitOk = 0, ExitError = 1, ExitUsage = 2, ExitInterrupted = 130;

    public const string Description = "pixelcost — counted FLOPs, timed kernels and measured joules of an image, from random pixels to a diffusion step.";

    /// <summary>Exceptions that describe bad input or the environment, shown as one line instead of a stack trace.</summary>
    public static bool IsUserError(Exception e) => e is ArgumentException or IOException or UnauthorizedAccessException
        or OutOfMemoryException or NotSupportedException or InvalidDataException or OverflowException or CliException
        or PixelCost.Kernels.AcceleratorUnavailableException;

    /// <summary>Runs <c>pixelcost &lt;args&gt;</c> over <paramref name="commands"/> with the given writers: what
    /// <c>Program.Main</c> runs (with the real console) and what tests run in process.</summary>
    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr, IEnumerable<Command> commands)
    {
        var root = new RootCommand(Description);
        foreach (var c in commands) root.Subcommands.Add(c);
        var parsed = root.Parse(args);
        var target = parsed.CommandResult.Command;

        // A command group (pixelcost, bench, run) without its subcommand: usage, or "unknown command".
        if (target.Subcommands.Count > 0 && target.Action is null && (parsed.Action is null || parsed.Errors.Count > 0))
        {
            string? unknown = parsed.UnmatchedTokens.FirstOrDefault(t => !t.StartsWith('-'));
            if (unknown is not null) return UnknownCommand(target, unknown, stderr);
            if (parsed.Errors.Count == 0 || parsed.UnmatchedTokens.Count == 0)
            {
                // System.CommandLine's own help for that command: the command list with one-line descriptions.
                string path = CommandPath(target);
                root.Parse([.. path.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"])
                    .Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
                return ExitOk;
            }
        }
        if (parsed.Errors.Count > 0)
        {
            var options = target.Options.Where(o => !o.Hidden).Select(o => o.Name).ToList();
            stderr.WriteLine($"pixelcost: error: {ParseErrorLine(parsed.Errors.Select(e => e.Message))}{OptionSuggestion(parsed.UnmatchedTokens, options)}");
            return ExitUsage;
        }
        try
        {
            int code = parsed.Invoke(new InvocationConfiguration
            {
                Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null,
            });
            // A command with no safe point still finished after Ctrl-C: the user asked to stop, so say so.
            return s_interrupt.IsCancellationRequested ? ReportInterrupted(stderr) : code;
        }
        catch (Exception e) when (s_interrupt.IsCancellationRequested && e is OperationCanceledException)
        {
            return ReportInterrupted(stderr);
        }
        catch (Exception e) when (IsUserError(e))
        {
            stderr.WriteLine($"pixelcost: error: {UserMessage(e)}");
            return ExitError;
        }
    }

    /// <summary>In-process runner for tests: <see cref="Execute"/> over these commands.</summary>
    public static int RunInProcess(string[] args, TextWriter stdout, TextWriter stderr, params Command[] commands) =>
        Execute(args, stdout, stderr, commands);

    // ---- messages ----

    /// <summary>An exception's message as users see it: .NET's "(Parameter 'x')" and line breaks removed.</summary>
    public static string UserMessage(Exception e) =>
        ParameterSuffix().Replace(e.Message, "").ReplaceLineEndings(" ").Trim();

    /// <summary>All of a command line's parse errors as one line: each in plain words, the value of an unknown option
    /// not reported again as an unexpected argument, "(see --help)" once at the end.</summary>
    public static string ParseErrorLine(IEnumerable<string> messages)
    {
        var list = messages.Select(ParseErrorMessage).Distinct().ToList();
        if (list.Any(m => m.StartsWith("unknown option", StringComparison.Ordinal)))
            list.RemoveAll(m => m.StartsWith("unexpected argument", StringComparison.Ordinal));
        if (list.Count > 1) list.Remove(CommandRequired);
        bool help = list.Any(m => m.EndsWith(HelpHint, StringComparison.Ordinal) || m.StartsWith("unknown option", StringComparison.Ordinal)
            || m.StartsWith("unexpected argument", StringComparison.Ordinal));
        string line = string.Join("; ", list.Select(m => m.Replace(HelpHint, "", StringComparison.Ordinal)));
        return help ? line + HelpHint : line;
    }

    private const string HelpHint = " (see --help)";
    private const string CommandRequired = "a command is required" + HelpHint;

    /// <summary>System.CommandLine's parse error in plain words ("--width must be a whole number, got 'x'").</summary>
    public static string ParseErrorMessage(string message)
    {
        if (CannotParse().Match(message) is { Success: true } m)
        {
            string value = m.Groups["v"].Value, name = m.Groups["o"].Value;
            return $"{name} must be {Expected(m.Groups["t"].Value, value)}, got '{value}'";
        }
        if (Unrecognized().Match(message) is { Success: true } u)
        {
            string token = u.Groups["v"].Value;
            return token.StartsWith('-') ? $"unknown option '{token}'" : $"unexpected argument '{token}'";
        }
        if (message.StartsWith("Required command was not provided", StringComparison.Ordinal)) return CommandRequired;
        if (MissingValue().Match(message) is { Success: true } mv) return $"{mv.Groups["o"].Value} needs a value";
        if (Required().Match(message) is { Success: true } r) return $"{r.Groups["o"].Value} is required";
        if (MissingArgument().Match(message) is { Success: true } ma)
            return $"{ma.Groups["o"].Value} needs its {(ma.Groups["a"].Success ? $"<{ma.Groups["a"].Value}> " : "")}argument" + HelpHint;
        // Anything else: no .NET type names.
        return DotNetType().Replace(message, t => Expected(t.Value, "")).TrimEnd('.');
    }

    /// <summary>What a value of .NET type <paramref name="type"/> must be, in words; a whole number out of range says the range.</summary>
    private static string Expected(string type, string value)
    {
        string t = type.Replace("System.Nullable`1[", "").TrimEnd(']');
        t = t.StartsWith("System.", StringComparison.Ordinal) ? t[7..] : t;
        (BigInteger Min, BigInteger Max)? range = t switch
        {
            "Int32" => (int.MinValue, int.MaxValue),
            "Int64" => (long.MinValue, long.MaxValue),
            "UInt32" => (0, uint.MaxValue),
            "UInt64" => (0, ulong.MaxValue),
            "Int16" => (short.MinValue, short.MaxValue),
            "Byte" => (0, byte.MaxValue),
            _ => null,
        };
        if (range is { } r)
        {
            bool integer = BigInteger.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v);
            if (integer && (v < r.Min || v > r.Max)) return $"a whole number from {r.Min} to {r.Max}";
            return r.Min == 0 ? "a whole number ≥ 0" : "a whole number";
        }
        return t switch
        {
            "Double" or "Single" or "Decimal" => "a number",
            "Boolean" => "true or false",
            "String" => "text",
            _ => "a " + t.ToLowerInvariant(),
        };
    }

    private static int UnknownCommand(Command group, string token, TextWriter stderr)
    {
        string path = CommandPath(group);
        stderr.WriteLine($"pixelcost: error: unknown command '{(path.Length > 0 ? path + " " : "")}{token}'");
        var names = group.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
        var close = Closest(token.ToLowerInvariant(), names);
        if (close.Count > 0) stderr.WriteLine($"did you mean {string.Join(" or ", close.Select(n => $"'{n}'"))}?");
        stderr.WriteLine("commands:");
        int width = names.Count == 0 ? 0 : names.Max(n => n.Length);
        foreach (var c in group.Subcommands.Where(c => !c.Hidden))
            stderr.WriteLine($"  {c.Name.PadRight(width)}  {FirstSentence(c.Description)}");
        stderr.WriteLine($"run 'pixelcost {(path.Length > 0 ? path + " " : "")}--help' for more");
        return ExitUsage;
    }

    private static string CommandPath(Command c)
    {
        var parts = new List<string>();
        for (Command? x = c; x is not null and not RootCommand; x = x.Parents.OfType<Command>().FirstOrDefault()) parts.Insert(0, x.Name);
        return string.Join(' ', parts);
    }

    /// <summary>" — did you mean '--width'?" for the first unknown option close to one the command has, else "".</summary>
    private static string OptionSuggestion(IEnumerable<string> unmatched, IReadOnlyList<string> options)
    {
        foreach (var token in unmatched.Where(t => t.StartsWith("--", StringComparison.Ordinal)))
        {
            var close = Closest(token.ToLowerInvariant(), options);
            if (close.Count > 0) return $" — did you mean {string.Join(" or ", close.Select(n => $"'{n}'"))}?";
        }
        return "";
    }

    /// <summary>The names within a small edit distance of <paramref name="token"/> (or starting with it), closest first.</summary>
    private static List<string> Closest(string token, IEnumerable<string> names) =>
        names.Select(n => (Name: n, D: Distance(token, n)))
            .Where(x => x.D <= Math.Max(1, x.Name.Length / 3) || x.Name.StartsWith(token, StringComparison.OrdinalIgnoreCase) && token.Length >= 2)
            .OrderBy(x => x.D).Select(x => x.Name).ToList();

    private static string FirstSentence(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        int i = text.IndexOf(": ", StringComparison.Ordinal);
        int dot = text.IndexOf(". ", StringComparison.Ordinal);
        int end = new[] { i, dot }.Where(x => x > 0).DefaultIfEmpty(text.Length).Min();
        return text[..end].TrimEnd('.');
    }

    /// <summary>Levenshtein distance.</summary>
    internal static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    [GeneratedRegex(@"\s*\(Parameter '[^']*'\)")]
    private static partial Regex ParameterSuffix();

    [GeneratedRegex(@"^Cannot parse argument '(?<v>.*)' for (?:option|command|argument) '(?<o>.*)' as expected type '(?<t>[^']*)'\.?$", RegexOptions.Singleline)]
    private static partial Regex CannotParse();

    [GeneratedRegex(@"^Unrecognized command or argument '(?<v>.*)'\.?$", RegexOptions.Singleline)]
    private static partial Regex Unrecognized();

    [GeneratedRegex(@"^Required argument missing for option: '(?<o>.*)'\.?$")]
    private static partial Regex MissingValue();

    [GeneratedRegex(@"^Option '(?<o>.*)' is required\.?$")]
    private static partial Regex Required();

    [GeneratedRegex(@"^Required argument (?:'(?<a>[^']*)' )?missing for command: '(?<o>.*)'\.?$")]
    private static partial Regex MissingArgument();

    [GeneratedRegex(@"System\.(?:Nullable`1\[)?System\.[A-Za-z0-9]+\]?|System\.[A-Z][A-Za-z0-9]+")]
    private static partial Regex DotNetType();

    // ---- Ctrl-C ----

    private static readonly CancellationTokenSource s_interrupt = new();
    private static int s_reported;

    /// <summary>Cancelled by the first Ctrl-C (SIGINT) or SIGTERM: long loops stop at their next safe point.</summary>
    public static CancellationToken Interrupt => s_interrupt.Token;

    /// <summary>A safe point: throws <see cref="OperationCanceledException"/> once the user has pressed Ctrl-C.</summary>
    public static void ThrowIfInterrupted() => s_interrupt.Token.ThrowIfCancellationRequested();

    /// <summary>
    /// For <c>Program.Main</c>: on SIGINT/SIGTERM, cancel <see cref="Interrupt"/> so the work stops at its next safe point
    /// (then <see cref="Execute"/> deletes temporary files, prints <c>pixelcost: interrupted</c> and returns 130). If the
    /// work has not stopped 3 s later, or on a second Ctrl-C, the process does that itself and exits.
    /// </summary>
    public static IDisposable HandleInterrupts(TextWriter stderr)
    {
        int signals = 0;
        void OnSignal(PosixSignalContext ctx)
        {
            ctx.Cancel = true;
            if (Interlocked.Increment(ref signals) == 1)
            {
                s_interrupt.Cancel();
                _ = Task.Delay(TimeSpan.FromSeconds(3)).ContinueWith(_ => Environment.Exit(ReportInterrupted(stderr)), TaskScheduler.Default);
            }
            else Environment.Exit(ReportInterrupted(stderr));
        }
        var regs = new[] { PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal) };
        return new Registrations(regs);
    }

    private sealed class Registrations(PosixSignalRegistration[] regs) : IDisposable
    {
        public void Dispose()
        {
            foreach (var r in regs) r.Dispose();
        }
    }

    /// <summary>Deletes the temporary files of writes in flight and says so, once; returns 130.</summary>
    private static int ReportInterrupted(TextWriter stderr)
    {
        AtomicFile.DeletePending();
        if (Interlocked.Exchange(ref s_reported, 1) == 0)
        {
            stderr.WriteLine("pixelcost: interrupted");
            stderr.Flush();
        }
        return ExitInterrupted;
    }

    // ---- options shared by commands ----

    /// <summary>The `--simd` option shared by the commands that run kernels.</summary>
    public static Option<string> SimdOption() => new("--simd")
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
        _ => throw new CliException($"--simd must be auto, 256 or 512, got '{value}'"),
    };

    /// <summary>Creates <paramref name="folder"/> if needed and checks a file can be written there (nothing is left
    /// behind); a CliException naming <paramref name="option"/> otherwise. Returns the full path.</summary>
    public static string WritableFolder(string? folder, string option)
    {
        if (string.IsNullOrWhiteSpace(folder)) throw new CliException($"{option} must name a folder, got '{folder}'");
        string dir;
        try { dir = Path.GetFullPath(folder); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new CliException($"{option} '{folder}': not a usable path ({UserMessage(e)})");
        }
        if (File.Exists(dir)) throw new CliException($"{option} '{folder}': exists and is a file, not a folder");
        try
        {
            Directory.CreateDirectory(dir);
            string probe = Path.Combine(dir, $".pixelcost-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new CliException($"{option} '{folder}': cannot write there ({UserMessage(e)})");
        }
        return dir;
    }
}

/// <summary>A bad option or input detected by a command; its message is shown as is.</summary>
public sealed class CliException(string message) : Exception(message);
