using BenchmarkDotNet.Running;

namespace PixelCost.Benchmarks;

public static class Program
{
    // dotnet run -c Release --project perf/PixelCost.Benchmarks -- --filter '*Gemm*'
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
