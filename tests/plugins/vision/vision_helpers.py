"""Helpers and fixtures of the vision plugin tests: real PNG/JPEG files, the `zoo` command.

Test modules import the fixtures they use (`from vision_helpers import demo_cache, ...`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ZOO = Path(sys.executable).parent / "zoo"


def write_image(path: Path, seed: int = 0, size: tuple[int, int] = (40, 48), mode: str = "RGB",
                fmt: str | None = None) -> Path:
    """A real image file with random blobs (PIL), in `mode` ("RGB", "L", "RGBA")."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    if mode == "RGBA":
        array[..., 3] = 255
    image = Image.fromarray(array[..., 0] if channels == 1 else array, mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)
    return path


def write_corrupt(path: Path) -> Path:
    """A PNG cut in half: the header reads, the pixels do not."""
    good = write_image(path.with_name("tmp_" + path.name), seed=99)
    data = good.read_bytes()
    good.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def class_folder(root: Path, classes: dict[str, int], seed: int = 0) -> Path:
    """`root/<class>/img_<i>.png` with `n` images per class."""
    for c, (name, n) in enumerate(classes.items()):
        for i in range(n):
            write_image(root / name / f"img_{i:02d}.png", seed=seed + 1000 * c + i)
    return root


def run_zoo(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    """The installed `zoo` console script, in a subprocess."""
    environ = dict(os.environ, **(env or {}))
    return subprocess.run([str(ZOO), *args], capture_output=True, text=True, cwd=cwd, env=environ,
                          timeout=timeout)


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory) -> Path:
    """A private KERAS_ZOO_CACHE for the session: the demo is generated there once.

    One fixed folder under the session's base temp dir, so that every test module importing
    this fixture (each gets its own fixture definition) shares it.
    """
    path = tmp_path_factory.getbasetemp() / "keras_zoo_cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def vision_env(demo_cache, monkeypatch) -> Path:
    """Points KERAS_ZOO_CACHE at the session cache for one test."""
    monkeypatch.setenv("KERAS_ZOO_CACHE", str(demo_cache))
    return demo_cache


def recipe(overrides: dict | None = None, **options):
    """The vision plugin's Recipe with `overrides` and plugin `options` (checked by the core)."""
    from zoo_vision import plugin

    values = dict(overrides or {})
    if options:
        values["options"] = options
    return plugin.resolve_recipe(overrides=values)


def load(source, recipe):
    """`plugin.data.load` with the options `recipe` sets, as the engine calls it."""
    from zoo_vision import plugin

    return plugin.data.load(str(source), recipe, plugin.options_for(recipe))
