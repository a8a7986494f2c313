"""The kernel micro-benchmark of docs/performance.md (csrc/dev/kbench.cu) still builds against
csrc/include, so the numbers there can be reproduced. (Running it needs a GPU.)"""

import shutil
import subprocess

import pytest

from support import TESTS
from marlin_core.testing import NVCC_FLAGS

NVCC = shutil.which("nvcc")
CSRC = TESTS.parent / "csrc"


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_kbench_compiles(tmp_path):
    exe = tmp_path / "kbench"
    proc = subprocess.run([NVCC, *NVCC_FLAGS, "-gencode", "arch=compute_90,code=sm_90", f"-I{CSRC / 'include'}",
                           str(CSRC / "dev" / "kbench.cu"), "-o", str(exe)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert exe.stat().st_size > 0
