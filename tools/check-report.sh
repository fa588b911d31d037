#!/usr/bin/env bash
# Screenshots an HTML report with headless Chromium and fails when the screenshot is blank (nearly one colour):
#   bash tools/check-report.sh output/report.html output/report-screenshot.png
# Needs Debian's `chromium` (apt-get install -y chromium) and python3 (standard library only: zlib + struct, no
# packages). Exit 0: the page rendered with content; 1: blank or no screenshot; 2: usage or chromium missing.
set -uo pipefail

if [ $# -ne 2 ]; then echo "usage: bash tools/check-report.sh REPORT_HTML OUT_PNG" >&2; exit 2; fi
report=$1 out=$2
[ -f "$report" ] || { echo "check-report: $report: no such file" >&2; exit 2; }
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "check-report: chromium is not on PATH (Debian: apt-get install -y chromium)" >&2; exit 2; }

abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
mkdir -p "$(dirname "$out")"
rm -f "$out"
# Its own profile folder, so parallel runs and a root user's leftover profile never interfere; --no-sandbox because CI
# runs as root, where Chromium's sandbox refuses to start.
profile=$(mktemp -d "${TMPDIR:-/tmp}/check-report.XXXXXX")
trap 'rm -rf "$profile"' EXIT
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
  --window-size=1200,2000 --screenshot="$out" "file://$abs" >"$profile/chromium.log" 2>&1
code=$?
if [ ! -s "$out" ]; then
  echo "check-report: chromium wrote no screenshot of $report (exit $code):" >&2
  tail -5 "$profile/chromium.log" >&2
  exit 1
fi

python3 - "$out" <<'PY'
# Decodes the 8-bit RGB/RGBA, non-interlaced PNG Chromium writes (PNG spec §9 filters), then counts how many pixels
# differ from the most common colour.
import struct, sys, zlib
from collections import Counter

path = sys.argv[1]
data = open(path, 'rb').read()
if data[:8] != b'\x89PNG\r\n\x1a\n':
    sys.exit(f"check-report: {path}: not a PNG")
pos, idat = 8, []
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
    elif kind == b'IDAT':
        idat.append(body)
    pos += 12 + n
if depth != 8 or ctype not in (2, 6) or interlace:
    sys.exit(f"check-report: {path}: PNG depth {depth}, colour type {ctype}, interlace {interlace} not handled here")
bpp = 3 if ctype == 2 else 4
stride = w * bpp
raw = zlib.decompress(b''.join(idat))
prev = bytearray(stride)
counts = Counter()
for y in range(h):
    f = raw[y * (stride + 1)]
    row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride):
            row[i] = (row[i] + row[i - bpp]) & 255
    elif f == 2:
        row = bytearray((a + b) & 255 for a, b in zip(row, prev))
    elif f == 3:
        for i in range(stride):
            row[i] = (row[i] + ((row[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif f == 4:
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    elif f != 0:
        sys.exit(f"check-report: {path}: row {y} has filter {f}")
    # Every 4th pixel of every row is enough to tell a page from a blank one.
    counts.update(bytes(row[i:i + 3]) for i in range(0, stride, 4 * bpp))
    prev = row
total = sum(counts.values())
colour, most = counts.most_common(1)[0]
other = 1 - most / total
print(f"check-report: {path}: {w}x{h}, {other:.2%} of sampled pixels differ from the background #{colour.hex()}")
# A real report (a heading, a table, a chart) covers several percent; an empty or failed page is ~0%.
sys.exit(0 if other >= 0.01 else f"check-report: {path}: blank screenshot (under 1% of pixels differ from #{colour.hex()})")
PY
