using System.Text.Json;
using System.Text.Json.Serialization;
using PixelCost.Harness.Commands;

namespace PixelCost.Harness.Tour;

/// <summary>One popular claim as data (src/Harness/Tour/claims.json, embedded): the quantity, its unit, what it is
/// compared with (<see cref="Measure"/>), the configuration it implies and where it is heard.</summary>
public sealed record Claim(string Id, string ClaimText, double Quantity, string Unit, string Measure, string? Model, int Width, int Height,
    int? Steps, double? Guidance, string Implies, string Heard);

/// <summary>A claim beside our number: counted (FLOPs, from the same code as <c>cost</c>) or measured (time, power) on
/// this machine, or not measured with the reason. Ratio = claim ÷ ours.</summary>
public sealed record AuditRow(Claim Claim, double? Ours, string OursKind, string OursWhat, double? Ratio, string Verdict);

/// <summary>What the audit needs from the run that are measurements (the pixel map's time and power), or why not.</summary>
public sealed record PixelMeasurements(int Width, int Height, long Flops, double Seconds, double? Watts, string? WattsNote);

public static class Audit
{
    /// <summary>The claims shipped with the tool.</summary>
    public static IReadOnlyList<Claim> Claims { get; } = LoadEmbedded();

    private static IReadOnlyList<Claim> LoadEmbedded()
    {
        using var s = typeof(Audit).Assembly.GetManifestResourceStream("PixelCost.Harness.Tour.claims.json")
            ?? throw new InvalidOperationException("claims.json is not embedded in the assembly");
        return Parse(s);
    }

    public static IReadOnlyList<Claim> Parse(Stream json)
    {
        var file = JsonSerializer.Deserialize<ClaimsFile>(json, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })
            ?? throw new InvalidDataException("claims.json: empty");
        return file.Claims.Select(c => new Claim(c.Id, c.Claim, c.Quantity, c.Unit, c.Measure, c.Model, c.Width, c.Height, c.Steps, c.Guidance,
            c.Implies, c.Heard)).ToList();
    }

    private sealed record ClaimsFile(string About, List<ClaimJson> Claims);

    private sealed record ClaimJson(string Id, string Claim, double Quantity, string Unit, string Measure, string? Model, int Width, int Height,
        int? Steps, double? Guidance, string Implies, string Heard);

    /// <summary>Our counted value for a FLOP claim: the configuration run through <c>cost</c>'s own collection.</summary>
    internal static (double Value, string What) Counted(Claim c, Func<string, int, int, int, double, CostCommand.CostReport> cost)
    {
        var r = cost(c.Model!, c.Width, c.Height, c.Steps ?? 1, c.Guidance ?? 0);
        string config = $"{c.Model} {c.Width}×{c.Height}, {r.Steps} step{(r.Steps > 1 ? "s" : "")}, " +
            (r.UnetEvaluationsPerStep > 1 ? $"CFG {r.Guidance:G3} (2 UNet evaluations per step)" : "no CFG");
        return c.Measure switch
        {
            "total" => (r.Total.Flops, $"counted: whole run, {config}, {TextEncoderNote(r)}"),
            "denoise" => (r.Components.Where(x => x.Component is "unet × steps" or "scheduler × steps").Sum(x => (double)x.Flops), $"counted: UNet × steps + scheduler, {config}"),
            "ratio" => (r.FlopRatio, $"counted: whole run ({config}) ÷ random {c.Width}×{c.Height} map"),
            _ => throw new InvalidDataException($"claims.json: claim '{c.Id}': measure '{c.Measure}' is not a counted one"),
        };
    }

    private static (double?, string, string) CountedRow(Claim c, Func<string, int, int, int, double, CostCommand.CostReport> cost)
    {
        var (value, what) = Counted(c, cost);
        return (value, "counted", what);
    }

    private static string TextEncoderNote(CostCommand.CostReport r) =>
        r.Components.Any(x => x.Component.StartsWith("text_encoder", StringComparison.Ordinal) && x.Flops > 0)
            ? "text encoder(s) included" : "no text encoder counted (the pipeline has none)";

    /// <summary>Every claim beside ours. <paramref name="cost"/> is <c>cost</c>'s collection (model, width, height, steps, guidance).</summary>
    internal static IReadOnlyList<AuditRow> Run(IReadOnlyList<Claim> claims, Func<string, int, int, int, double, CostCommand.CostReport> cost, PixelMeasurements px)
    {
        var rows = new List<AuditRow>();
        foreach (var c in claims)
        {
            if (c.Measure.StartsWith("pixels_", StringComparison.Ordinal) && (c.Width, c.Height) != (px.Width, px.Height))
                throw new InvalidDataException($"claims.json: claim '{c.Id}' is about a {c.Width}×{c.Height} map; the tour measures {px.Width}×{px.Height}");
            (double? ours, string kind, string what) = c.Measure switch
            {
                "pixels_flops" => ((double?)px.Flops, "counted", $"counted: one {c.Width}×{c.Height} random map (Ops.PixelsNoise spec)"),
                "pixels_seconds" => (px.Seconds, "measured", $"measured here: median time of one {c.Width}×{c.Height} random map"),
                "pixels_watts" => (px.Watts, px.Watts is null ? "not measured" : "measured",
                    px.Watts is null ? $"not measured: {px.WattsNote}" : "measured here: average power while making random maps"),
                _ => CountedRow(c, cost),
            };
            double? ratio = ours is > 0 ? c.Quantity / ours : null;
            rows.Add(new AuditRow(c, ours, kind, what, ratio, Verdict(c, ratio)));
        }
        return rows;
    }

    /// <summary>
    /// The one-line verdict from ratio = claim ÷ ours: within a factor of 2 "about right"; otherwise "≈ N× too high/low".
    /// Upper-bound claims (watts: "&lt; X") hold when ours ≤ X.
    /// </summary>
    public static string Verdict(Claim c, double? ratio)
    {
        if (ratio is not { } r) return "cannot check here: ours is not measured on this machine";
        if (c.Measure == "pixels_watts") return r >= 1 ? $"holds: ours is {1 / r:G2}× the bound" : $"does not hold: ours is {1 / r:G2}× the bound";
        if (r >= 0.5 && r <= 2) return $"about right (claim ÷ ours = {r:G2})";
        return r > 1 ? $"≈ {Round(r)}× too high" : $"≈ {Round(1 / r)}× too low";
    }

    private static string Round(double x) => x >= 100 ? x.ToString("N0") : x.ToString("G2");
}
