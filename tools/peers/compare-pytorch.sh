#!/usr/bin/env bash
# Ours vs PyTorch on SD 1.5 at 512², batch 1, fp32, in one sitting: `pixelcost devices` (the measured FMA peak),
# `pixelcost bench unet --model sd15 --batch 1 --vae`, and tools/peers/time_pytorch.py (diffusers 0.27.2 on Debian's
# python3-torch), alternated in pairs (ours, PyTorch; then PyTorch, ours; …) so drifting load on a shared machine hits
# both sides alike; ends with a second peak measurement. Prints one table: seconds (median of all timed rounds),
# GFLOP/s and % of the measured peak for each side, and PyTorch's time ÷ ours.
#
# Installs and downloads nothing. Needs: Debian's python3-torch (run as root once:
#   apt-get update && apt-get install -y python3-torch python3-packaging python3-regex python3-requests \
#     python3-filelock python3-importlib-metadata python3-numpy python3-pil python3-tqdm)
# and diffusers 0.27.2's source (any clone of github.com/huggingface/diffusers:
#   git --git-dir=DIFFUSERS.git archive v0.27.2 src/diffusers | tar -x -C /tmp/diffusers-0.27.2).
#
# Usage: tools/peers/compare-pytorch.sh [--threads 2] [--rounds 3] [--pairs 1] [--diffusers-src DIR]
#                                       [--pixelcost PATH] [--python PATH] [--out DIR]
#   --diffusers-src  the folder holding diffusers/ (default $DIFFUSERS_SRC, else /tmp/diffusers-0.27.2/src)
#   --pixelcost      the CLI to time (default src/Harness/bin/Release/net10.0/pixelcost, built if missing)
#   --out            keep the raw JSON of every step there (default: a temporary folder, removed at the end)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
threads=2 rounds=3 pairs=1 out=""
src=${DIFFUSERS_SRC:-/tmp/diffusers-0.27.2/src}
pixelcost="$root/src/Harness/bin/Release/net10.0/pixelcost"
py=/usr/bin/python3

die() { echo "compare-pytorch.sh: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --pairs) pairs=${2:?}; shift 2 ;;
    --diffusers-src) src=${2:?}; shift 2 ;;
    --pixelcost) pixelcost=${2:?}; shift 2 ;;
    --python) py=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for v in threads rounds pairs; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--$v must be a positive integer, got '${!v}'"
done
[ -f "$src/diffusers/__init__.py" ] || die "--diffusers-src '$src' has no diffusers/__init__.py (extract v0.27.2's src/ there; see --help)"
"$py" -c "import torch" 2>/dev/null || die "$py cannot import torch: apt-get install python3-torch (see --help)"
if [ ! -x "$pixelcost" ]; then
  echo "building $pixelcost …" >&2
  dotnet build "$root/src/Harness" -c Release >&2 || die "dotnet build src/Harness failed"
fi

if [ -n "$out" ]; then mkdir -p "$out"; keep=1; else out=$(mktemp -d); keep=0; fi
[ -d "$out" ] && [ -w "$out" ] || die "--out '$out' is not a writable folder"
cleanup() { [ "$keep" = 1 ] || rm -rf "$out"; }
trap cleanup EXIT

# Each step writes NAME.json.tmp and renames it when complete, so a kept folder never holds a half-written file.
step() {  # step NAME COMMAND…
  local name=$1; shift
  echo "[$(date -u +%H:%M:%S)] $name: $*" >&2
  "$@" > "$out/$name.json.tmp" || die "$name failed: $*"
  mv "$out/$name.json.tmp" "$out/$name.json"
}
ours() { step "ours-$1" "$pixelcost" bench unet --model sd15 --batch 1 --vae --json --threads "$threads" --repeats "$rounds"; }
torch() { step "pytorch-$1" "$py" "$root/tools/peers/time_pytorch.py" --diffusers-src "$src" --threads "$threads" --rounds "$rounds"; }

step devices-start "$pixelcost" devices --json --threads "$threads"
for ((i = 1; i <= pairs; i++)); do
  if ((i % 2)); then ours "$i"; torch "$i"; else torch "$i"; ours "$i"; fi
done
step devices-end "$pixelcost" devices --json --threads "$threads"

"$py" - "$out" "$pairs" <<'EOF'
import glob, json, os, platform, statistics, sys
out, pairs = sys.argv[1], int(sys.argv[2])
load = lambda p: json.load(open(os.path.join(out, p)))
peaks = [load(f)["cpu"]["measured_fp32_flops_per_second"] / 1e9 for f in ("devices-start.json", "devices-end.json")]
ours = [load(f"ours-{i}.json") for i in range(1, pairs + 1)]
torch = [load(f"pytorch-{i}.json") for i in range(1, pairs + 1)]
peaks += [o["measured_peak_gflops"] for o in ours if o.get("measured_peak_gflops")]
# The highest peak measured in the sitting: other load only ever lowers a measurement, so this is the conservative one.
peak = max(peaks)
parts = {p["component"]: p for p in ours[0]["parts"]}
rows = []
for comp, key, label in (("unet", "unet", "UNet pass"), ("vae decoder", "vae_decoder", "VAE decode")):
    flops = parts[comp]["flops"]
    # Ours: `bench unet` reports the median of its --repeats; each pair's median counts as one sample per round.
    ours_s = [p["seconds"] for o in ours for p in o["parts"] if p["component"] == comp]
    torch_s = [s for t in torch for s in t[key]["rounds"]]
    o, t = statistics.median(ours_s), statistics.median(torch_s)
    for who, s, samples in (("ours", o, ours_s), (f"PyTorch {torch[0]['torch']}", t, torch_s)):
        g = flops / s / 1e9
        rows.append((label, who, s, min(samples), max(samples), g, 100 * g / peak, t / o if who == "ours" else None))
cpu = load("devices-start.json")["cpu"]
print(f"SD 1.5, 512², batch 1, fp32, {ours[0]['parts'][0].get('repeats', '?')} timed rounds × {pairs} pair(s), "
      f"{torch[0]['threads']} threads; {cpu['name']} ({cpu['cores']} cores, {cpu['simd_width_bits']}-bit SIMD); "
      f"PyTorch {torch[0]['torch']} + diffusers {torch[0]['diffusers']} ({torch[0]['unet']['attention_processor']})")
print(f"measured fp32 FMA peak (pixelcost devices / bench unet, this sitting): {', '.join(f'{p:.1f}' for p in peaks)} GFLOP/s; "
      f"% of peak uses the highest, {peak:.1f}")
print(f"GFLOP/s = the graph's counted FLOPs (ours' ledger, matmul + other: UNet {parts['unet']['flops']/1e9:.1f} G, "
      f"VAE {parts['vae decoder']['flops']/1e9:.1f} G) ÷ the median time; same FLOPs for both sides")
hdr = ("component", "who", "seconds (median)", "range", "GFLOP/s", "% of peak", "PyTorch ÷ ours (time)")
w = [12, 16, 16, 15, 8, 9, 21]
print(" | ".join(h.ljust(x) for h, x in zip(hdr, w)))
print("-+-".join("-" * x for x in w))
for label, who, s, lo, hi, g, pct, ratio in rows:
    cells = (label, who, f"{s:.2f}", f"{lo:.2f}–{hi:.2f}", f"{g:.1f}", f"{pct:.1f}%", f"{ratio:.2f}×" if ratio else "")
    print(" | ".join(c.ljust(x) for c, x in zip(cells, w)))
EOF
[ "$keep" = 1 ] && echo "raw JSON: $out" >&2
exit 0
