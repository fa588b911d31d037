using System.CommandLine;

namespace PixelCost.Harness.Commands;

public static class BenchCommand
{
    public static Command Create()
    {
        var cmd = new Command("bench", "(not built yet)");
        cmd.SetAction(_ => Cli.Fail("'bench' is not built yet"));
        return cmd;
    }
}
