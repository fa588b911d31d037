using System.Text;
using Xunit.Sdk;

namespace PixelCost.Tests;

/// <summary>
/// The comparison rule of DESIGN §5: |got − ref| ≤ atol + rtol·|ref|. On failure the message lists the first
/// mismatches with their coordinates in <c>shape</c> (N,C,H,W for 4-D tensors).
/// </summary>
public static class Close
{
    public static void All(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol, double rtol,
        ReadOnlySpan<int> shape = default, string what = "")
    {
        if (expected.Length != actual.Length)
            throw new XunitException($"{what}: length {actual.Length}, expected {expected.Length}");
        int bad = 0;
        double worst = 0;
        var sb = new StringBuilder();
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double err = Math.Abs(a - e);
            bool ok = err <= atol + rtol * Math.Abs(e) || (double.IsNaN(e) && double.IsNaN(a)) || (double.IsInfinity(e) && e == a);
            if (ok) continue;
            bad++;
            worst = Math.Max(worst, double.IsNaN(err) ? double.PositiveInfinity : err);
            if (bad <= 8) sb.AppendLine($"  at {Coord(i, shape)}: got {a:R}, expected {e:R}, |diff| {err:G4}");
        }
        if (bad > 0)
            throw new XunitException($"{what}: {bad} of {expected.Length} values differ beyond atol {atol:G3} + rtol {rtol:G3}·|ref| (worst |diff| {worst:G4}); first:\n{sb}");
    }

    public static void All(float[] expected, float[] actual, double atol, double rtol, int[]? shape = null, string what = "") =>
        All(expected.AsSpan(), actual.AsSpan(), atol, rtol, shape, what);

    /// <summary>Index → "[n,c,h,w]" for the given shape, or "[i]" without one.</summary>
    public static string Coord(int index, ReadOnlySpan<int> shape)
    {
        if (shape.IsEmpty) return $"[{index}]";
        var c = new int[shape.Length];
        long rem = index;
        for (int d = shape.Length - 1; d >= 0; d--) { c[d] = (int)(rem % shape[d]); rem /= shape[d]; }
        return "[" + string.Join(",", c) + "]";
    }
}
