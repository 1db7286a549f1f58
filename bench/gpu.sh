#!/usr/bin/env bash
# The GPU benchmark in one call (issue 30; docs/scaling.md, "On a GPU"): OUT=/some/folder bash bench/gpu.sh [--smoke]
#
# On a machine with a CUDA GPU, PyTorch and nothing reachable: installs the wheels of bench/gpu_payload/wheels into
# a throw-away venv that sees the machine's PyTorch, then, each part under its own time limit so that a hang cannot
# eat the device time, writes under $OUT:
#   env.json, nvidia-smi*.txt   the GPU, driver, PyTorch, CUDA and cuDNN versions, TF32 settings
#   (a) tests.xml               tests/test_training.py with LABELSWEEP_REAL_CUDA=1: fits on the GPU, no mocks
#   (b) fits.jsonl, gpu_util_*.csv   Fashion-MNIST CNN fits (one model, 5 fold models, 12 cells) in fp32 and bf16
#   (c) sweep_stages.csv, sweep_stage_records.jsonl   the seed's sweep's stages, level by level, until the time is up
#   gpu_section.md              the BENCHMARKS section rendered from those (bench/gpu_report.py)
# --smoke: the same on this CPU, on 500 images, one level, one epoch (a rehearsal of every code path but CUDA's).
# GPU_BENCH_BUDGET_S (default 510) bounds the whole call; the sweep gets what the earlier parts leave.
set -u
SMOKE=${1:-}
: "${OUT:?set OUT to the folder for the results}"
mkdir -p "$OUT/logs"
START=$(date +%s)
BUDGET=${GPU_BENCH_BUDGET_S:-510}
left() { echo $((BUDGET - ($(date +%s) - START))); }
cap() { local l; l=$(left); l=$((l < $1 ? l : $1)); echo $((l > 1 ? l : 1)); }  # seconds: at most $1, what is left
log() { echo "[gpu.sh +$(($(date +%s) - START))s] $*" | tee -a "$OUT/gpu.log"; }
PY0=${PYTHON:-$(command -v python3 || command -v python)}
VENV=${TMPDIR:-/tmp}/labelsweep-gpu-venv

log "install: $PY0 -> $VENV"
timeout 90 "$PY0" bench/gpu.py install --venv "$VENV" >"$OUT/logs/install.log" 2>&1 || { log "install failed"; cat "$OUT/logs/install.log"; exit 1; }
PY=$VENV/bin/python
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 PYTHONDONTWRITEBYTECODE=1

log "environment"
if command -v nvidia-smi >/dev/null; then
  timeout 20 nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
  timeout 20 nvidia-smi -q >"$OUT/nvidia-smi-q.txt" 2>&1
fi
timeout 60 "$PY" bench/gpu.py env --out "$OUT" $SMOKE >"$OUT/logs/env.log" 2>&1 || log "env failed (rc $?)"
tail -n 30 "$OUT/logs/env.log"

log "(a) CUDA-path tests, mocks off"
REAL=1; [ "$SMOKE" = "--smoke" ] && REAL=0
LABELSWEEP_REAL_CUDA=$REAL timeout "$(cap 150)" "$PY" -m pytest -q -p no:cacheprovider tests/test_training.py \
  --junitxml="$OUT/tests.xml" >"$OUT/logs/tests.log" 2>&1
log "(a) rc $?"; tail -n 15 "$OUT/logs/tests.log"

log "(b) fit benchmark"
timeout "$(cap 170)" "$PY" bench/gpu.py fit --out "$OUT" $SMOKE >"$OUT/logs/fit.log" 2>&1
log "(b) rc $?"; grep -v "^fit\|it/s\]\|batch/s\]" "$OUT/logs/fit.log" | tail -n 15

SWEEP=$(( $(left) - 25 )); SWEEP=$((SWEEP > 1 ? SWEEP : 1))
log "(c) the seed's sweep, CNN, empty data folder: ${SWEEP}s"
timeout $((SWEEP + 10)) "$PY" bench/gpu.py sweep --out "$OUT" --budget "$SWEEP" $SMOKE >"$OUT/logs/sweep.log" 2>&1
log "(c) rc $?"; tail -n 20 "$OUT/logs/sweep.log"

timeout 20 "$PY" bench/gpu_report.py render --records "$OUT" >"$OUT/gpu_section.md" 2>"$OUT/logs/report.log"
log "report rc $?"; cat "$OUT/gpu_section.md"
log "done"
