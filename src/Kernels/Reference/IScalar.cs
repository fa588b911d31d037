using System.Runtime.CompilerServices;

namespace PixelCost.Kernels.Reference;

/// <summary>
/// The arithmetic a reference kernel may use. Reference kernels are written once over <typeparamref name="T"/>, so the
/// same code runs as plain float (<see cref="F32"/>), as double (<see cref="F64"/>, for tight checks) or counting every
/// operation it executes (<see cref="Counted"/>). The counting run is how FLOP formulas are validated, not assumed.
/// Rules for reference authors:
///  - matmul-class reductions (GEMM, convolution, attention QKᵀ and PV) accumulate with <see cref="Mac"/>: 2 MatmulFlops;
///  - every other +, -, *, /, unary minus, comparison, Max/Min/Abs/Floor is one OtherFlop;
///  - Exp, Log, Sqrt, Rsqrt, Sin, Cos, Tanh, Erf are one Transcendental each;
///  - constants (<see cref="From(double)"/>) and conversions to/from integers are free.
/// </summary>
public interface IScalar<T> where T : struct, IScalar<T>
{
    static abstract T operator +(T a, T b);
    static abstract T operator -(T a, T b);
    static abstract T operator *(T a, T b);
    static abstract T operator /(T a, T b);
    static abstract T operator -(T a);
    static abstract bool operator >(T a, T b);
    static abstract bool operator <(T a, T b);
    static abstract bool operator >=(T a, T b);
    static abstract bool operator <=(T a, T b);

    /// <summary>acc + a·b inside a matmul-class reduction: 2 MatmulFlops (one multiply-accumulate).</summary>
    static abstract T Mac(T acc, T a, T b);

    static abstract T Max(T a, T b);
    static abstract T Min(T a, T b);
    static abstract T Abs(T x);
    static abstract T Floor(T x);

    static abstract T Exp(T x);
    static abstract T Log(T x);
    static abstract T Sqrt(T x);
    /// <summary>1/√x as one transcendental (hardware rsqrt), not a sqrt plus a divide.</summary>
    static abstract T Rsqrt(T x);
    static abstract T Sin(T x);
    static abstract T Cos(T x);
    static abstract T Tanh(T x);
    static abstract T Erf(T x);

    /// <summary>A constant: free.</summary>
    static abstract T From(double value);
    static abstract T From(float value);
    static abstract double ToDouble(T x);
    static abstract float ToSingle(T x);
}

/// <summary>Plain float arithmetic (round to float after every operation, like the fast kernels).</summary>
public readonly struct F32 : IScalar<F32>
{
    public readonly float V;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public F32(float v) => V = v;
    public static F32 operator +(F32 a, F32 b) => new(a.V + b.V);
    public static F32 operator -(F32 a, F32 b) => new(a.V - b.V);
    public static F32 operator *(F32 a, F32 b) => new(a.V * b.V);
    public static F32 operator /(F32 a, F32 b) => new(a.V / b.V);
    public static F32 operator -(F32 a) => new(-a.V);
    public static bool operator >(F32 a, F32 b) => a.V > b.V;
    public static bool operator <(F32 a, F32 b) => a.V < b.V;
    public static bool operator >=(F32 a, F32 b) => a.V >= b.V;
    public static bool operator <=(F32 a, F32 b) => a.V <= b.V;
    public static F32 Mac(F32 acc, F32 a, F32 b) => new(acc.V + a.V * b.V);
    public static F32 Max(F32 a, F32 b) => new(MathF.Max(a.V, b.V));
    public static F32 Min(F32 a, F32 b) => new(MathF.Min(a.V, b.V));
    public static F32 Abs(F32 x) => new(MathF.Abs(x.V));
    public static F32 Floor(F32 x) => new(MathF.Floor(x.V));
    public static F32 Exp(F32 x) => new(MathF.Exp(x.V));
    public static F32 Log(F32 x) => new(MathF.Log(x.V));
    public static F32 Sqrt(F32 x) => new(MathF.Sqrt(x.V));
    public static F32 Rsqrt(F32 x) => new(1f / MathF.Sqrt(x.V));
    public static F32 Sin(F32 x) => new(MathF.Sin(x.V));
    public static F32 Cos(F32 x) => new(MathF.Cos(x.V));
    public static F32 Tanh(F32 x) => new(MathF.Tanh(x.V));
    public static F32 Erf(F32 x) => new((float)ScalarMath.Erf(x.V));
    public static F32 From(double value) => new((float)value);
    public static F32 From(float value) => new(value);
    public static double ToDouble(F32 x) => x.V;
    public static float ToSingle(F32 x) => x.V;
    public override string ToString() => V.ToString("R");
}

/// <summary>Double arithmetic: a more exact reference for tolerance checks of float kernels.</summary>
public readonly struct F64 : IScalar<F64>
{
    public readonly double V;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public F64(double v) => V = v;
    public static F64 operator +(F64 a, F64 b) => new(a.V + b.V);
    public static F64 operator -(F64 a, F64 b) => new(a.V - b.V);
    public static F64 operator *(F64 a, F64 b) => new(a.V * b.V);
    public static F64 operator /(F64 a, F64 b) => new(a.V / b.V);
    public static F64 operator -(F64 a) => new(-a.V);
    public static bool operator >(F64 a, F64 b) => a.V > b.V;
    public static bool operator <(F64 a, F64 b) => a.V < b.V;
    public static bool operator >=(F64 a, F64 b) => a.V >= b.V;
    public static bool operator <=(F64 a, F64 b) => a.V <= b.V;
    public static F64 Mac(F64 acc, F64 a, F64 b) => new(acc.V + a.V * b.V);
    public static F64 Max(F64 a, F64 b) => new(Math.Max(a.V, b.V));
    public static F64 Min(F64 a, F64 b) => new(Math.Min(a.V, b.V));
    public static F64 Abs(F64 x) => new(Math.Abs(x.V));
    public static F64 Floor(F64 x) => new(Math.Floor(x.V));
    public static F64 Exp(F64 x) => new(Math.Exp(x.V));
    public static F64 Log(F64 x) => new(Math.Log(x.V));
    public static F64 Sqrt(F64 x) => new(Math.Sqrt(x.V));
    public static F64 Rsqrt(F64 x) => new(1.0 / Math.Sqrt(x.V));
    public static F64 Sin(F64 x) => new(Math.Sin(x.V));
    public static F64 Cos(F64 x) => new(Math.Cos(x.V));
    public static F64 Tanh(F64 x) => new(Math.Tanh(x.V));
    public static F64 Erf(F64 x) => new(ScalarMath.Erf(x.V));
    public static F64 From(double value) => new(value);
    public static F64 From(float value) => new(value);
    public static double ToDouble(F64 x) => x.V;
    public static float ToSingle(F64 x) => (float)x.V;
    public override string ToString() => V.ToString("R");
}

/// <summary>Counts of what a <see cref="Counted"/> computation executed.</summary>
public readonly record struct OpCounts(long MatmulFlops, long OtherFlops, long Transcendentals)
{
    public Cost ToCost() => new(MatmulFlops, OtherFlops, Transcendentals, 0, 0);
}

/// <summary>
/// A float that counts every operation performed on it, per thread. Use <see cref="Begin"/> around a reference call:
/// <code>using var scope = Counted.Begin(); Reference.Op&lt;Counted&gt;(...); var counts = scope.Counts;</code>
/// </summary>
public readonly struct Counted : IScalar<Counted>
{
    public readonly float V;
    [ThreadStatic] private static long s_matmul, s_other, s_trans;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Counted(float v) => V = v;

    public static OpCounts Current => new(s_matmul, s_other, s_trans);

    public static Scope Begin() => new(Current);

    /// <summary>Counts since the scope began (on this thread).</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly OpCounts _start;
        internal Scope(OpCounts start) => _start = start;
        public OpCounts Counts
        {
            get
            {
                var now = Current;
                return new(now.MatmulFlops - _start.MatmulFlops, now.OtherFlops - _start.OtherFlops,
                    now.Transcendentals - _start.Transcendentals);
            }
        }
        public void Dispose() { }
    }

    private static Counted O(float v) { s_other++; return new(v); }
    private static bool OB(bool v) { s_other++; return v; }
    private static Counted T(double v) { s_trans++; return new((float)v); }

    public static Counted operator +(Counted a, Counted b) => O(a.V + b.V);
    public static Counted operator -(Counted a, Counted b) => O(a.V - b.V);
    public static Counted operator *(Counted a, Counted b) => O(a.V * b.V);
    public static Counted operator /(Counted a, Counted b) => O(a.V / b.V);
    public static Counted operator -(Counted a) => O(-a.V);
    public static bool operator >(Counted a, Counted b) => OB(a.V > b.V);
    public static bool operator <(Counted a, Counted b) => OB(a.V < b.V);
    public static bool operator >=(Counted a, Counted b) => OB(a.V >= b.V);
    public static bool operator <=(Counted a, Counted b) => OB(a.V <= b.V);
    public static Counted Mac(Counted acc, Counted a, Counted b) { s_matmul += 2; return new(acc.V + a.V * b.V); }
    public static Counted Max(Counted a, Counted b) => O(MathF.Max(a.V, b.V));
    public static Counted Min(Counted a, Counted b) => O(MathF.Min(a.V, b.V));
    public static Counted Abs(Counted x) => O(MathF.Abs(x.V));
    public static Counted Floor(Counted x) => O(MathF.Floor(x.V));
    public static Counted Exp(Counted x) => T(Math.Exp(x.V));
    public static Counted Log(Counted x) => T(Math.Log(x.V));
    public static Counted Sqrt(Counted x) => T(Math.Sqrt(x.V));
    public static Counted Rsqrt(Counted x) => T(1.0 / Math.Sqrt(x.V));
    public static Counted Sin(Counted x) => T(Math.Sin(x.V));
    public static Counted Cos(Counted x) => T(Math.Cos(x.V));
    public static Counted Tanh(Counted x) => T(Math.Tanh(x.V));
    public static Counted Erf(Counted x) => T(ScalarMath.Erf(x.V));
    public static Counted From(double value) => new((float)value);
    public static Counted From(float value) => new(value);
    public static double ToDouble(Counted x) => x.V;
    public static float ToSingle(Counted x) => x.V;
    public override string ToString() => V.ToString("R");
}
