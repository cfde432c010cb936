"""Helpers of the medical-ct tests (a module with a unique name, imported by the tests)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def recipe_for(overrides=None, **options):
    """A resolved `Recipe` of the medical-ct plugin with plugin `options` (checked by the core)."""
    from zoo_medical_ct import plugin

    values = dict(overrides or {})
    if options:
        values["options"] = options
    return plugin.resolve_recipe(overrides=values)


def options_for(recipe):
    """The plugin `Options` of `recipe`."""
    from zoo_medical_ct import plugin

    return plugin.options_for(recipe)


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def phantom(n_slices: int = 3, size: int = 16, positive: bool = False, seed: int = 0) -> np.ndarray:
    """A tiny HU volume: air, a soft-tissue disc, lung inside; a bright spot when `positive`."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    hu = np.where(r < size * 0.45, 40.0, -1000.0)
    hu = np.where(r < size * 0.3, -800.0, hu)
    if positive:
        hu[size // 2 - 1:size // 2 + 1, size // 2 - 1:size // 2 + 1] = 60.0
    vol = np.repeat(hu[None], n_slices, axis=0) + rng.normal(0, 5, (n_slices, size, size))
    return vol.astype("float32")
