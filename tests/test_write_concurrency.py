"""Two `marlin gen` runs at once, and runs killed at random moments, never leave a broken set."""

import random
import signal
import subprocess
import time

from marlin_core.emit import emit
from marlin_core.write import JOURNAL
from support import marlin_exe, run_marlin


def state(out):
    return {p.name: p.read_text() for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}


def test_two_runs_at_once_end_complete(tmp_path, plan_for):
    out = tmp_path / "gen"
    want = {"8.0": emit(plan_for("8.0")), "8.9": emit(plan_for("8.9"))}
    for _ in range(3):
        procs = [subprocess.Popen([marlin_exe(), "gen", "-a", a, "-o", str(out), "-q"]) for a in ("8.0", "8.9")]
        assert [p.wait(timeout=60) for p in procs] == [0, 0]
        got = state(out)
        assert got in (want["8.0"], want["8.9"])
        assert not (out / JOURNAL).exists()


def test_killed_runs_leave_old_or_new_and_next_run_repairs(tmp_path, plan_for):
    out = tmp_path / "gen"
    sets = {"8.0": emit(plan_for("8.0")), "8.9": emit(plan_for("8.9"))}
    assert run_marlin("gen", "-a", "8.0", "-o", str(out), "-q").returncode == 0
    rng = random.Random(1234)
    seen = {"old": 0, "new": 0, "journal": 0}
    current = "8.0"
    for i in range(24):
        target = "8.9" if current == "8.0" else "8.0"
        proc = subprocess.Popen([marlin_exe(), "gen", "-a", target, "-o", str(out), "-q"])
        time.sleep(rng.uniform(0.0, 0.35))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        got = state(out)
        if (out / JOURNAL).exists():
            seen["journal"] += 1  # killed mid-commit: the next run rolls forward
        elif got == sets[current]:
            seen["old"] += 1
        else:
            assert got == sets[target], f"kill {i}: neither the old nor the new complete set"
            seen["new"] += 1
        # the next run (of the target) repairs whatever was left
        assert run_marlin("gen", "-a", target, "-o", str(out), "-q").returncode == 0
        assert state(out) == sets[target] and not (out / JOURNAL).exists()
        assert not list(out.glob(".marlin-tmp-*"))
        current = target
    assert seen["old"] + seen["new"] + seen["journal"] == 24
    print(seen)
