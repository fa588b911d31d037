using System.Diagnostics;

namespace PixelCost.Harness.Reporting;

/// <summary>
/// The progress line every long-running command shows on stderr: one line rewritten in place ("pixels: 2/4
/// 02_smooth_noise.png · 3.1 s"), only when stderr is a terminal that allows it (<see cref="Terminal"/>) and not with
/// --json; silent otherwise, so pipes and files get only results. Nothing shows before <see cref="Delay"/> has passed
/// (quick commands never flicker). Each <see cref="Step"/> is also a safe point for Ctrl-C
/// (<see cref="Cli.ThrowIfInterrupted"/>), so a loop that reports progress can be interrupted.
/// </summary>
public sealed class ProgressLine : IDisposable
{
    private readonly TextWriter? _writer;
    private readonly string _title;
    private readonly long _start = Stopwatch.GetTimestamp();
    private int _shown;

    /// <summary>How long a command runs before its progress line appears.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    /// <param name="stderr">Where the line goes (drawn only if it is the real, terminal stderr).</param>
    /// <param name="quiet">True with --json: never draw.</param>
    public static ProgressLine Start(string title, TextWriter stderr, bool quiet) =>
        new(title, !quiet && Terminal.ColorAllowed(stderr) ? stderr : null, Delay);

    /// <summary>A progress line drawn on <paramref name="writer"/> unconditionally (null: never), after <paramref name="delay"/>.</summary>
    internal ProgressLine(string title, TextWriter? writer, TimeSpan delay)
    {
        _title = title;
        _writer = writer;
        DelayFor = delay;
    }

    private TimeSpan DelayFor { get; }

    /// <summary>Whether this progress draws anything.</summary>
    public bool Visible => _writer is not null;

    /// <summary>Reports that step <paramref name="index"/> (from 1) of <paramref name="total"/> (0: unknown) is under way;
    /// throws <see cref="OperationCanceledException"/> after Ctrl-C.</summary>
    public void Step(string what, int index = 0, int total = 0)
    {
        Cli.ThrowIfInterrupted();
        if (_writer is null) return;
        var elapsed = Stopwatch.GetElapsedTime(_start);
        if (elapsed < DelayFor) return;
        string count = total > 0 ? $" {index}/{total}" : "";
        string line = $"{_title}{count} {what} · {elapsed.TotalSeconds:F1} s";
        Draw(line);
    }

    /// <summary>Erases the line (before writing results to a terminal stdout, and at the end).</summary>
    public void Clear()
    {
        if (_writer is null || _shown == 0) return;
        Draw("");
    }

    private void Draw(string line)
    {
        int width = Math.Max(_shown, line.Length);
        _writer!.Write("\r" + line.PadRight(width) + (line.Length == 0 ? "\r" : ""));
        _writer.Flush();
        _shown = line.Length;
    }

    public void Dispose() => Clear();
}
