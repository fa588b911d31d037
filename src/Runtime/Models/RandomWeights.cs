using PixelCost.Kernels;

namespace PixelCost.Runtime.Models;

/// <summary>
/// The one way a model gets deterministic random weights when the user has none (cost and speed do not depend on
/// weight values): parameter i (in the order given) draws from Philox stream i + 1 of <paramref name="seed"/> through
/// Ops.FillGaussian on the accelerator — a "*.bias" is 0, any other rank-1 parameter (a norm's scale) exactly 1, every
/// other weight N(0, 1/fan_in) with fan_in = the product of the dims after the first (in·kh·kw for a conv, in for a
/// linear or an embedding row). On failure every tensor made so far is freed.
/// </summary>
public static class RandomWeights
{
    public static Dictionary<string, Tensor> Create(IAccelerator acc, IEnumerable<(string Name, int[] Shape)> parameters, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(parameters);
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            ulong stream = 0;
            foreach (var (name, shape) in parameters)
            {
                stream++;
                if (name.EndsWith(".bias", StringComparison.Ordinal)) { weights[name] = acc.Zeros(shape); continue; }
                var w = acc.Allocate(shape);
                weights[name] = w;
                if (shape.Length == 1) Ops.FillGaussian(acc, w, seed, mean: 1f, std: 0f, stream: stream);
                else
                {
                    long fanIn = Tensor.ElementCount(shape) / shape[0];
                    Ops.FillGaussian(acc, w, seed, 0f, (float)(1.0 / Math.Sqrt(fanIn)), stream);
                }
            }
        }
        catch
        {
            foreach (var w in weights.Values) w.Dispose();
            throw;
        }
        return weights;
    }
}
