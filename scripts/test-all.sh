#!/usr/bin/env bash
# Runs every check of the project: format, lints, the release build and its dependency
# and `ldd` check, Rust unit and integration tests (engine, batch, corpus,
# dciodvfy/dcmdump), and the browser tests in headless Chromium.
#
# Installs what the tests need when it is missing: the Debian packages chromium,
# fonts-noto-color-emoji, dcmtk, dicom3tools, fonts-dejavu-core and fonts-liberation
# (the OCR tests draw text), nodejs, npm, python3 and python3-pip (apt-get, with sudo
# unless run as root); pycanon from PyPI (the risk figures are checked against it);
# the npm packages of tests/browser. Needs the Rust toolchain and the corpus in
# ../shared/corpus (or DCMASK_CORPUS).
set -euo pipefail
cd "$(dirname "$0")/.."
export DCMASK_CORPUS="${DCMASK_CORPUS:-$(cd .. && pwd)/shared/corpus}"

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)
command -v dcmdump >/dev/null || need+=(dcmtk)
command -v dciodvfy >/dev/null || need+=(dicom3tools)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || need+=(fonts-liberation)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v python3 >/dev/null || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "== installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    ca-certificates "${need[@]}" >/dev/null
fi
if [ ! -f "$DCMASK_CORPUS/README.md" ]; then
  echo "the real-world corpus is required at $DCMASK_CORPUS (../shared/corpus)" >&2
  exit 1
fi
echo "== python3 with pycanon (independent check of the risk figures)"
python3 -c 'import pycanon, pandas' 2>/dev/null \
  || python3 -m pip install --quiet pycanon \
  || python3 -m pip install --quiet --break-system-packages pycanon

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo build --release (the binary the dependency and ldd test checks)"
cargo build --release -p dcmask --bin dcmask
echo "== cargo test"
cargo test --workspace --no-fail-fast
echo "== browser tests (headless Chromium: every tests/browser/*.test.mjs, risk.test.mjs included)"
cargo build -p dcmask
(
  cd tests/browser
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  DCMASK_BIN="$(pwd)/../../target/debug/dcmask" npm test
)
echo "== all tests passed"
