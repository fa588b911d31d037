namespace PixelCost.Kernels.Meta;

/// <summary>
/// The shape-only accelerator: "meta" tensors have a shape and a dtype but no memory, and a launch records its ledger
/// entry (the Spec's cost, variant "meta", <see cref="LaunchTiming.NotRun"/>) without running anything. A model run
/// here goes through exactly the Ops entries — and so the Spec validation and cost — of a real run: the shape-only pass
/// <c>pixelcost cost</c> needs to price a whole image in seconds and no memory (SD 1.5's VAE decoder at 512²: ~10 ms).
/// What it tracks instead of memory: the bytes of
/// live tensors (exact requested bytes, no pool size classes), their peak since <see cref="ResetPeak"/> — the "peak
/// activation bytes" figure, once the weights' bytes are subtracted — and the number of allocations.
/// Upload and Download throw: there is nothing to copy. Thread-safe.
/// </summary>
public sealed class MetaAccelerator : IAccelerator
{
    /// <summary>The ledger variant of every launch here.</summary>
    public const string Variant = "meta";

    private readonly Lock _lock = new();
    private long _inUse, _peak, _allocations;

    public MetaAccelerator() => Kernels = new MetaKernels();

    public string Id => "meta";

    public string Name => "meta (shapes and costs only: no memory, nothing runs)";

    public AcceleratorKind Kind => AcceleratorKind.Meta;

    public Ledger Ledger { get; } = new();

    public IOpKernels Kernels { get; }

    /// <summary>A meta tensor: shape and dtype, counted in the live bytes; <paramref name="zero"/> has no meaning here.</summary>
    public Tensor Allocate(DType dtype, int[] shape, bool zero)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long bytes = Tensor.ElementCount(shape) * dtype.SizeOf();
        lock (_lock)
        {
            _allocations++;
            _inUse += bytes;
            _peak = Math.Max(_peak, _inUse);
        }
        return new Tensor(new DeviceBuffer(this, bytes, Free), 0, dtype, (int[])shape.Clone(), null, owns: true);
    }

    private void Free(long bytes)
    {
        lock (_lock) _inUse -= bytes;
    }

    public void Upload<T>(Tensor dst, ReadOnlySpan<T> src) where T : unmanaged =>
        throw new InvalidOperationException($"upload to {Id}: tensor {dst?.ShapeString} is a meta tensor (a shape without memory); the meta accelerator only records shapes and costs");

    public void Download<T>(Tensor src, Span<T> dst) where T : unmanaged =>
        throw new InvalidOperationException($"download from {Id}: tensor {src?.ShapeString} is a meta tensor (a shape without memory); the meta accelerator only records shapes and costs");

    /// <summary>Nothing is ever enqueued.</summary>
    public void Synchronize() { }

    /// <summary>Meaningless here (nothing runs); kept settable for callers that set it on every accelerator.</summary>
    public bool SyncEachLaunch { get; set; }

    /// <summary>Always true: every launch here is a dry run. Setting false is refused.</summary>
    public bool DryRun
    {
        get => true;
        set
        {
            if (!value) throw new NotSupportedException($"{Id}: the meta accelerator cannot run kernels; it only records them");
        }
    }

    /// <summary>Records the launch (cost, variant, scope) without running it.</summary>
    public void Launch(string op, string shape, Cost cost, KernelLaunch kernel) =>
        Ledger.Add(new LedgerEntry(Name, op, kernel.Variant, shape, cost, TimeSpan.Zero) { Timing = LaunchTiming.NotRun });

    /// <summary>Bytes of live meta tensors (InUse), their peak, 0 cached, allocations, 0 pool hits.</summary>
    public MemoryStats Memory
    {
        get { lock (_lock) return new MemoryStats(_inUse, _peak, 0, _allocations, 0); }
    }

    /// <summary>Starts a new peak window at the bytes live now (e.g. after loading weights).</summary>
    public void ResetPeak()
    {
        lock (_lock) _peak = _inUse;
    }

    /// <summary>Nothing is cached.</summary>
    public void TrimPool() { }

    public void Dispose() { }
}

/// <summary>
/// The meta backend's kernel table: every op's launch is named <see cref="MetaAccelerator.Variant"/> and its Run does
/// nothing. Variant 0 only: a numbered variant throws, as on any backend that lacks it.
/// </summary>
internal sealed class MetaKernels : IOpKernels
{
    private static readonly KernelLaunch Nothing = new(MetaAccelerator.Variant, static () => { });

    private static KernelLaunch L(string op, int variant = 0) => variant == 0
        ? Nothing
        : throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{op}: the meta accelerator has only variant 0 ({MetaAccelerator.Variant})");

    public KernelLaunch FillUniform(Tensor dst, ulong seed, ulong stream, int variant) => L("noise.uniform", variant);
    public KernelLaunch FillGaussian(Tensor dst, ulong seed, float mean, float std, ulong stream, int variant) => L("noise.gaussian", variant);
    public KernelLaunch PixelsNoise(Tensor image, ulong seed, int variant) => L("pixels.noise", variant);
    public KernelLaunch PixelsSmoothNoise(Tensor image, ulong seed, int scale) => L("pixels.smooth_noise");
    public KernelLaunch PixelsGradient(Tensor image) => L("pixels.gradient");
    public KernelLaunch PixelsCheckerboard(Tensor image, int cell) => L("pixels.checkerboard");
    public KernelLaunch QuantizeU8(Tensor src, Tensor dst) => L("pixels.quantize_u8");
    public KernelLaunch Gemm(Tensor a, Tensor b, Tensor c, GemmDims d, bool transA, bool transB, float alpha, float beta, int variant) => L("gemm", variant);
    public KernelLaunch Linear(Tensor x, Tensor w, Tensor? bias, Tensor y, LinearDims d, int variant) => L("linear", variant);
    public KernelLaunch Conv2d(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dDims d, int variant) => L("conv2d", variant);
    public KernelLaunch GroupNorm(Tensor x, int groups, Tensor? gamma, Tensor? beta, Tensor y, float eps, bool fuseSilu, int variant) => L("group_norm", variant);
    public KernelLaunch LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor y, float eps, int variant) => L("layer_norm", variant);
    public KernelLaunch Softmax(Tensor x, Tensor y, int variant) => L("softmax", variant);
    public KernelLaunch Attention(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale, bool causal, int variant) => L("attention", variant);
    public KernelLaunch Unary(UnaryOp op, Tensor x, Tensor y, int variant) => L(op.ToString().ToLowerInvariant(), variant);
    public KernelLaunch Geglu(Tensor x, Tensor y, int variant) => L("geglu", variant);
    public KernelLaunch Add(Tensor a, Tensor b, Tensor y, int variant) => L("add", variant);
    public KernelLaunch AddChannelBias(Tensor x, Tensor b, Tensor y, int variant) => L("add_channel_bias", variant);
    public KernelLaunch Scale(Tensor x, float s, Tensor y, int variant) => L("scale", variant);
    public KernelLaunch ConcatChannels(Tensor a, Tensor b, Tensor y, int variant) => L("concat", variant);
    public KernelLaunch Upsample2xNearest(Tensor x, Tensor y, int variant) => L("upsample_nearest_2x", variant);
    public KernelLaunch TimestepEmbedding(Tensor t, Tensor y, bool flipSinToCos, float downscaleFreqShift, float maxPeriod, int variant) => L("timestep_embedding", variant);
    public KernelLaunch Copy(Tensor src, Tensor dst) => L("copy");
    public KernelLaunch Embedding(Tensor ids, Tensor table, Tensor? positions, Tensor y, int variant) => L("embedding", variant);
    public KernelLaunch DenoiseStep(Tensor x, Tensor modelOut, Tensor y, DenoiseCoefficients c, Tensor? noise, Tensor? hist, Tensor? aux, int variant) => L("denoise_step", variant);
}
