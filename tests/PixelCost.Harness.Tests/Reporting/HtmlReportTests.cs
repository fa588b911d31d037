using System.Text.RegularExpressions;
using PixelCost.Harness.Reporting;
using Xunit;

namespace PixelCost.Harness.Tests.Reporting;

public sealed class HtmlReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Evil = "<script>alert(1)</script>&\"'";

    private static HtmlReport Sample()
    {
        var r = new HtmlReport("Cost of " + Evil);
        r.Heading("Heading " + Evil);
        r.Paragraph("Para " + Evil);
        r.Table("Caption " + Evil, ["op", "FLOP (counted)"], [["conv2d " + Evil, "1,234"], ["gemm", "5"]], note: "Note " + Evil);
        r.Image("charts/flops.png", "Chart " + Evil);
        r.Images([("img/seed 1.png", "seed 1"), ("img/a&b.png", "a&b " + Evil)]);
        return r;
    }

    [Fact]
    public void EveryStringIsEscaped()
    {
        string html = Sample().ToHtml();
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("&\"", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;", html);
        // title, h1, heading, paragraph, caption, cell, note, image alt + figcaption, strip alt + figcaption
        Assert.Equal(11, Regex.Matches(html, Regex.Escape("&lt;script&gt;")).Count);
        // Paths: percent-encoded, then attribute-escaped.
        Assert.Contains("src=\"img/seed%201.png\"", html);
        Assert.Contains("src=\"img/a%26b.png\"", html);
    }

    [Fact]
    public void StructureIsOneSelfContainedDocument()
    {
        string html = Sample().ToHtml();
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Single(Regex.Matches(html, "<title>"));
        Assert.Single(Regex.Matches(html, "<style>"));
        Assert.Contains("name=\"viewport\"", html);            // phones scale it to their width
        Assert.DoesNotContain("<link", html);                   // no external stylesheet
        Assert.DoesNotContain("http", html);                    // nothing fetched from anywhere
        Assert.Single(Regex.Matches(html, "<table>"));
        Assert.Matches("<caption>Caption [^<]*</caption>", html);
        Assert.Equal(2, Regex.Matches(html, "<th scope=\"col\">").Count);
        Assert.Equal(2, Regex.Matches(html, "<tr><td").Count);
        Assert.Contains("<td class=\"num\">1,234</td>", html);
        Assert.Contains("<p class=\"note\">Note ", html);
        Assert.Equal(3, Regex.Matches(html, "<img ").Count);
        Assert.Single(Regex.Matches(html, "<div class=\"strip\">"));
        // Tags balance.
        foreach (var tag in new[] { "html", "head", "body", "table", "figure", "div", "p", "h1", "h2", "a", "tr" })
            Assert.True(Regex.Matches(html, $"<{tag}[ >]").Count == Regex.Matches(html, $"</{tag}>").Count, $"<{tag}> unbalanced");
    }

    [Fact]
    public void BadInputIsRefused()
    {
        var r = new HtmlReport("t");
        Assert.Contains("row 0 has 1 cells, the header 2", Assert.Throws<ArgumentException>(() => r.Table("c", ["a", "b"], [["x"]])).Message);
        Assert.Throws<ArgumentException>(() => r.Image("/etc/passwd", "abs"));
        Assert.Throws<ArgumentException>(() => r.Image("https://example.com/x.png", "remote"));
    }

    [Fact]
    public void SaveWritesTheDocumentAtomically()
    {
        string path = Path.Combine(_dir, "report.html");
        File.WriteAllText(path, "old");
        var r = Sample();
        r.Save(path);
        Assert.Equal(r.ToHtml(), File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir));
        Assert.ThrowsAny<IOException>(() => r.Save(Path.Combine(_dir, "missing", "report.html")));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir));
    }
}
