"""Helpers of the tabular-fraud plugin tests: real CSV/Parquet files, small recipes, the `zoo` command.

Test modules import what they use (`from fraud_helpers import recipe, write_mixed_csv, ...`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ZOO = Path(sys.executable).parent / "zoo"
#: a small demo that still has fraud in every split: 6000 rows, all of the training split labelled
SMALL = {"demo_rows": 6000, "labelled_fraction": 1.0}


def recipe(overrides: dict | None = None, **options):
    """The plugin's Recipe with `overrides` and plugin `options` (checked as `-o` values are)."""
    from zoo_tabular_fraud import plugin

    values = dict(overrides or {})
    if options:
        values["options"] = options
    return plugin.resolve_recipe(overrides=values)


def pretrain_recipe(overrides: dict | None = None, **options):
    """What `zoo pretrain` resolves: the plugin's pretraining defaults (its epochs) below `overrides`."""
    from zoo_tabular_fraud import plugin

    values = dict(overrides or {})
    if options:
        values["options"] = options
    return plugin.resolve_recipe(overrides=values, pretraining=True)


def options_of(r):
    """The plugin `Options` of a recipe."""
    from zoo_tabular_fraud import plugin

    return plugin.options_for(r)


def demo(overrides: dict | None = None, **options):
    """The demo `DataBundle` for a recipe with `overrides` and plugin `options`."""
    from zoo_tabular_fraud import plugin

    r = recipe(overrides, **options)
    return plugin.data.demo(r, plugin.options_for(r))


def load(path, overrides: dict | None = None, **options):
    """The `DataBundle` of a file for a recipe with `overrides` and plugin `options`."""
    from zoo_tabular_fraud import plugin

    r = recipe(overrides, **options)
    return plugin.data.load(str(path), r, plugin.options_for(r))


def write_mixed_csv(path: Path, rows: int = 400, seed: int = 0, label_values=("0", "1")) -> Path:
    """A CSV with every column kind: numbers, text categories, true/false, 0/1, ISO times, ids."""
    rng = np.random.default_rng(seed)
    countries = ["US", "FR", "DE", "GB"]
    lines = ["txn_id,user_key,amount,country,is_online,flag01,ts,merchant_code,constant,comment,label"]
    for i in range(rows):
        fraud = i % 20 == 0
        amount = "" if i % 37 == 5 else f"{rng.lognormal(3, 1) * (8 if fraud else 1):.2f}"
        country = "" if i % 41 == 7 else countries[int(rng.integers(0, 4))]
        online = "true" if rng.random() < 0.5 else "false"
        flag = str(int(rng.random() < 0.3))
        day = 1 + i % 28
        ts = f"2024-02-{day:02d}T{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}:00"
        merchant = str(5000 + int(rng.integers(0, 12)))
        label = label_values[1] if fraud else label_values[0]
        lines.append(f"T{i:05d},U{i % 50:03d},{amount},{country},{online},{flag},{ts},{merchant},same,"
                     f"note {i},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_zoo(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    """The installed `zoo` console script, in a subprocess."""
    environ = dict(os.environ, **(env or {}))
    return subprocess.run([str(ZOO), *args], capture_output=True, text=True, cwd=cwd, env=environ, timeout=timeout)
