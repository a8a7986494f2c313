#!/usr/bin/env bash
# The whole default kernel set on one CUDA machine (issue 4): build every kernel of the five
# default plugins for 7.5+PTX,8.0,8.9+PTX,9.0 into one libmarlin.so (the sm75 and sm89 families
# also as PTX, so that one Hopper GPU can run them), record the build's wall time, kernel count and
# library size, then run all GPU tests against that library: the sm80/sm89 paths, then the sm75
# path (MARLIN_FORCE_STAGES=2); finally the NF4 example plugin (examples/marlin-nf4) end to end.
#
#   scripts/full-check.sh OUTDIR [JOBS]      -> OUTDIR/full-check.md and logs
# Needs: nvcc, cmake, ninja, torch with CUDA; marlin-core, the plugins and pytest importable
# (it pip-installs the repo's packages in editable mode, without dependencies or network).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUTD=${1:?usage: scripts/full-check.sh OUTDIR [JOBS]}
JOBS=${2:-$(nproc)}
ARCHS=${ARCHS:-"7.5+PTX,8.0,8.9+PTX,9.0"}
SPLIT=${SPLIT:-24}
mkdir -p "$OUTD"
REPORT=$OUTD/full-check.md
status=0
note() { echo "$*" | tee -a "$REPORT"; }

python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . -e plugins/awq -e plugins/gptq \
  -e plugins/fp8 -e plugins/fp4 -e plugins/hqq -e examples/marlin-nf4 >"$OUTD/pip.log" 2>&1 \
  || { echo "pip install failed:"; tail -5 "$OUTD/pip.log"; exit 1; }
export PATH="$(python3 -c 'import sys, os; print(os.path.dirname(sys.executable))'):$PATH"

note "# Full-set check"
note ""
note "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
note "- device: $(nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader | head -1), $(nproc) CPU cores"
note "- nvcc: $(nvcc --version | tail -1)"
note "- torch: $(python3 -c 'import torch; print(torch.__version__)')"

# ---- 1. the whole default set in one library
KJSON=$(marlin kernels --arch "$ARCHS" --disable-plugin nf4 --json --max-kernels-per-file "$SPLIT")
KERNELS=$(echo "$KJSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kernels"])')
FILES=$(echo "$KJSON" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["files"]))')
rm -rf build/full
t0=$(date +%s.%N)
marlin build --arch "$ARCHS" --disable-plugin nf4 --max-kernels-per-file "$SPLIT" -B build/full -j "$JOBS" \
  >"$OUTD/build_full.log" 2>&1
rc=$?
t1=$(date +%s.%N)
LIB=$ROOT/build/full/libmarlin.so
note ""
note "## Build: the five default plugins, --arch $ARCHS"
note ""
note "- kernels: $KERNELS in $FILES files (--max-kernels-per-file $SPLIT), $JOBS parallel jobs"
note "- wall time: $(python3 -c "print(f'{$t1 - $t0:.1f}')") s (configure + generate + compile + link), exit $rc"
[ $rc -eq 0 ] && note "- libmarlin.so: $(stat -c %s "$LIB") bytes ($(du -h "$LIB" | cut -f1))"
[ $rc -eq 0 ] || { tail -20 "$OUTD/build_full.log"; exit 1; }

export MARLIN_LIBRARY=$LIB PYTHONPATH="$ROOT:$ROOT/tests/gpu${PYTHONPATH:+:$PYTHONPATH}"
run_tests() {  # title, log name, pytest args...
  local title=$1 name=$2; shift 2
  python3 -m pytest --confcutdir=tests/gpu -q -p no:cacheprovider "$@" >"$OUTD/$name.log" 2>&1 || status=1
  note ""
  note "## $title"
  note ""
  note '```'
  grep -E "passed|failed|error" "$OUTD/$name.log" | tail -3 | tee -a "$REPORT"
  note '```'
}
run_tests "GPU tests, every format (sm80 path, sm89 path as compute_89 PTX)" tests_all tests/gpu
export MARLIN_FORCE_STAGES=2
run_tests "sm75 path (sm75 files as compute_75 PTX, MARLIN_FORCE_STAGES=2): int and FP weights, fp16" \
  tests_sm75 tests/gpu/test_gemm.py tests/gpu/test_gemm_fp.py -k "fp16 and not bf16"
run_tests "sm75 path: int8 activations, fp16 output" tests_sm75_a8 tests/gpu/test_gemm_a8.py -k "int8 and fp16 or code_path"
unset MARLIN_FORCE_STAGES

# ---- 2. NF4 from the example plugin: generated, built, correct
marlin build --arch 9.0 --scheme nf4 -B build/nf4 -j "$JOBS" >"$OUTD/build_nf4.log" 2>&1 || { status=1; tail -5 "$OUTD/build_nf4.log"; }
MARLIN_LIBRARY=$ROOT/build/nf4/libmarlin.so python3 -m pytest -q -s -p no:cacheprovider examples/marlin-nf4/tests \
  >"$OUTD/tests_nf4.log" 2>&1 || status=1
note ""
note "## NF4 example plugin (examples/marlin-nf4), --arch 9.0 --scheme nf4"
note ""
note '```'
grep -E "nf4 |passed|failed|error" "$OUTD/tests_nf4.log" | tail -4 | tee -a "$REPORT"
note '```'
note ""
note "- result: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
