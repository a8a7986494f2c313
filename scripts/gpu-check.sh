#!/usr/bin/env bash
# Build libmarlin.so (unless given), run the GPU tests, a compute-sanitizer memcheck grid and a
# short benchmark on a CUDA machine, and write the log to docs/gpu-check.md (or $REPORT).
#
#   scripts/gpu-check.sh            # build for this GPU's arch (CMake if `marlin` is installed,
#                                   # else csrc/dev/build.sh), then check
#   MARLIN_LIBRARY=/path/libmarlin.so scripts/gpu-check.sh   # use an existing build
# Env: ARCH (default: the GPU's compute capability), SCHEMES, REPORT, PYTEST_ARGS, SM75_LIBRARY,
#      SKIP_MEMCHECK=1,
#      SKIP_BENCH=1, BENCH_ARGS (default --quick).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REPORT=${REPORT:-$ROOT/docs/gpu-check.md}
LOG=$(mktemp)
status=0

SCHEMES=${SCHEMES:-"awq-int4 hqq gptq-int4 gptq-int8"}
if [ -z "${MARLIN_LIBRARY:-}" ]; then
  ARCH=${ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1)}
  echo "building libmarlin.so for $ARCH (schemes: $SCHEMES)" | tee -a "$LOG"
  if command -v marlin >/dev/null 2>&1; then
    # the project build (csrc/CMakeLists.txt runs `marlin gen`)
    { cmake -S csrc -B build -G Ninja -DMARLIN_ARCH_LIST="$ARCH" -DMARLIN_SCHEMES="${SCHEMES// /;}" &&
      cmake --build build; } 2>&1 | tail -3 | tee -a "$LOG"
    [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
    export MARLIN_LIBRARY=$ROOT/build/libmarlin.so
  else
    # no `marlin` command installed: the dev build (python -m marlin_core gen + nvcc)
    SCHEMES="$SCHEMES" csrc/dev/build.sh "$ROOT/build/dev" "$ARCH" 2>&1 | tail -3 | tee -a "$LOG"
    [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
    export MARLIN_LIBRARY=$ROOT/build/dev/libmarlin.so
  fi
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

if [ -n "${SM75_LIBRARY:-}" ]; then
  # the sm75 code path (2 stages, m16n8k8, synchronous copies) on this GPU: a library whose
  # sm75 files were built as compute_75 PTX, e.g.
  #   GENCODE=arch=compute_75,code=compute_75 csrc/dev/build.sh build/dev75 7.5
  section "sm75 path: fp16 GEMM tests with $SM75_LIBRARY, MARLIN_FORCE_STAGES=2"
  MARLIN_LIBRARY=$SM75_LIBRARY MARLIN_FORCE_STAGES=2 python3 -m pytest tests/gpu/test_gemm.py --confcutdir=tests/gpu \
    -q -p no:cacheprovider -k "fp16 and not bf16" 2>&1 | tail -5 | tee -a "$LOG"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  endsection
fi

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
