"""GPU tests: skipped without CUDA or without a loadable libmarlin.so."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # the shared helpers in cases.py


def _skip_reason():
    try:
        import torch
    except ImportError:
        return "torch not installed"
    if not torch.cuda.is_available():
        return "CUDA not available"
    from marlin_core.runtime import library

    try:
        library.load()
    except library.MarlinError as e:
        return f"libmarlin.so not loadable: {e}"
    return None


_REASON = _skip_reason()
if _REASON == "torch not installed":
    collect_ignore_glob = ["test_*.py"]  # the modules import torch


def pytest_collection_modifyitems(config, items):
    # This hook sees every collected test, not only this folder's: skip ours alone.
    if _REASON:
        here = os.path.dirname(os.path.abspath(__file__))
        for item in items:
            if str(item.fspath).startswith(here + os.sep):
                item.add_marker(pytest.mark.skip(reason=_REASON))
