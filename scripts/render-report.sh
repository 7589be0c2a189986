#!/usr/bin/env bash
# Renders a `pm report` page to a PNG with headless Chromium, to look at it as a reader would.
#   scripts/render-report.sh REPORT.html OUT.png [WIDTHxHEIGHT]   (default 1280x2400)
# Needs Debian's `chromium` (apt-get install -y chromium). The page has no script and loads nothing,
# so the screenshot is the page as any browser shows it.
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT]" >&2; exit 1; fi
html=$1; png=$2; size=${3:-1280x2400}
[ -f "$html" ] || { echo "$html: no such file" >&2; exit 1; }
command -v chromium >/dev/null || { echo "chromium is not installed (apt-get install -y chromium)" >&2; exit 1; }
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
out=$(cd "$(dirname "$png")" && pwd)/$(basename "$png")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --screenshot="$out" --window-size="${size/x/,}" "file://$abs" >/dev/null 2>&1
[ -s "$out" ] || { echo "chromium wrote no screenshot" >&2; exit 1; }
echo "$out"
