#!/usr/bin/env bash
# Runs every check of the project: format, lints, Rust unit and integration tests
# (engine, batch, corpus, dciodvfy/dcmdump), and the browser tests in headless Chromium.
# Installs pycanon from PyPI when python3 lacks it (the risk figures are checked against it).
# Needs: the Rust toolchain, Node.js with npm, /usr/bin/chromium, dcmtk (dcmdump; dump2dcm
# writes the browser risk test's cohort) and dicom3tools
# (.ci/run installs them on a fresh Debian machine), and the corpus in ../shared/corpus
# (or DCMASK_CORPUS).
set -euo pipefail
cd "$(dirname "$0")/.."
export DCMASK_CORPUS="${DCMASK_CORPUS:-$(cd .. && pwd)/shared/corpus}"

echo "== python3 with pycanon (independent check of the risk figures)"
python3 -c 'import pycanon, pandas' 2>/dev/null \
  || python3 -m pip install --quiet pycanon \
  || python3 -m pip install --quiet --break-system-packages pycanon
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
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
