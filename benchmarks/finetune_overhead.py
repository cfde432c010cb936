"""`zoo finetune` samples/s / a hand-written `model.fit` on the same model, data and batch size (goal >= 0.97).

Both train MobileNetV2 (96 px, all layers trainable, batch normalisation in training mode:
`batchnorm: train`, since keras-zoo's default freezes it, which is less work than plain Keras does)
on the same in-memory images with the same batch size and optimizer.

The two sides run interleaved epoch by epoch in one process: a callback at the end of each
`zoo finetune` epoch runs one epoch of the hand-written `fit`, so each pair of epochs sees the same
machine load (on a shared machine, whole runs a minute apart differed by 2x). An epoch's time runs
from its start to the end of keras-zoo's own callbacks (history, backup, best checkpoint,
TensorBoard), validation included on both sides; the first epoch of each (tracing) is left out.
On the 2-core machine these were measured on, identical epochs of one run took 5.2-11.6 s: the
median over many pairs is the figure; the fastest epoch of each side is reported beside it.
"""

from __future__ import annotations

import tempfile
import time

from _common import ratio_summary, report, run_cli


class EpochTimer:
    def __init__(self):
        import keras

        timer = self

        class _CB(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                timer.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                timer.times.append(time.perf_counter() - timer.start)

        self.times: list[float] = []
        self.callback = _CB()

    def steady(self) -> float:
        later = self.times[1:] or self.times
        return sorted(later)[len(later) // 2]


def main(samples: int = 1280, epochs: int = 5, batch: int = 32, repeats: int = 3) -> dict:
    import keras
    import tensorflow as tf

    from _bench_plugin import SIZE, make_images, plugin
    from zoo.training.finetune import finetune

    n_train = samples - int(samples * 0.2)
    runs = tempfile.mkdtemp()
    zoo_sps, hand_sps = [], []

    def hand_model():
        keras.utils.set_random_seed(42)
        inputs = keras.Input((SIZE, SIZE, 3))
        features = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))(
            keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs))
        outputs = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(features))
        model = keras.Model(inputs, outputs)
        steps = -(-n_train // batch)
        model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, epochs * steps)),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    x, y = make_images(samples, 42)
    n_val = samples - n_train
    train = tf.data.Dataset.from_tensor_slices((x[n_val:], y[n_val:])).shuffle(n_train).batch(batch).prefetch(-1)
    val = tf.data.Dataset.from_tensor_slices((x[:n_val], y[:n_val])).batch(batch).prefetch(-1)

    for _ in range(repeats):
        zoo_timer, hand_timer = EpochTimer(), EpochTimer()
        hand = hand_model()

        class HandEpoch(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):  # after keras-zoo's epoch was timed
                hand.fit(train, validation_data=val, epochs=1, verbose=0, callbacks=[hand_timer.callback])

        recipe = plugin.resolve_recipe(overrides={"strategy": "full", "epochs": epochs, "batch_size": batch,
                                                          "dropout": 0.0, "batchnorm": "train",
                                                          "options": {"samples": samples}})
        finetune(plugin, recipe, runs_dir=runs, verbose=0, callbacks=[zoo_timer.callback, HandEpoch()])
        zoo_sps += [n_train / t for t in zoo_timer.times[1:]]
        hand_sps += [n_train / t for t in hand_timer.times[1:]]

    summary = ratio_summary(zoo_sps, hand_sps)
    return report("finetune_overhead", "zoo finetune / hand-written fit (samples/s)", summary, ">= 0.97",
                  summary["median"] >= 0.97,
                  {"zoo_samples_per_s": zoo_sps, "hand_samples_per_s": hand_sps, "model": "MobileNetV2 96px",
                   "batch": batch, "train_samples": n_train, "pairs": "interleaved epochs",
                   "best_epoch_ratio": max(zoo_sps) / max(hand_sps)})


if __name__ == "__main__":
    run_cli(main, {'samples': 640, 'epochs': 3, 'repeats': 1})
