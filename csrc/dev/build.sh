#!/usr/bin/env bash
# Dev-only build of libmarlin.so without CMake (kept as a tool for kernel work; the real build is
# csrc/CMakeLists.txt / `marlin build`). Usage:
#   csrc/dev/build.sh [OUT_DIR] [ARCH]        (defaults: build/dev, 9.0)
# Env: SCHEMES (default "awq-int4 hqq gptq-int4 gptq-int8"), JOBS (default nproc),
#      GENCODE (default "arch=compute_CC,code=sm_CC"; e.g. "arch=compute_75,code=compute_75" builds
#      PTX only, which a newer GPU JIT-compiles: that runs the sm75 code path on an H100).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/build/dev}
ARCH=${2:-9.0}
SCHEMES=${SCHEMES:-"awq-int4 hqq gptq-int4 gptq-int8"}
JOBS=${JOBS:-$(nproc)}
NVCC=${NVCC:-nvcc}
CC=${ARCH/./}
mkdir -p "$OUT/gen" "$OUT/obj"
export PYTHONPATH="$ROOT:$(ls -d "$ROOT"/plugins/* | tr '\n' ':')${PYTHONPATH:-}"
sargs=(); for s in $SCHEMES; do sargs+=(-s "$s"); done
python3 -m marlin_core gen --arch "$ARCH" "${sargs[@]}" --out "$OUT/gen" -q
FLAGS=(-O3 -std=c++17 --expt-relaxed-constexpr -static-global-template-stub=false -Xcompiler -fPIC
       -gencode "${GENCODE:-arch=compute_${CC},code=sm_${CC}}" -I "$ROOT/csrc/include" -I "$OUT/gen")
srcs=("$OUT"/gen/*.cu "$ROOT"/csrc/src/*.cu)
printf '%s\n' "${srcs[@]}" | xargs -P "$JOBS" -I{} sh -c \
  'o="$0/obj/$(basename {} .cu).o"; if [ ! -f "$o" ] || [ {} -nt "$o" ] || [ -n "$(find "$1/csrc/include" "$1/csrc/src" -newer "$o" -name "*.h*" -o -newer "$o" -name "*.cuh")" ]; then '"$NVCC"' '"${FLAGS[*]}"' -c {} -o "$o" || exit 255; fi' "$OUT" "$ROOT"
"$NVCC" -shared -o "$OUT/libmarlin.so" "$OUT"/obj/*.o
echo "built $OUT/libmarlin.so"
