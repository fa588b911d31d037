using System.CommandLine;
using PixelCost.Harness.Commands;

namespace PixelCost.Harness;

public static class Program
{
    public static int Main(string[] args)
    {
        using var interrupts = Cli.HandleInterrupts(Console.Error);
        return Cli.Execute(args, Console.Out, Console.Error, Commands());
    }

    /// <summary>Every command of <c>pixelcost</c>; each registers itself in its own file under Commands/.</summary>
    public static Command[] Commands() =>
    [
        TourCommand.Create(),
        PixelsCommand.Create(),
        DevicesCommand.Create(),
        BenchCommand.Create(),
        VerifyCommand.Create(),
        CompareCommand.Create(),
        InspectCommand.Create(),
        CostCommand.Create(),
        RunCommand.Create(),
        TokenizeCommand.Create(),
        GenerateCommand.Create(),
    ];
}
