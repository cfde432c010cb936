"""`fit_cached`: the cached linear probe's head training gives what Keras' `fit` gives."""

from __future__ import annotations

import numpy as np

from zoo.training.features import fit_cached


def _head(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype("int32")
    x = (rng.normal(size=(n, 8)) + np.eye(3, 8)[y] * 4.0).astype("float32")
    return x, y


def test_same_weights_and_logs_as_keras_fit():
    """One batch an epoch, so the shuffle order cannot matter: the two loops must agree to rounding."""
    x, y = _data(64, 0)
    xv, yv = _data(32, 1)
    ours, theirs = _head(), _head()
    ours.set_weights(theirs.get_weights())
    history = fit_cached(ours, x, y, (xv, yv), epochs=6, batch_size=64, callbacks=[], seed=3)
    reference = theirs.fit(x, y, validation_data=(xv, yv), epochs=6, batch_size=64, shuffle=True, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert sorted(history.history) == sorted(reference.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key in reference.history:
        np.testing.assert_allclose(history.history[key], reference.history[key], atol=1e-5)
    assert int(ours.optimizer.iterations.numpy()) == 6


def test_minibatches_learn_and_callbacks_see_every_epoch():
    import keras

    x, y = _data(300, 2)
    xv, yv = _data(90, 3)
    model = _head()
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, dict(logs))))
    fit_cached(model, x, y, (xv, yv), epochs=5, batch_size=32, callbacks=[record], seed=0)
    assert [e for e, _ in seen] == [0, 1, 2, 3, 4]
    assert seen[-1][1]["val_accuracy"] > 0.9 and seen[-1][1]["loss"] < seen[0][1]["loss"]
    assert int(model.optimizer.iterations.numpy()) == 5 * 10  # ceil(300 / 32) steps an epoch

    # early stopping: stop_training ends the loop, best weights restored as in fit
    model = _head()
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    history = fit_cached(model, x, y, (xv, yv[::-1].copy()), epochs=50, batch_size=32, callbacks=[stop], seed=0)
    assert len(history.history["loss"]) < 50


def test_resumes_from_the_initial_epoch():
    """A backup callback sets `model._initial_epoch` in on_train_begin; the loop starts there."""
    import keras

    class Resume(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model._initial_epoch = 3

    x, y = _data(40, 4)
    model = _head()
    epochs = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs.append(epoch))
    fit_cached(model, x, y, None, epochs=5, batch_size=16, callbacks=[Resume(), record])
    assert epochs == [3, 4]
