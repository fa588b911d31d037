using System.CommandLine;
using PixelCost.Harness.Commands;

namespace PixelCost.Harness;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("pixelcost — counted FLOPs, timed kernels and measured joules of an image, from random pixels to a diffusion step.");
        // Each command registers itself in its own file under Commands/.
        root.Subcommands.Add(PixelsCommand.Create());
        root.Subcommands.Add(DevicesCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(VerifyCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(CostCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // One clear line per problem, no help dump, non-zero exit.
            foreach (var e in parsed.Errors) Console.Error.WriteLine($"pixelcost: error: {e.Message}");
            return 2;
        }
        try
        {
            return parsed.Invoke();
        }
        catch (Exception e) when (Cli.IsUserError(e))
        {
            Console.Error.WriteLine($"pixelcost: error: {e.Message}");
            return 1;
        }
    }
}
