using System.CommandLine;

namespace PixelCost.Harness.Commands;

public static class PixelsCommand
{
    public static Command Create()
    {
        var cmd = new Command("pixels", "(not built yet)");
        cmd.SetAction(_ => Cli.Fail("'pixels' is not built yet"));
        return cmd;
    }
}
