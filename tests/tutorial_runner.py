"""Run a tutorial's bash blocks as written (shared by the plugins' tutorial tests).

`tests/` is on `sys.path` once pytest has loaded `tests/conftest.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def tutorial_blocks(path: Path) -> list[str]:
    """The ```bash blocks of a tutorial, in order."""
    import re

    return re.findall(r"^```bash\n(.*?)^```", path.read_text(), flags=re.S | re.M)


def run_tutorial(path: Path, cwd: Path, env: dict | None = None, replace: dict | None = None,
                 timeout: int = 900) -> None:
    """Run every bash block of a tutorial as written (after `replace` substitutions), with the venv's `zoo`."""
    environ = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
                   **(env or {}))
    for block in tutorial_blocks(path):
        for old, new in (replace or {}).items():
            block = block.replace(old, new)
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=cwd, env=environ, capture_output=True,
                             text=True, timeout=timeout)
        assert out.returncode == 0, f"{block}\n--- stdout\n{out.stdout[-3000:]}\n--- stderr\n{out.stderr[-3000:]}"
