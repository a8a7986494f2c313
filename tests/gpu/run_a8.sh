#!/usr/bin/env bash
# GPU check of the 8-bit-activation kernels with a prebuilt library (one that has the W4A8 schemes,
# its sm75 files as compute_75 PTX and its sm89 files as compute_89 PTX, e.g.
#   SCHEMES="awq-w4a8-int8 awq-w4a8-fp8 gptq-w4a8-int8 gptq-w4a8-fp8 mxfp4-w4a8-fp8" \
#   GENCODE_SM75=arch=compute_75,code=compute_75 GENCODE_SM89=arch=compute_89,code=compute_89 \
#   csrc/dev/build.sh build/a8 7.5,8.9,9.0
# ). Usage: tests/gpu/run_a8.sh LIB OUTDIR [pytest -k expression]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIB=$1 OUTD=$2 KEXPR=${3:-}
export MARLIN_LIBRARY=$LIB PYTHONPATH="$ROOT:$ROOT/tests/gpu:$ROOT/build/pydeps${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUTD"
status=0
nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader | tee "$OUTD/a8.log"
echo "== pytest tests/gpu/test_gemm_a8.py (stages 4: sm80 int8, sm89 fp8)" | tee -a "$OUTD/a8.log"
python3 -m pytest tests/gpu/test_gemm_a8.py --confcutdir=tests/gpu -q -s -p no:cacheprovider ${KEXPR:+-k "$KEXPR"} \
  >"$OUTD/pytest_a8.log" 2>&1 || status=1
grep -E "^A8 |passed|failed|error" "$OUTD/pytest_a8.log" | tee -a "$OUTD/a8.log"
echo "== sm75 path: MARLIN_FORCE_STAGES=2 (int8, fp16 output)" | tee -a "$OUTD/a8.log"
MARLIN_FORCE_STAGES=2 python3 -m pytest tests/gpu/test_gemm_a8.py --confcutdir=tests/gpu -q -s -p no:cacheprovider \
  -k "${KEXPR:-int8 and fp16 or code_path}" >"$OUTD/pytest_a8_sm75.log" 2>&1 || status=1
grep -E "^A8 |passed|failed|error" "$OUTD/pytest_a8_sm75.log" | tee -a "$OUTD/a8.log"
if [ -z "${SKIP_MEMCHECK:-}" ]; then
  echo "== compute-sanitizer memcheck (memcheck_grid.py a8)" | tee -a "$OUTD/a8.log"
  compute-sanitizer --tool memcheck --error-exitcode 3 python3 tests/gpu/memcheck_grid.py a8 >"$OUTD/memcheck_a8.log" 2>&1 \
    || status=1
  tail -4 "$OUTD/memcheck_a8.log" | tee -a "$OUTD/a8.log"
fi
echo "status $status" | tee -a "$OUTD/a8.log"
exit $status
