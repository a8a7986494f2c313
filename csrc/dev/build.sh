#!/usr/bin/env bash
# Dev-only build of libmarlin.so without CMake (kept as a tool for kernel work; the real build is
# csrc/CMakeLists.txt / `marlin build`). Usage:
#   csrc/dev/build.sh [OUT_DIR] [ARCH]        (defaults: build/dev, 9.0)
# Env: SCHEMES (default "awq-int4 hqq gptq-int4 gptq-int8"), JOBS (default nproc),
#      GENCODE (default "arch=compute_CC,code=sm_CC" with CC the last arch of ARCH, 90a for 9.0; e.g.
#      "arch=compute_75,code=compute_75" builds PTX only, which a newer GPU JIT-compiles: that runs
#      the sm75 code path on an H100), GENCODE_SM75 / GENCODE_SM89 (default GENCODE): the flags of
#      the sm75_* / sm89_* kernel files only. ARCH may be a list ("7.5,8.9,9.0"), as for marlin gen.
#      NVCC_FLAGS: extra nvcc flags for every file (e.g. -DNAME=1 for a macro-switched experiment;
#      objects are reused by date only, so give each flag set its own OUT_DIR).
# Example (all three families in one library for an H100, sm75 and sm89 files as PTX):
#   SCHEMES="gptq-w4a8-int8 gptq-w4a8-fp8" GENCODE_SM75=arch=compute_75,code=compute_75 \
#   GENCODE_SM89=arch=compute_89,code=compute_89 csrc/dev/build.sh build/a8 7.5,8.9,9.0
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/build/dev}
ARCH=${2:-9.0}
SCHEMES=${SCHEMES:-"awq-int4 hqq gptq-int4 gptq-int8"}
JOBS=${JOBS:-$(nproc)}
NVCC=${NVCC:-nvcc}
LAST=${ARCH##*,}
LAST=${LAST%+PTX}
CC=${LAST/./}
mkdir -p "$OUT/gen" "$OUT/obj"
export PYTHONPATH="$ROOT:$(ls -d "$ROOT"/plugins/* | tr '\n' ':')${PYTHONPATH:-}"
sargs=(); for s in $SCHEMES; do sargs+=(-s "$s"); done
python3 -m marlin_core gen --arch "$ARCH" "${sargs[@]}" --out "$OUT/gen" -q
SFX=""; [ "$CC" = 90 ] && SFX=a  # Hopper SASS is sm_90a (wgmma), as marlin gen's gencode
GENCODE=${GENCODE:-arch=compute_${CC}${SFX},code=sm_${CC}${SFX}}
export GENCODE GENCODE_SM75=${GENCODE_SM75:-$GENCODE} GENCODE_SM89=${GENCODE_SM89:-$GENCODE} NVCC ROOT OUT
export FLAGS="-O3 -std=c++17 --expt-relaxed-constexpr -static-global-template-stub=false -Xcompiler -fPIC \
  -I $ROOT/csrc/include -I $OUT/gen ${NVCC_FLAGS:-}"
compile_one() {
  local f=$1 o gc
  o="$OUT/obj/$(basename "$f" .cu).o"
  case $(basename "$f") in sm75_*) gc=$GENCODE_SM75 ;; sm89_*) gc=$GENCODE_SM89 ;; *) gc=$GENCODE ;; esac
  if [ ! -f "$o" ] || [ "$f" -nt "$o" ] || [ -n "$(find "$ROOT/csrc/include" "$ROOT/csrc/src" -newer "$o" \( -name "*.h*" -o -name "*.cuh" \))" ]; then
    $NVCC $FLAGS -gencode "$gc" -c "$f" -o "$o" || exit 255
  fi
}
export -f compile_one
srcs=("$OUT"/gen/*.cu "$ROOT"/csrc/src/*.cu)
printf '%s\n' "${srcs[@]}" | xargs -P "$JOBS" -I{} bash -c 'compile_one "$0"' {}
"$NVCC" -shared -o "$OUT/libmarlin.so" "$OUT"/obj/*.o
echo "built $OUT/libmarlin.so"
