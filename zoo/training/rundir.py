"""What a run writes: `runs/<plugin>-<YYYYmmdd-HHMMSS>/`.

```
model.keras      the fine-tuned model, preprocessing inside (float32 weights)
zoo.json         plugin, backbone, weights, classes, input signature, recipe, metrics, versions;
                 "status" is "running" until everything else is written, then "complete"
history.csv      one row per epoch
plots/           curves, confusion matrix, ROC / PR
MODEL_CARD.md
checkpoints/     best weights (with early stopping), and backup/ for `--resume`
logs/            TensorBoard
```
Files are written to a temporary name and renamed, so a killed process leaves no
half-written file; commands that take a run use only complete ones.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from zoo.errors import RunError

RUN_FILE = "zoo.json"
#: what every complete fine-tuning run records (commands that take a run read these)
REQUIRED_KEYS = ("plugin", "backbone", "task", "class_names", "input_signature", "recipe")


def atomic_write_text(path: str | Path, text: str | bytes) -> None:
    """Write `text` (or bytes) to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: readable by others as the umask says
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise RunError(f"--runs-dir {runs_dir} is a file, not a folder; pass a folder for the runs") from None
    except PermissionError:
        raise RunError(f"--runs-dir {runs_dir} cannot be created here (permission denied); pass a folder you can "
                       "write to") from None
    except OSError as exc:  # a read-only file system, /proc...
        raise RunError(f"--runs-dir {runs_dir} cannot be created ({exc.strerror}); pass a folder you can "
                       "write to") from None
    if not os.access(runs_dir, os.W_OK | os.X_OK):
        raise RunError(f"--runs-dir {runs_dir} is not writable; pass a folder you can write to")
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


@contextlib.contextmanager
def locked(run: str | Path):
    """Hold the run folder's lock for the block; `RunError` when another process holds it.

    An OS file lock (`flock`) on `run/.lock`: released by the OS when the holder dies, so a
    killed run never leaves a stale lock behind.
    """
    path = Path(run) / ".lock"
    try:
        import fcntl
    except ImportError:  # no flock on this platform: no locking
        yield
        return
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunError(f"run {run} is in use by {holder}; wait for it to finish or stop it") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()


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
    if not isinstance(data, dict):
        raise RunError(f"{meta} holds {type(data).__name__}, not the run's record (an object); the file was "
                       "overwritten: restore it or re-run fine-tuning")
    if require_complete and data.get("status") != "complete":
        raise RunError(
            f"run {path} is {data.get('status', 'incomplete')}, not complete; "
            f"finish it with `zoo finetune --resume {path}` or start a new one"
        )
    needed = ("plugin", "backbone") if data.get("kind") == "pretrain" else REQUIRED_KEYS
    missing = [key for key in (needed if require_complete else ("plugin",)) if key not in data]
    if missing:
        raise RunError(f"{meta} lacks {', '.join(repr(k) for k in missing)}; the file was edited or truncated: "
                       "restore it or re-run fine-tuning")
    return data


def newest_run(runs_dir: str | Path = "runs", kind: str | None = "finetune") -> Path:
    """The most recent complete run under `runs_dir` (fine-tuning runs; `kind=None`: any, "pretrain")."""
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
                if not isinstance(data, dict):
                    continue
                if data.get("status") == "complete" and (kind is None or data.get("kind", "finetune") == kind):
                    candidates.append((data.get("finished", ""), child.stat().st_mtime, child))
    if not candidates:
        raise RunError(f"no complete run under {runs_dir}/; run `zoo finetune --plugin NAME` first or pass RUN")
    return max(candidates)[2]


def model_path(run: str | Path) -> Path:
    path = Path(run) / "model.keras"
    if not path.is_file():
        raise RunError(f"run {run} has no model.keras; it did not finish, or the file was removed")
    return path
