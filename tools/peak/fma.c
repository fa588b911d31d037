// Independent yardstick for CpuPeak.MeasureFmaFlops: peak fp32 FMA throughput in C.
// Build: gcc -O3 -march=native -fopenmp fma.c -o fma    Run: OMP_NUM_THREADS=N ./fma [seconds]
// Each thread keeps 12 independent 8-lane accumulators so that FMA latency × pipes (Zen 3: 4 cycles × 2 pipes = 8)
// is covered; FLOPs = 2 × lanes × FMAs. Best of several trials, all threads timed together.
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define ACC 12

static double kernel(long iters)
{
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-6f);
    __m256 x[ACC];
    for (int k = 0; k < ACC; k++) x[k] = _mm256_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
        for (int k = 0; k < ACC; k++) x[k] = _mm256_fmadd_ps(x[k], a, b);
    }
    __m256 s = x[0];
    for (int k = 1; k < ACC; k++) s = _mm256_add_ps(s, x[k]);
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0] + o[7];
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int threads = omp_get_max_threads();
    long iters = 1000;
    for (;;) { // calibrate one trial to ~seconds/5 on one thread
        double t0 = omp_get_wtime();
        volatile double sink = kernel(iters);
        (void)sink;
        if (omp_get_wtime() - t0 > seconds / 5) break;
        iters *= 2;
    }
    double best = 0, sink = 0;
    for (int trial = 0; trial < 5; trial++) {
        double t0 = 0, t1 = 0;
#pragma omp parallel reduction(+ : sink)
        {
#pragma omp barrier
#pragma omp single
            t0 = omp_get_wtime();
            sink += kernel(iters);
#pragma omp barrier
#pragma omp single
            t1 = omp_get_wtime();
        }
        double flops = 2.0 * 8 * ACC * (double)iters * threads / (t1 - t0);
        if (flops > best) best = flops;
    }
    printf("fma threads=%d accumulators=%d best=%.2f GFLOP/s (fp32, AVX2 8 lanes) sink=%g\n", threads, ACC, best / 1e9, sink);
    return 0;
}
