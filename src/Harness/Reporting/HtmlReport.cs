using System.Net;
using System.Text;

namespace PixelCost.Harness.Reporting;

/// <summary>
/// One self-contained report.html: inline CSS (no scripts, no external requests), readable on a desktop and a phone,
/// images referenced by relative path so they sit beside the file. Every string given is HTML-escaped. Written
/// atomically by <see cref="Save"/>.
/// </summary>
public sealed partial class HtmlReport
{
    private readonly string _title;
    private readonly StringBuilder _body = new();

    public HtmlReport(string title)
    {
        ArgumentNullException.ThrowIfNull(title);
        _title = title;
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);

    /// <summary>Image paths are relative to the report; escaped as attribute text, with spaces and '#'/'?' percent-encoded.</summary>
    private static string Src(string relativePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(relativePath);
        if (Path.IsPathRooted(relativePath) || relativePath.Contains("://", StringComparison.Ordinal))
            throw new ArgumentException($"report image '{relativePath}': must be a path relative to the report (the images sit beside it)", nameof(relativePath));
        var parts = relativePath.Replace('\\', '/').Split('/').Select(Uri.EscapeDataString);
        return E(string.Join('/', parts));
    }

    public void Heading(string text) => _body.Append("<h2>").Append(E(text)).Append("</h2>\n");

    public void Paragraph(string text) => _body.Append("<p>").Append(E(text)).Append("</p>\n");

    /// <summary>A table with a caption; cells that look numeric are right-aligned; an optional note under it.</summary>
    public void Table(string caption, IReadOnlyList<string> header, IReadOnlyList<IReadOnlyList<string>> rows, string? note = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        for (int r = 0; r < rows.Count; r++)
            if (rows[r].Count != header.Count)
                throw new ArgumentException($"report table '{caption}': row {r} has {rows[r].Count} cells, the header {header.Count}", nameof(rows));
        var b = _body;
        b.Append("<figure class=\"table\"><div class=\"scroll\"><table>\n<caption>").Append(E(caption)).Append("</caption>\n<thead><tr>");
        foreach (var h in header) b.Append("<th scope=\"col\">").Append(E(h)).Append("</th>");
        b.Append("</tr></thead>\n<tbody>\n");
        foreach (var row in rows)
        {
            b.Append("<tr>");
            foreach (var cell in row) b.Append(LooksNumeric(cell) ? "<td class=\"num\">" : "<td>").Append(E(cell)).Append("</td>");
            b.Append("</tr>\n");
        }
        b.Append("</tbody></table></div>");
        if (!string.IsNullOrEmpty(note)) b.Append("\n<p class=\"note\">").Append(E(note)).Append("</p>");
        b.Append("</figure>\n");
    }

    /// <summary>A number, optionally with an exponent and a unit ("3.15e6", "2.6e5×", "12.3 %", "591.2 µs", "1,024 MB") —
    /// not text that merely starts with a digit ("1024×1024 RGB, …"), which stays left-aligned and may wrap.</summary>
    private static bool LooksNumeric(string s) => NumericCell().IsMatch(s.Trim());

    [System.Text.RegularExpressions.GeneratedRegex(@"^[-+−]?[\d.,]+(e[-+]?\d+)?\s*(×|%|[µmn]?s|[kMGTP]?(FLOPs?|B|J|W)(/s)?|GB/s|GFLOP/s)?$")]
    private static partial System.Text.RegularExpressions.Regex NumericCell();

    public void Image(string relativePath, string caption) =>
        _body.Append("<figure class=\"image\">").Append(Img(relativePath, caption)).Append("<figcaption>").Append(E(caption)).Append("</figcaption></figure>\n");

    /// <summary>A row of images with their captions that wraps on narrow screens.</summary>
    public void Images(IReadOnlyList<(string RelativePath, string Caption)> strip)
    {
        ArgumentNullException.ThrowIfNull(strip);
        _body.Append("<div class=\"strip\">\n");
        foreach (var (path, caption) in strip)
            _body.Append("<figure>").Append(Img(path, caption)).Append("<figcaption>").Append(E(caption)).Append("</figcaption></figure>\n");
        _body.Append("</div>\n");
    }

    private static string Img(string path, string caption) =>
        $"<a href=\"{Src(path)}\"><img src=\"{Src(path)}\" alt=\"{E(caption)}\" loading=\"lazy\"></a>";

    private const string Css = """
        :root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --head: #f6f8fa; }
        * { box-sizing: border-box; }
        body { margin: 0 auto; max-width: 1100px; padding: 16px; font: 16px/1.5 "DejaVu Sans", system-ui, sans-serif; color: var(--fg); background: #fff; }
        h1 { font-size: 1.6em; margin: 0.4em 0; } h2 { font-size: 1.25em; margin: 1.4em 0 0.4em; border-bottom: 1px solid var(--line); }
        figure { margin: 1em 0; }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; font-size: 0.9em; min-width: 50%; }
        caption { text-align: left; font-weight: bold; padding: 4px 0; }
        th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
        th { background: var(--head); text-align: left; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        tbody tr:nth-child(even) { background: #fbfcfd; }
        .note, figcaption { color: var(--muted); font-size: 0.85em; margin: 4px 0; }
        img { max-width: 100%; height: auto; border: 1px solid var(--line); display: block; }
        .strip { display: flex; flex-wrap: wrap; gap: 12px; }
        .strip figure { flex: 1 1 300px; max-width: 540px; margin: 0; }
        footer { color: var(--muted); font-size: 0.8em; margin-top: 2em; }
        @media (max-width: 600px) { body { padding: 8px; font-size: 15px; } .strip figure { flex-basis: 45%; } }
        """;

    /// <summary>The whole document.</summary>
    public string ToHtml()
    {
        var b = new StringBuilder();
        b.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
         .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
         .Append("<title>").Append(E(_title)).Append("</title>\n<style>\n").Append(Css).Append("\n</style>\n</head>\n<body>\n")
         .Append("<h1>").Append(E(_title)).Append("</h1>\n")
         .Append(_body)
         .Append("<footer>Written by pixelcost. Images and charts are the files beside this report.</footer>\n</body>\n</html>\n");
        return b.ToString();
    }

    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Runtime.IO.AtomicFile.WriteAllText(path, ToHtml());
    }
}
