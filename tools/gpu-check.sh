#!/usr/bin/env bash
# The GPU check, in two halves (the GPU machine has no .NET):
#   bash tools/gpu-check.sh publish   # here: a self-contained pixelcost into .gpu/bin (~53 MB with SkiaSharp's native libraries; not trimmed: ILGPU reads the kernels' IL)
#   bash tools/gpu-check.sh run       # on the GPU machine, in the repository root, with .gpu/ carried over:
#                                     # devices, verify on cuda, bench on cuda with the cuBLAS baseline, compare cpu vs cuda,
#                                     # one SD 1.5 UNet pass (batch 2) + VAE decode, NVML reading; JSON results and logs into $OUT (or ./gpu-results)
# Through the device tool: run(command="bash tools/gpu-check.sh run", carry=[".gpu"], timeout_s=540).
set -uo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  publish)
    exec dotnet publish src/Harness -c Release -r linux-x64 --self-contained \
      -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -o .gpu/bin
    ;;
  run) ;;
  *) echo "usage: bash tools/gpu-check.sh publish|run" >&2; exit 2 ;;
esac

bin=.gpu/bin/pixelcost
[ -x "$bin" ] || { echo "gpu-check: $bin missing: run 'bash tools/gpu-check.sh publish' first and carry .gpu" >&2; exit 2; }
out="${OUT:-gpu-results}"
mkdir -p "$out"
# .NET's single-file host extracts native parts here; the GPU machine's home may be read-only.
export DOTNET_BUNDLE_EXTRACT_BASE_DIR="${TMPDIR:-/tmp}/pixelcost-bundle"
status=0

step() {  # step NAME SECONDS COMMAND...: stdout → NAME.json (or .txt), stderr → NAME.log, exit code recorded
  local name=$1 limit=$2; shift 2
  local ext=json; case " $* " in *" --json "*) ;; *) ext=txt ;; esac
  local t0=$(date +%s%N)
  timeout "$limit" "$@" >"$out/$name.$ext" 2>"$out/$name.log"; local rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '%-16s rc=%-3s %6d ms  %s\n' "$name" "$rc" "$ms" "$*" | tee -a "$out/summary.txt"
  [ "$rc" = 0 ] || status=1
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,clocks.max.sm --format=csv 2>&1 || true; } > "$out/nvidia-smi.txt"
# Step limits add up to 420 s: one device-tool call (≤ 600 s, machine start included) runs them all.
step devices        45 "$bin" devices --json
step verify-cuda    90 "$bin" verify --accelerator cuda --json
step bench-cuda    120 "$bin" bench kernels --accelerator cuda --baseline cublas --min-time 0.2 --json
step bench-gemm-tc  45 "$bin" bench kernels --accelerator cuda --baseline cublas --filter "gemm*8192*" --min-time 0.5 --json
step bench-unet     60 "$bin" bench unet --model sd15 --accelerator cuda --batch 2 --vae --repeats 3 --json
step compare        60 "$bin" compare --min-time 0.1 --json
echo "gpu-check: results in $out (summary.txt)"
exit $status
