using System.CommandLine;
using Xunit;

namespace PixelCost.Harness.Tests;

/// <summary>What the CLI tests share: run commands in process as <c>pixelcost &lt;args&gt;</c>, and the bad-input rule
/// (one <c>pixelcost: error:</c> line naming what is at fault, non-zero exit, nothing on stdout).</summary>
internal static class CliRun
{
    public static (int Code, string Out, string Err) Run(string[] args, params Command[] commands)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Cli.RunInProcess(args, stdout, stderr, commands);
        return (code, stdout.ToString(), stderr.ToString());
    }

    public static void AssertOneLineError((int Code, string Out, string Err) r, params string[] mentions)
    {
        Assert.NotEqual(0, r.Code);
        var line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("pixelcost: error:", line);
        foreach (var m in mentions) Assert.Contains(m, line);
        Assert.Equal("", r.Out);
    }
}
