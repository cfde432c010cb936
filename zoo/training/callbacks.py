"""Callbacks of the fit loop that Keras does not ship."""

from __future__ import annotations

import csv
import logging
import operator
import os
from pathlib import Path

import keras

from zoo.errors import ConfigError, RunError

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


class ValidationScores(keras.callbacks.Callback):
    """Adds `val_<name>` for each of the task's `epoch_metrics` to the epoch's logs.

    The metrics come from `task.epoch_scores` on the whole validation split (COCO mAP is not a mean over
    batches, so no Keras metric computes it). `model` is the full model (raw inputs -> outputs),
    whose layers are the ones training; it comes first in the callback list, so the history,
    checkpoints and early stopping after it see the values.
    """

    def __init__(self, task, model, validation):
        super().__init__()
        import numpy as np

        self.task, self.predictor, self.validation = task, model, validation
        self.labels = np.concatenate([np.asarray(y) for _, y in validation])

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        scores = self.task.epoch_scores(self.labels, self.predictor.predict(self.validation, verbose=0))
        for name in self.task.epoch_metrics:
            logs["val_" + name] = float(scores[name])


class TrainingGuard(keras.callbacks.Callback):
    """A run whose loss is NaN or infinite fails with the fix; a loss that climbs is reported.

    Keras' own `TerminateOnNaN` only stops, and the run would be marked complete with a
    broken model. Here a non-finite training or validation loss raises `RunError` (the run
    is marked failed); a training loss above `climb` times its first-epoch value is noted in
    `warnings` (the run's `zoo.json` and the command's output say it diverged).
    """

    def __init__(self, learning_rate: float, climb: float = 2.0):
        super().__init__()
        self.learning_rate = learning_rate
        self.climb = climb
        self.first: float | None = None
        self.warnings: list[str] = []

    def on_epoch_end(self, epoch, logs=None):
        import math

        logs = logs or {}
        for key in ("loss", "val_loss"):
            if key in logs and not math.isfinite(float(logs[key])):
                raise RunError(f"the {'training' if key == 'loss' else 'validation'} loss became {float(logs[key])} "
                               f"at epoch {epoch + 1}; lower the learning rate (--lr, now {self.learning_rate:g}) or "
                               "check the data for NaN or infinite values")
        loss = float(logs.get("loss", "nan"))
        if self.first is None:
            self.first = loss
        elif loss > self.climb * self.first and loss > 0.1:
            note = (f"training loss rose from {self.first:.4g} (epoch 1) to {loss:.4g} (epoch {epoch + 1}): the run "
                    f"diverged; try a lower learning rate (--lr, now {self.learning_rate:g})")
            if not self.warnings:
                log.warning("%s", note)
            self.warnings = [note]


class EpochWeights:
    """`model.get_weights()` taken once per epoch and shared by the callbacks that keep it.

    The backup takes every epoch's weights; early stopping takes the same list on an epoch that
    becomes its best, instead of copying 280 arrays a second time (0.03-0.05 s on the MobileNetV2
    detector). `file`: the `write_npz` file of exactly these weights, once the backup wrote it, so
    that the best checkpoint can be a hard link of it instead of a second write. Nothing between the
    two callbacks changes the weights (they are adjacent in the callback list).
    """

    def __init__(self):
        self.epoch: int | None = None
        self.weights: list | None = None
        self.file: Path | None = None

    def take(self, model, epoch: int) -> list:
        if self.epoch != epoch or self.weights is None:
            self.epoch, self.weights, self.file = epoch, model.get_weights(), None
        return self.weights


class EarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' early stopping, with tied best epochs broken by validation loss.

    Keras keeps the *first* of epochs with the same monitored value: a linear probe that
    reaches validation accuracy 1.0 at epoch 1 ships epoch-1 weights even when later epochs
    with the same accuracy have a far lower validation loss. Here an epoch that ties the best
    value and has a lower `val_loss` becomes the best (weights restored from it).

    `best_path`: the best weights are also written there (`write_npz`, renamed into place)
    whenever they change, so that a run killed after its last epoch resumes to the weights this
    callback would have restored. One `.npz` of the weights it already holds, instead of Keras'
    `ModelCheckpoint`, whose HDF5 `save_weights` walks every layer (0.7 s an epoch on the
    MobileNetV2 detector) and keeps its own idea of the best epoch (min_epochs and ties aside).
    `snapshot`: an `EpochWeights` shared with the backup (the weights are taken once an epoch, and
    the best file is a hard link of the backup's file of the same weights).
    """

    def __init__(self, *args, best_path: str | Path | None = None, snapshot: EpochWeights | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.best_path = None if best_path is None else Path(best_path)
        self.snapshot = snapshot

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._best_loss = float("inf")

    def _weights(self, epoch):
        return self.snapshot.take(self.model, epoch) if self.snapshot is not None else self.model.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        # Keras' `EarlyStopping.on_epoch_end` (3.15), with the tie rule and the shared weights
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs or {}
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        held = self.best_weights
        loss = float(logs.get("val_loss", "inf"))
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self._weights(epoch)  # never set: the current weights are the best
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch, self._best_loss = current, epoch, loss
            if self.restore_best_weights:
                self.best_weights = self._weights(epoch)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
        else:
            if self.monitor != "val_loss" and float(current) == float(self.best) and loss < self._best_loss:
                self.best_epoch, self._best_loss = epoch, loss  # a tie with a lower validation loss
                if self.restore_best_weights:
                    self.best_weights = self._weights(epoch)
            if self.wait >= self.patience and epoch > 0:
                self.stopped_epoch = epoch
                self.model.stop_training = True
        if self.best_path is not None and self.best_weights is not None and self.best_weights is not held:
            self._write_best()

    def _write_best(self):
        snap = self.snapshot
        if snap is not None and snap.file is not None and snap.weights is self.best_weights:
            partial = self.best_path.parent / f".{self.best_path.name}.partial"
            try:
                self.best_path.parent.mkdir(parents=True, exist_ok=True)
                partial.unlink(missing_ok=True)
                os.link(snap.file, partial)
                os.replace(partial, self.best_path)
                return
            except OSError:  # no hard links here (another file system): write the file instead
                partial.unlink(missing_ok=True)
        write_npz(self.best_path, {f"w{i}": w for i, w in enumerate(self.best_weights)})


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


def write_npz(path: Path, arrays: dict) -> None:
    """`arrays` as one uncompressed `.npz` at `path`, written to a partial name and renamed into
    place once complete (a kill at any instant leaves the previous file or the new one)."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f".{path.name}.partial"
    with open(partial, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
        np.savez(fh, **arrays)
    os.replace(partial, path)


def read_weights(model, path: Path) -> None:
    """Set `model`'s weights from a `write_npz` file of `model.get_weights()` (`w0`, `w1`, ...)."""
    import numpy as np

    with np.load(path) as saved:
        model.set_weights([saved[f"w{i}"] for i in range(len(model.weights))])


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backup survives a kill at any instant, and costs little per epoch.

    Keras writes `latest.weights.h5` in place and then the epoch number in a second
    file; a SIGKILL in between leaves a truncated weights file, or weights one
    epoch ahead of the recorded epoch (seen here: "truncated file" on resume).
    Here each epoch's weights go to a new file, renamed into place once complete,
    and then a small JSON, replaced atomically, points at it. Resuming reads the
    JSON, so it always finds a complete checkpoint and the epoch it belongs to.

    The files are uncompressed `.npz`: `epoch-N.npz` of the model's weights (`w0`, `w1`,
    ... as `read_weights` reads them) and `epoch-N.optimizer.npz` of the optimizer's
    variables (its moments and step count, which Keras' backup leaves out): for
    MobileNetV2 they took 0.017 s to write against 0.13-0.16 s for `save_weights`'
    HDF5, paid every epoch. `snapshot` (an `EpochWeights`) shares the epoch's weights
    and their file with early stopping, whose best checkpoint then is a hard link.
    """

    def __init__(self, backup_dir: str, snapshot: EpochWeights | None = None):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=True)
        self._state = Path(backup_dir) / "state.json"
        self.snapshot = snapshot if snapshot is not None else EpochWeights()

    def _optimizer_variables(self) -> list:
        optimizer = self.model.optimizer
        return list(getattr(optimizer, "variables", [])) if optimizer is not None else []

    def _load_model(self):
        import json

        import numpy as np

        if not self._state.is_file():
            return
        try:
            state = json.loads(self._state.read_text())
            if not isinstance(state, dict) or not isinstance(state.get("epoch"), int) or "weights" not in state:
                raise ValueError("not a backup record")
        except (ValueError, OSError) as exc:
            raise RunError(f"the run's backup {self._state} is unreadable ({exc}); remove {self.backup_dir} to "
                           "restart this run from epoch 1, or start a new run") from None
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        if "weights_count" not in state:  # a backup of the earlier format: Keras weights, no optimizer state
            self.model.load_weights(Path(self.backup_dir) / state["weights"])
            self.model._initial_epoch = state["epoch"]
            return
        import zipfile

        weights_file = Path(self.backup_dir) / state["weights"]
        try:
            with np.load(weights_file) as saved:
                self.model.set_weights([saved[f"w{i}"] for i in range(state["weights_count"])])
            # the optimizer's variables: their own file, or (a backup of the earlier format) `o0`, `o1`, ... in
            # the weights file
            weights_file = Path(self.backup_dir) / state.get("optimizer", state["weights"])
            with np.load(weights_file) as saved:
                variables = self._optimizer_variables()
                if len(variables) == state["optimizer_count"]:
                    for i, variable in enumerate(variables):
                        variable.assign(saved[f"o{i}"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise RunError(f"the run's backup {weights_file} is unreadable ({type(exc).__name__}: {exc}); remove "
                           f"{self.backup_dir} to restart this run from epoch 1, or start a new run") from None
        self.model._initial_epoch = state["epoch"]

    def _save_model(self):
        import json

        import numpy as np

        folder = Path(self.backup_dir)
        name, optimizer_name = f"epoch-{self._current_epoch}.npz", f"epoch-{self._current_epoch}.optimizer.npz"
        weights = self.snapshot.take(self.model, self._current_epoch - 1)
        optimizer = [np.asarray(keras.ops.convert_to_numpy(v)) for v in self._optimizer_variables()]
        write_npz(folder / name, {f"w{i}": w for i, w in enumerate(weights)})
        write_npz(folder / optimizer_name, {f"o{i}": v for i, v in enumerate(optimizer)})
        self.snapshot.file = folder / name
        tmp = folder / ".state.json.partial"
        tmp.write_text(json.dumps({"epoch": self._current_epoch, "weights": name, "weights_count": len(weights),
                                   "optimizer": optimizer_name, "optimizer_count": len(optimizer)}))
        os.replace(tmp, self._state)
        for old in folder.glob("epoch-*.npz"):
            if old.name not in (name, optimizer_name):
                old.unlink()  # a hard link of it (the best checkpoint) keeps its data

    def on_train_end(self, logs=None):
        # The backup stays until the run is marked complete (`finetune` removes it then): a kill
        # between the last epoch and the end of the run resumes without training again.
        pass
