using System.CommandLine;

namespace PixelCost.Harness.Commands;

public static class DevicesCommand
{
    public static Command Create()
    {
        var cmd = new Command("devices", "(not built yet)");
        cmd.SetAction(_ => Cli.Fail("'devices' is not built yet"));
        return cmd;
    }
}
