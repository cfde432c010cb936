"""Callbacks of the fit loop that Keras does not ship."""

from __future__ import annotations

import csv
import logging
import operator
import os
from pathlib import Path

import keras

from zoo.errors import ConfigError

log = logging.getLogger(__name__)

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


class HistoryCSV(keras.callbacks.Callback):
    """`history.csv`, one row per finished epoch, consistent across `--resume`.

    It comes before `BackupAndRestore` in the callback list, so an epoch's row is
    written before its backup. On resume, the first epoch that runs is the one
    after the backup; rows from that epoch on are dropped and written again. A
    kill at any moment thus loses no epoch and repeats none.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self.keys: list[str] | None = None
        self.rows: list[dict] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.rows is not None:
            return
        self.rows = []
        if epoch and self.path.is_file():
            with open(self.path, newline="") as fh:
                self.rows = [row for row in csv.DictReader(fh) if int(row["epoch"]) < epoch]
        if self.rows:
            self.keys = [k for k in self.rows[0] if k != "epoch"]
        self._write()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
        row = {"epoch": epoch}
        for key in self.keys:
            value = logs.get(key, "")
            row[key] = float(value) if value != "" else ""
        self.rows.append(row)
        self._write()

    def _write(self):
        tmp = self.path.with_name(f".{self.path.name}.partial")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["epoch"] + (self.keys or []))
            writer.writeheader()
            writer.writerows(self.rows)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


class TargetReached(keras.callbacks.Callback):
    """Stop when a metric reaches a target (`--target 'val_auc>=0.95'`) and say so."""

    def __init__(self, metric: str, op: str, value: float):
        super().__init__()
        self.metric, self.op, self.value = metric, op, value
        self.reached_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.metric not in logs:
            known = ", ".join(sorted(logs))
            raise ConfigError(f"--target metric {self.metric!r} is not logged; logged metrics: {known}")
        if _OPS[self.op](float(logs[self.metric]), self.value):
            self.reached_epoch = epoch
            self.model.stop_training = True
            log.warning("target %s%s%s reached at epoch %d (%s=%.4f): stopping",
                        self.metric, self.op, self.value, epoch + 1, self.metric, float(logs[self.metric]))


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backup survives a kill at any instant, and costs little per epoch.

    Keras writes `latest.weights.h5` in place and then the epoch number in a second
    file; a SIGKILL in between leaves a truncated weights file, or weights one
    epoch ahead of the recorded epoch (seen here: "truncated file" on resume).
    Here each epoch's weights go to a new file, renamed into place once complete,
    and then a small JSON, replaced atomically, points at it. Resuming reads the
    JSON, so it always finds a complete checkpoint and the epoch it belongs to.

    The file is one uncompressed `.npz` of the model's weights and the optimizer's
    variables (its moments and step count, which Keras' backup leaves out): for
    MobileNetV2 it took 0.017 s to write against 0.13-0.16 s for `save_weights`'
    HDF5, paid every epoch.
    """

    def __init__(self, backup_dir: str):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=True)
        self._state = Path(backup_dir) / "state.json"

    def _optimizer_variables(self) -> list:
        optimizer = self.model.optimizer
        return list(getattr(optimizer, "variables", [])) if optimizer is not None else []

    def _load_model(self):
        import json

        import numpy as np

        if not self._state.is_file():
            return
        state = json.loads(self._state.read_text())
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        if "weights_count" not in state:  # a backup of the earlier format: Keras weights, no optimizer state
            self.model.load_weights(Path(self.backup_dir) / state["weights"])
            self.model._initial_epoch = state["epoch"]
            return
        with np.load(Path(self.backup_dir) / state["weights"]) as saved:
            self.model.set_weights([saved[f"w{i}"] for i in range(state["weights_count"])])
            variables = self._optimizer_variables()
            if len(variables) == state["optimizer_count"]:
                for i, variable in enumerate(variables):
                    variable.assign(saved[f"o{i}"])
        self.model._initial_epoch = state["epoch"]

    def _save_model(self):
        import json

        import numpy as np

        folder = Path(self.backup_dir)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{self._current_epoch}.npz"
        partial = folder / f".{name}.partial"
        weights = self.model.get_weights()
        optimizer = [np.asarray(keras.ops.convert_to_numpy(v)) for v in self._optimizer_variables()]
        with open(partial, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
            np.savez(fh, **{f"w{i}": w for i, w in enumerate(weights)},
                     **{f"o{i}": v for i, v in enumerate(optimizer)})
        os.replace(partial, folder / name)
        tmp = folder / ".state.json.partial"
        tmp.write_text(json.dumps({"epoch": self._current_epoch, "weights": name, "weights_count": len(weights),
                                   "optimizer_count": len(optimizer)}))
        os.replace(tmp, self._state)
        for old in folder.glob("epoch-*.npz"):
            if old.name != name:
                old.unlink()

    def on_train_end(self, logs=None):
        import shutil

        shutil.rmtree(self.backup_dir, ignore_errors=True)
