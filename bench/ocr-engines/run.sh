#!/usr/bin/env bash
# Reproduces bench/OCR-ENGINES.md: builds one binary per engine (and one with both, for
# `compare`), then runs the timings interleaved (rten, tract, rten, tract...) so that
# load from other processes on the shared machine falls on both alike. Each run is its
# own process under /usr/bin/time -v (peak RSS).
set -euo pipefail
cd "$(dirname "$0")"
export DCMASK_CORPUS=${DCMASK_CORPUS:-/work/shared/corpus}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-5}
OUT=${OUT:-target/results.txt}
mkdir -p target/bin
if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release --no-default-features --features rten --target-dir target/rten
  cargo build --release --no-default-features --features tract --target-dir target/tract
  cp target/rten/release/ocr-engines target/bin/rten
  cp target/tract/release/ocr-engines target/bin/tract
  cargo build --release --target-dir target/tract
  cp target/tract/release/ocr-engines target/bin/both
fi
run() { # label, command...
  local label=$1; shift
  /usr/bin/time -v "$@" > target/run.out 2> target/run.err || { echo "FAILED $label"; grep -v '^\s' target/run.err | head -3; }
  sed "s/^/$label\t/" target/run.out
  echo -e "$label\tpeak RSS $(grep 'Maximum resident' target/run.err | awk '{print $NF}') KB\tload avg $(cut -d' ' -f1-3 /proc/loadavg)"
}
{
  echo "# $(date -u) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  run load-rten target/bin/rten load --engine rten
  for s in declared symbolic symbolic32 fixed; do
    run "load-tract-$s" target/bin/tract load --engine tract --tract-shapes "$s"
  done
  for r in $(seq "$ROUNDS"); do
    for t in 1 2; do
      run "r$r" target/bin/rten time --engine rten --threads "$t" --reps "$REPS"
      run "r$r" target/bin/tract time --engine tract --threads "$t" --reps "$REPS" --tract-shapes fixed
    done
  done
  run compare target/bin/both compare --tract-shapes fixed
  echo "# end $(date -u), load $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"
