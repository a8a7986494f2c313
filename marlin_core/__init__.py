"""marlin: a pluggable generator for Marlin-style mixed-precision GEMM kernels.

Plugins import the hook markers from here: ``from marlin_core import hookimpl``.
"""

from marlin_core.hookspecs import hookimpl, hookspec

__version__ = "0.1.0"
__all__ = ["hookimpl", "hookspec", "__version__"]
