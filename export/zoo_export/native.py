"""Silence what native libraries write straight to the stderr file descriptor.

TensorFlow's C++ core and LiteRT print info lines ("oneDNN custom operations",
"Created TensorFlow Lite XNNPACK delegate") on fd 2, where Python's logging
settings do not reach. Commands whose errors must stay one line wrap the noisy
calls in `quiet_stderr()`. Python exceptions still propagate normally.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_stderr(enabled: bool = True):
    """Point fd 2 at /dev/null for the duration of the block (no-op when disabled)."""
    if not enabled or os.environ.get("ZOO_NATIVE_LOGS"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
