#!/usr/bin/env bash
# Build libmarlin.so (unless given), run the GPU tests, a compute-sanitizer memcheck grid and a
# short benchmark on a CUDA machine, and write the log to docs/gpu-check.md (or $REPORT).
#
#   scripts/gpu-check.sh            # build with csrc/dev/build.sh for this GPU's arch, then check
#   MARLIN_LIBRARY=/path/libmarlin.so scripts/gpu-check.sh   # use an existing build
# Env: ARCH (default: the GPU's compute capability), REPORT, PYTEST_ARGS, SKIP_MEMCHECK=1,
#      SKIP_BENCH=1, BENCH_ARGS (default --quick).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REPORT=${REPORT:-$ROOT/docs/gpu-check.md}
LOG=$(mktemp)
status=0

if [ -z "${MARLIN_LIBRARY:-}" ]; then
  ARCH=${ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1)}
  echo "building libmarlin.so for $ARCH" | tee -a "$LOG"
  csrc/dev/build.sh "$ROOT/build/dev" "$ARCH" 2>&1 | tail -3 | tee -a "$LOG" || exit 1
  export MARLIN_LIBRARY=$ROOT/build/dev/libmarlin.so
fi
export PYTHONPATH="$ROOT:$ROOT/tests/gpu${PYTHONPATH:+:$PYTHONPATH}"

section() { printf '\n## %s\n\n```\n' "$1" >>"$LOG"; }
endsection() { printf '```\n' >>"$LOG"; }

{
  echo "# GPU check"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- device: $(nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader | head -1)"
  echo "- nvcc: $(nvcc --version 2>/dev/null | tail -1)"
  echo "- torch: $(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)')"
  echo "- library: $MARLIN_LIBRARY ($(python3 -c 'from marlin_core.runtime import library as l; print(l.built_info())'))"
} >>"$LOG.head"

section "pytest tests/gpu"
python3 -m pytest tests/gpu --confcutdir=tests/gpu -q -p no:cacheprovider ${PYTEST_ARGS:-} 2>&1 | tail -40 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
endsection

if [ -z "${SKIP_MEMCHECK:-}" ]; then
  section "compute-sanitizer --tool memcheck (tests/gpu/memcheck_grid.py)"
  compute-sanitizer --tool memcheck --error-exitcode 3 python3 tests/gpu/memcheck_grid.py 2>&1 | tail -25 | tee -a "$LOG"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  endsection
fi

if [ -z "${SKIP_BENCH:-}" ]; then
  section "benchmark (tests/gpu/bench_gemm.py ${BENCH_ARGS:---quick})"
  python3 tests/gpu/bench_gemm.py ${BENCH_ARGS:---quick} 2>&1 | tee -a "$LOG"
  endsection
fi

echo "- result: $([ $status -eq 0 ] && echo PASS || echo FAIL)" >>"$LOG.head"
cat "$LOG.head" "$LOG" >"$REPORT"
rm -f "$LOG" "$LOG.head"
echo "wrote $REPORT (status $status)"
exit $status
