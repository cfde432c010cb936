"""What a run writes: `runs/<plugin>-<YYYYmmdd-HHMMSS>/`.

```
model.keras      the fine-tuned model, preprocessing inside (float32 weights)
zoo.json         plugin, backbone, weights, classes, input signature, recipe, metrics, versions;
                 "status" is "running" until everything else is written, then "complete"
history.csv      one row per epoch
plots/           curves, confusion matrix, ROC / PR
MODEL_CARD.md
checkpoints/     best weights, and backup/ for `--resume`
logs/            TensorBoard
```
Files are written to a temporary name and renamed, so a killed process leaves no
half-written file; commands that take a run use only complete ones.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from zoo.errors import RunError

RUN_FILE = "zoo.json"


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def new_run_dir(runs_dir: str | Path, plugin_name: str) -> Path:
    """Create `runs_dir/<plugin>-<timestamp>` (a suffix keeps two runs in one second apart)."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        name = f"{plugin_name}-{stamp}" + (f"-{i}" if i else "")
        path = runs_dir / name
        try:
            path.mkdir()
        except FileExistsError:
            continue
        for sub in ("plots", "checkpoints", "logs"):
            (path / sub).mkdir()
        return path
    raise RunError(f"cannot create a new run folder in {runs_dir}")


def read_run(path: str | Path, require_complete: bool = True) -> dict[str, Any]:
    """The run's `zoo.json`; `RunError` when it is missing, unreadable or incomplete."""
    path = Path(path)
    meta = path / RUN_FILE
    if not path.is_dir():
        raise RunError(f"{path} is not a run folder (no such directory)")
    if not meta.is_file():
        raise RunError(f"{path} is not a run folder: it has no {RUN_FILE}")
    try:
        data = json.loads(meta.read_text())
    except json.JSONDecodeError as exc:
        raise RunError(f"{meta} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if require_complete and data.get("status") != "complete":
        raise RunError(
            f"run {path} is {data.get('status', 'incomplete')}, not complete; "
            f"finish it with `zoo finetune --resume {path}` or start a new one"
        )
    return data


def newest_run(runs_dir: str | Path = "runs") -> Path:
    """The most recent complete run under `runs_dir`."""
    runs_dir = Path(runs_dir)
    candidates = []
    if runs_dir.is_dir():
        for child in runs_dir.iterdir():
            meta = child / RUN_FILE
            if meta.is_file():
                try:
                    data = json.loads(meta.read_text())
                except json.JSONDecodeError:
                    continue
                if data.get("status") == "complete":
                    candidates.append((data.get("finished", ""), child.stat().st_mtime, child))
    if not candidates:
        raise RunError(f"no complete run under {runs_dir}/; run `zoo finetune --plugin NAME` first or pass RUN")
    return max(candidates)[2]


def model_path(run: str | Path) -> Path:
    path = Path(run) / "model.keras"
    if not path.is_file():
        raise RunError(f"run {run} has no model.keras; it did not finish, or the file was removed")
    return path
