"""Helpers the test modules import: throwaway pip-installed distributions and the `zoo` command.

A module of its own (not conftest.py): the plugin test folders have conftest files too, so
`from conftest import ...` would depend on which one was imported first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def pip_install_target(source: Path, target: Path) -> None:
    """`pip install --no-deps --target` a local distribution, as a user would install a plugin."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True, text=True)


def write_distribution(root: Path, dist: str, module: str, body: str, entry_points: dict[str, dict[str, str]]) -> Path:
    """Write a minimal pip-installable distribution with entry points into `root/dist`."""
    path = root / dist
    (path / module).mkdir(parents=True)
    (path / module / "__init__.py").write_text(textwrap.dedent(body))
    groups = "".join(
        f'\n[project.entry-points."{group}"]\n' + "".join(f'{k} = "{v}"\n' for k, v in eps.items())
        for group, eps in entry_points.items())
    (path / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{dist}"
        version = "1.2.3"
        """) + groups)
    return path


def zoo(*args: str, path: Path | list[Path] | None = None, cwd: Path | None = None, timeout: int = 600,
        env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the `zoo` command in a subprocess, with extra folders on PYTHONPATH."""
    environ = dict(os.environ, **(env or {}))
    extra = [path] if isinstance(path, Path) else list(path or [])
    if extra:
        environ["PYTHONPATH"] = os.pathsep.join([str(p) for p in extra] + [environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "zoo.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=environ)


def toy_sites(folder: Path) -> Path:
    """Two federated sites of the toy plugin, `a.npz` and `b.npz` (b darker and shifted, as a second scanner
    would give), and the coordinator's held-out `hold.npz`."""
    import numpy as np
    from zoo_toy import make_arrays

    for i, name in enumerate(["a", "b"]):
        x, y = make_arrays(120, i)
        if i:
            x = x * 0.7 + 30
        np.savez(folder / f"{name}.npz", x=x.clip(0, 255), y=y)
    x, y = make_arrays(150, 9)
    np.savez(folder / "hold.npz", x=x, y=y)
    return folder
