// Independent yardstick for CpuPeak.MeasureTriadBytesPerSecond: STREAM-style triad a[i] = b[i] + s*c[i] in C.
// Build: gcc -O3 -march=native -fopenmp triad.c -o triad    Run: OMP_NUM_THREADS=N ./triad [MiB per array] [passes]
// Arrays far larger than L3 (32 MiB here); 12 bytes per element counted (read b, c; write a), no write-allocate —
// the STREAM convention, so the real traffic with ordinary stores is ~16 B/element. Best of the passes (default 10).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 64;
    int passes = argc > 2 ? atoi(argv[2]) : 10;
    size_t n = mib * 1024 * 1024 / sizeof(float);
    float *a = aligned_alloc(64, n * sizeof(float)), *b = aligned_alloc(64, n * sizeof(float)), *c = aligned_alloc(64, n * sizeof(float));
    const float s = 3.0f;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) { a[i] = 0; b[i] = 1; c[i] = 2; }
    double best = 1e30;
    for (int pass = 0; pass < passes; pass++) {
        double t0 = omp_get_wtime();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
        double t = omp_get_wtime() - t0;
        if (t < best) best = t;
    }
    printf("triad threads=%d arrays=3x%zu MiB best=%.2f GB/s (12 B/element) check=%g\n",
           omp_get_max_threads(), mib, 12.0 * n / best / 1e9, (double)a[n / 2]);
    return 0;
}
