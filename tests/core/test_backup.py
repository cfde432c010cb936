"""The run's backup: a killed fit resumes with the same weights, optimizer state and epoch."""

from __future__ import annotations

import numpy as np
import pytest


def test_backup_restores_weights_optimizer_state_and_epoch(tmp_path):
    import keras

    from zoo.training.callbacks import AtomicBackupAndRestore

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 3)).astype("float32")

    def make():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return model

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the backup of epoch 1 was written (callbacks run in order)
                raise RuntimeError("killed")

    first = make()
    with pytest.raises(RuntimeError, match="killed"):
        first.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[AtomicBackupAndRestore(str(tmp_path)), Kill()])
    files = sorted(p.name for p in tmp_path.iterdir())
    # named by the epoch to resume at, the weights apart from the optimizer's state; no partial file
    assert files == ["epoch-2.npz", "epoch-2.optimizer.npz", "state.json"]
    with np.load(tmp_path / "epoch-2.npz") as saved:  # the weights alone, as `read_weights` reads them
        assert sorted(saved.files) == sorted(f"w{i}" for i in range(len(first.weights)))

    seen = {}

    class Look(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):  # runs after the backup callback restored the state
            seen["weights"] = self.model.get_weights()
            seen["iterations"] = int(self.model.optimizer.iterations.numpy())
            seen["moments"] = [np.array(v) for v in self.model.optimizer.variables[2:]]

    second = make()
    history = second.fit(x, y, batch_size=16, epochs=4, verbose=0,
                         callbacks=[AtomicBackupAndRestore(str(tmp_path)), Look()])
    for got, want in zip(seen["weights"], first.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert seen["iterations"] == int(first.optimizer.iterations.numpy()) == 8  # 2 epochs x 4 steps
    for got, want in zip(seen["moments"], first.optimizer.variables[2:]):
        np.testing.assert_array_equal(got, np.array(want))
    assert any(np.abs(m).sum() > 0 for m in seen["moments"])  # Adam's moments, not fresh zeros
    assert len(history.history["loss"]) == 2  # epochs 2 and 3 only
    # kept after fit: `finetune` removes it only once the run is marked complete (a kill in between
    # resumes without training again; tests/faults checks that through the command)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-4.npz", "epoch-4.optimizer.npz", "state.json"]


def test_a_backup_with_the_optimizer_in_the_weights_file_still_resumes(tmp_path):
    """Runs interrupted before the optimizer's state had its own file kept `o0`, `o1`, ... beside the weights."""
    import json

    import keras

    from zoo.training.callbacks import AtomicBackupAndRestore, write_npz

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")
    old = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    old.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    old.fit(x, y, batch_size=16, epochs=1, verbose=0)
    weights = old.get_weights()
    optimizer = [np.array(v) for v in old.optimizer.variables]
    write_npz(tmp_path / "epoch-1.npz", {**{f"w{i}": w for i, w in enumerate(weights)},
                                         **{f"o{i}": v for i, v in enumerate(optimizer)}})
    (tmp_path / "state.json").write_text(json.dumps({"epoch": 1, "weights": "epoch-1.npz", "weights_count": 2,
                                                     "optimizer_count": len(optimizer)}))
    seen = {}

    class Look(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["weights"] = self.model.get_weights()
            seen["iterations"] = int(self.model.optimizer.iterations.numpy())

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[AtomicBackupAndRestore(str(tmp_path)),
                                                                             Look()])
    for got, want in zip(seen["weights"], weights):
        np.testing.assert_array_equal(got, want)
    assert seen["iterations"] == 2 and len(history.history["loss"]) == 2


def test_the_best_checkpoint_is_a_link_of_the_backup_and_outlives_it(tmp_path):
    """With a shared `EpochWeights`, early stopping holds the very list the backup wrote and its best file is
    a hard link of that epoch's backup file (no second copy, no second write); the backup's removal of
    older epochs, and of itself, leaves the best file whole."""
    import shutil

    import keras

    from zoo.training.callbacks import AtomicBackupAndRestore, EarlyStopping, EpochWeights, read_weights

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 3)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    scores = [0.1, 0.5, 0.3, 0.2]  # best at epoch 1 (index): later epochs' backups replace its file
    at_epoch, inodes = {}, {}
    backup, best = tmp_path / "backup", tmp_path / "best.weights.npz"
    snapshot = EpochWeights()

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            inodes[epoch] = (best.stat().st_ino, (backup / f"epoch-{epoch + 1}.npz").stat().st_ino)

    stop = EarlyStopping(monitor="val_score", mode="max", patience=10, restore_best_weights=True, best_path=best,
                         snapshot=snapshot)
    model.fit(x, y, batch_size=16, epochs=4, verbose=0,
              callbacks=[_scores(scores, at_epoch), AtomicBackupAndRestore(str(backup), snapshot=snapshot), stop, Watch()])
    assert inodes[0][0] == inodes[0][1] and inodes[1][0] == inodes[1][1]  # linked on each new best
    assert inodes[2][0] == inodes[1][1] != inodes[2][1] and inodes[3][0] == inodes[1][1]
    assert not (backup / "epoch-2.npz").exists() and stop.best_epoch == 1
    shutil.rmtree(backup)
    fresh = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    read_weights(fresh, best)
    for saved, want in zip(fresh.get_weights(), at_epoch[1]):
        np.testing.assert_array_equal(saved, want)
    for restored, want in zip(model.get_weights(), at_epoch[1]):  # what early stopping restored at the end
        np.testing.assert_array_equal(restored, want)


def test_a_backup_of_the_earlier_format_still_resumes(tmp_path):
    """Runs interrupted before the `.npz` format wrote `epoch-N.weights.h5` and a state without counts."""
    import json

    import keras

    from zoo.training.callbacks import AtomicBackupAndRestore

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")
    old = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    old.save_weights(tmp_path / "epoch-3.weights.h5")
    (tmp_path / "state.json").write_text(json.dumps({"epoch": 3, "weights": "epoch-3.weights.h5"}))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[AtomicBackupAndRestore(str(tmp_path))])
    assert len(history.history["loss"]) == 1  # only epoch 3 was left to run


def test_best_weights_keep_the_best_epoch_and_load_back(tmp_path):
    """Early stopping's `best.weights.npz` is rewritten only when its best epoch changes (not during
    `min_epochs`), holds that epoch's weights, and loads back into a model of the same shape."""
    import keras

    from zoo.training.callbacks import EarlyStopping, read_weights

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 3)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    scores = [0.9, 0.2, 0.5, 0.4, 0.7, 0.1]  # a made-up validation score per epoch: best at 2 and 4 after min_epochs 1
    at_epoch, writes = {}, []
    path = tmp_path / "checkpoints" / "best.weights.npz"

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            writes.append(path.stat().st_mtime_ns if path.is_file() else None)

    stop = EarlyStopping(monitor="val_score", mode="max", patience=10, restore_best_weights=True, start_from_epoch=1,
                         best_path=path)
    model.fit(x, y, batch_size=16, epochs=6, verbose=0, callbacks=[_scores(scores, at_epoch), stop, Watch()])
    assert writes[0] is None  # epoch 0 (its 0.9 included) is within min_epochs
    assert writes[1] is not None and writes[2] != writes[1] and writes[3] == writes[2]
    assert writes[4] != writes[3] and writes[5] == writes[4] and stop.best_epoch == 4
    assert sorted(p.name for p in path.parent.iterdir()) == ["best.weights.npz"]  # no partial file left
    fresh = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    read_weights(fresh, path)
    for saved, best in zip(fresh.get_weights(), at_epoch[4]):
        np.testing.assert_array_equal(saved, best)
    assert not all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), at_epoch[5]))


def _scores(scores, at_epoch):
    """A callback that logs `val_score` = `scores[epoch]` (a made-up validation score) and keeps each
    epoch's weights in `at_epoch`."""
    import keras

    class Score(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_score"] = scores[epoch]
            at_epoch[epoch] = self.model.get_weights()

    return Score()
