#!/usr/bin/env bash
# +Pixel on the development set: recall of identifying text boxes, collateral, safe
# annotations kept, time per image. Builds the set from the corpus on first use.
#
#   bench/pixel_bench.sh [DEVSET_DIR] [extra dcmask anonymize flags...]
#
# Needs the corpus (DCMASK_CORPUS, default ../shared/corpus) and Debian's DejaVu and
# Liberation fonts, which it installs with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DCMASK_CORPUS="${DCMASK_CORPUS:-$(cd .. && pwd)/shared/corpus}"
DEVSET="${1:-target/pixel-devset}"
shift || true

if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || [ ! -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "== installing fonts-dejavu-core fonts-liberation"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends fonts-dejavu-core fonts-liberation >/dev/null
fi

cargo build --release -q -p dcmask --bin dcmask
cargo build --release -q -p dcmask-engine --example pixel_devset --example pixel_score
if [ ! -f "$DEVSET/truth.json" ]; then
  ./target/release/examples/pixel_devset "$DEVSET"
fi
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
start=$(date +%s%N)
./target/release/dcmask anonymize "$DEVSET/images" -o "$OUT/out" --linkage "$OUT/linkage" --profile pixel --quiet "$@" || true
ms=$(( ($(date +%s%N) - start) / 1000000 ))
./target/release/examples/pixel_score "$DEVSET" "$OUT/out" "$OUT/linkage" "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
