using System.Globalization;

namespace PixelCost.Harness.Reporting;

/// <summary>
/// The one way a rate (GFLOP/s, GB/s, % of peak) is computed and shown: a row with nothing to rate (0 FLOPs, 0 bytes,
/// no measured time) has no rate — null in JSON, "–" in tables — never "0.00".
/// </summary>
public static class Rates
{
    /// <summary>What a table shows where a number does not apply.</summary>
    public const string NotApplicable = "–";

    /// <summary><paramref name="amount"/> ÷ <paramref name="seconds"/> ÷ <paramref name="unit"/>; null when the amount is
    /// 0 or the time is not a positive number.</summary>
    public static double? PerSecond(double amount, double seconds, double unit = 1e9) =>
        amount > 0 && seconds > 0 && double.IsFinite(seconds) ? amount / seconds / unit : null;

    /// <summary>100 · <paramref name="rate"/> ÷ <paramref name="peak"/>, or null when either is missing.</summary>
    public static double? PercentOf(double? rate, double? peak) => rate is { } r && peak is > 0 ? 100 * r / peak.Value : null;

    /// <summary>The rate with <paramref name="format"/> (invariant culture), or "–".</summary>
    public static string Format(double? rate, string format = "F1") =>
        rate is { } r && double.IsFinite(r) ? r.ToString(format, CultureInfo.InvariantCulture) : NotApplicable;
}
