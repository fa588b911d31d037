using PixelCost.Kernels;

namespace PixelCost.Runtime.Schedulers;

/// <summary>
/// What every scheduler shares: the ᾱ table, argument checks, in-order stepping, the history buffers and the launch.
/// Subclasses set the timestep grid in their constructor and implement <see cref="StepCore"/> as host arithmetic in
/// double followed by <see cref="Launch"/> calls.
/// </summary>
public abstract class SchedulerBase : IScheduler
{
    private readonly Tensor?[] _buffers;
    private int _next;
    private IAccelerator? _acc;
    private int[] _shape = [];
    private bool _disposed;

    protected SchedulerBase(SchedulerConfig config, int steps, int buffers)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (steps < 1 || steps > config.NumTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(steps), steps,
                $"{config.ClassName}: inference steps must be 1 … num_train_timesteps ({config.NumTrainTimesteps})");
        Config = config;
        NumInferenceSteps = steps;
        AlphasCumprod = NoiseSchedule.AlphasCumprod(config);
        _buffers = new Tensor?[buffers];
    }

    public SchedulerConfig Config { get; }
    public int NumInferenceSteps { get; }
    public int[] Timesteps { get; protected init; } = [];
    public float[] ModelTimesteps { get; protected init; } = [];
    public double[]? Sigmas { get; protected init; }
    public virtual double InitNoiseSigma => 1.0;

    /// <summary>ᾱ_t, float32 values (see <see cref="NoiseSchedule.AlphasCumprod"/>).</summary>
    protected double[] AlphasCumprod { get; }

    protected bool VPrediction => Config.PredictionType == "v_prediction";

    public virtual double ScaleModelInput(int stepIndex)
    {
        CheckIndex(stepIndex);
        return 1.0;
    }

    public bool NeedsNoise(int stepIndex)
    {
        CheckIndex(stepIndex);
        return NeedsNoiseCore(stepIndex);
    }

    protected virtual bool NeedsNoiseCore(int stepIndex) => false;

    public void Step(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int stepIndex, Tensor? noise)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(modelOut);
        CheckIndex(stepIndex);
        string who = $"{Config.ClassName} step {stepIndex}";
        if (stepIndex != 0 && stepIndex != _next)
            throw new InvalidOperationException(_next < 0
                ? $"{who}: the previous step failed; start again at step 0"
                : $"{who}: steps run in order from 0 (next expected: {_next}); step 0 starts a new trajectory");
        if (stepIndex != 0 && (acc != _acc || !sample.Shape.SequenceEqual(_shape)))
            throw new InvalidOperationException(
                $"{who}: the trajectory started on {_acc?.Id} with a sample of shape {Tensor.FormatShape(_shape)}; got {acc.Id} and {sample.ShapeString} (start again at step 0)");
        if (!float.IsFinite(guidance)) throw new ArgumentException($"{who}: guidance {guidance} must be finite", nameof(guidance));
        bool wantNoise = NeedsNoiseCore(stepIndex);
        if (wantNoise && noise == null)
            throw new ArgumentException($"{who}: this step needs a noise tensor of the sample's shape {sample.ShapeString} (NeedsNoise is true)", nameof(noise));
        if (stepIndex == 0) { _acc = acc; _shape = sample.Shape.ToArray(); }
        _next = -1;   // a failed step leaves the trajectory unusable until step 0
        StepCore(acc, sample, modelOut, guidance, stepIndex, wantNoise ? noise : null);
        _next = stepIndex + 1;
    }

    public (double X, double M) PredictedX0Coefficients(int stepIndex)
    {
        CheckIndex(stepIndex);
        return X0Core(stepIndex);
    }

    /// <summary>x̂₀'s coefficients; by default from ᾱ at the step's timestep (the DDPM/DDIM/PNDM family).</summary>
    protected virtual (double X, double M) X0Core(int stepIndex)
    {
        var (x0x, x0m, _, _) = Predictions(AlphasCumprod[Timesteps[stepIndex]]);
        return (x0x, x0m);
    }

    public void PredictX0(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int stepIndex, Tensor x0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(x0);
        if (!float.IsFinite(guidance)) throw new ArgumentException($"{Config.ClassName} x0 at step {stepIndex}: guidance {guidance} must be finite", nameof(guidance));
        var (x, m) = PredictedX0Coefficients(stepIndex);
        Launch(acc, sample, modelOut, x0, guidance, x, m);
    }

    protected abstract void StepCore(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int stepIndex, Tensor? noise);

    /// <summary>History buffer <paramref name="slot"/>: sample's shape, on acc; (re)allocated when either changes.</summary>
    protected Tensor Buffer(IAccelerator acc, Tensor sample, int slot)
    {
        var b = _buffers[slot];
        if (b != null && !b.IsDisposed && b.Accelerator == acc && b.Shape.SequenceEqual(sample.Shape)) return b;
        b?.Dispose();
        return _buffers[slot] = acc.Allocate(sample.Shape.ToArray());
    }

    /// <summary>One <see cref="Ops.DenoiseStep"/> with coefficients computed in double and rounded to float32.</summary>
    protected void Launch(IAccelerator acc, Tensor x, Tensor modelOut, Tensor y, float guidance, double cx, double ce,
        double cn = 0, double ch = 0, Tensor? noise = null, Tensor? hist = null, Tensor? aux = null,
        DenoiseAux auxKind = DenoiseAux.Guided, double ax = 0, double ae = 1)
    {
        var c = new DenoiseCoefficients((float)cx, (float)ce, (float)cn, (float)ch, guidance, auxKind, (float)ax, (float)ae);
        Ops.DenoiseStep(acc, x, modelOut, y, c, noise, hist, aux);
    }

    /// <summary>x0 = X0x·x + X0m·m and ε = Ex·x + Em·m for the model output m at ᾱ (diffusers' ε / v conversions).</summary>
    protected (double X0x, double X0m, double Ex, double Em) Predictions(double alphaCumprod)
    {
        double a = Math.Sqrt(alphaCumprod), b = Math.Sqrt(1 - alphaCumprod);
        return VPrediction ? (a, -b, b, a) : (1 / a, -b / a, 0, 1);
    }

    /// <summary>diffusers' <c>previous timestep</c> for DDPM/DDIM/PNDM: t − T div N.</summary>
    protected int StepRatio => Config.NumTrainTimesteps / NumInferenceSteps;

    /// <summary>ᾱ at a timestep, or the "final" value when it is negative.</summary>
    protected double AlphaOrFinal(int t, double final) => t >= 0 ? AlphasCumprod[t] : final;

    protected void CheckIndex(int stepIndex)
    {
        if ((uint)stepIndex >= (uint)Timesteps.Length)
            throw new ArgumentOutOfRangeException(nameof(stepIndex), stepIndex, $"{Config.ClassName}: step index must be 0 … {Timesteps.Length - 1}");
    }

    /// <summary>Integer timesteps from a double grid (already integral for every class that uses this).</summary>
    protected static int[] Ints(IEnumerable<double> t) => t.Select(v => (int)v).ToArray();

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        for (int i = 0; i < _buffers.Length; i++)
        {
            _buffers[i]?.Dispose();
            _buffers[i] = null;
        }
        GC.SuppressFinalize(this);
    }
}
