// The VAE on a CUDA device (or any accelerator id): the tiny golden decode against diffusers, the tiny encoder against
// the CPU's, and SD 1.5's decoder (random weights) at 512² timed, with the time by op from the ledger.
//   dotnet publish tools/vae-gpu-check -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -o .gpu/vae
//   .gpu/vae/vae-gpu-check tests/PixelCost.Runtime.Tests/Golden/vae_tiny [cuda|cpu|ilgpu-cpu] [repeats]
using System.Diagnostics;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Safetensors;

string dir = args.Length > 0 ? args[0] : "tests/PixelCost.Runtime.Tests/Golden/vae_tiny";
string which = args.Length > 1 ? args[1] : "cuda";
int repeats = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3;
using IAccelerator acc = which switch
{
    "cpu" => new CpuAccelerator(),
    "ilgpu-cpu" => IlgpuAccelerator.CreateCpu(),
    _ => IlgpuAccelerator.CreateCuda(0),
};
Console.WriteLine($"accelerator: {acc.Name}");
int status = 0;

// 1. Tiny golden decode.
using (var io = SafetensorsFile.Open(Path.Combine(dir, "io.safetensors")))
using (var vae = VaeDecoder.Load(acc, dir))
{
    using var z = acc.FromArray(io.ReadFloats("latent"), io.Shape("latent"));
    acc.Ledger.Clear();
    using var y = vae.Decode(z);
    var got = y.ToArray();
    var want = io.ReadFloats("image");
    double max = got.Select((v, i) => Math.Abs(v - want[i])).Max();
    double scale = want.Select(Math.Abs).Max();
    Console.WriteLine($"tiny decode vs diffusers: max |diff| {max:G3} (max |ref| {scale:G3}); variants: " +
        string.Join(", ", acc.Ledger.Entries.Select(e => $"{e.Op}={e.Variant}").Distinct()));
    if (!(max < 5e-2)) status = 1;
}

// 2. Tiny encoder vs our CPU.
using (var cpu = new CpuAccelerator())
using (var ec = VaeEncoder.Load(cpu, dir))
using (var ea = VaeEncoder.Load(acc, dir))
{
    var r = new Random(3);
    var img = Enumerable.Range(0, 3 * 16 * 16).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    using var xc = cpu.FromArray(img, 1, 3, 16, 16);
    using var xa = acc.FromArray(img, 1, 3, 16, 16);
    using var mc = ec.Encode(xc);
    using var ma = ea.Encode(xa);
    var a = ma.ToArray();
    var c = mc.ToArray();
    double max = a.Select((v, i) => Math.Abs(v - c[i])).Max();
    Console.WriteLine($"tiny encode vs cpu: max |diff| {max:G3}");
    if (!(max < 5e-2)) status = 1;
}

// 3. SD 1.5 decoder, 512², batch 1, random weights: warm-up, then timed decodes.
using (var vae = VaeDecoder.Random(acc, VaeConfig.Preset("sd15")))
using (var z = acc.Allocate(1, 4, 64, 64))
{
    Ops.FillGaussian(acc, z, 1);
    using (vae.Decode(z)) { }
    acc.Synchronize();
    var times = new List<double>();
    Cost cost = default;
    for (int i = 0; i < repeats; i++)
    {
        acc.Ledger.Clear();
        var sw = Stopwatch.StartNew();
        using (var y = vae.Decode(z)) acc.Synchronize();
        times.Add(sw.Elapsed.TotalSeconds);
        cost = acc.Ledger.TotalCost();
    }
    double best = times.Min();
    Console.WriteLine($"sd15 decode 512²: {string.Join(", ", times.Select(t => $"{t:F3}"))} s; best {best:F3} s = {cost.MatmulFlops / best / 1e12:F2} matmul TFLOP/s; " +
        $"{acc.Ledger.Count} launches; peak memory {acc.Memory.Peak / 1e9:F2} GB");
    foreach (var (op, n, c, t) in acc.Ledger.ByOp().OrderByDescending(g => g.Elapsed))
        Console.WriteLine($"  {op,-22} {n,4} launches {t.TotalMilliseconds,9:F2} ms  {c.MatmulFlops / 1e9,9:F1} GFLOP matmul");
    foreach (var (scope, n, c, t) in acc.Ledger.ByScope(2).OrderByDescending(g => g.Elapsed))
        Console.WriteLine($"  {scope,-28} {n,4} launches {t.TotalMilliseconds,9:F2} ms");
}
return status;
