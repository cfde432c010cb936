"""Small models and separable synthetic data for the export tests (imported by conftest).

Kept out of conftest.py so that test modules can import these helpers by a unique name.
"""

from __future__ import annotations

import numpy as np

IMAGE_SHAPE = (32, 32, 3)
N_CLASSES = 4
SEQ_LEN = 16
VOCAB = 64


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw 0..255 float images; class k has a bright patch in quadrant k, on noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_CLASSES, n)
    images = rng.uniform(0, 90, (n, *IMAGE_SHAPE)).astype("float32")
    for i, label in enumerate(labels):
        r, c = divmod(int(label), 2)
        images[i, r * 16 + 2 : r * 16 + 14, c * 16 + 2 : c * 16 + 14, :] += rng.uniform(120, 160)
    return np.clip(images, 0, 255).astype("float32"), labels


def make_sequences(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Token sequences with padding; label 1 when most real tokens come from the upper half
    of the vocabulary."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    lengths = rng.integers(6, SEQ_LEN + 1, n)
    tokens = np.zeros((n, SEQ_LEN), "int32")
    mask = np.zeros((n, SEQ_LEN), "int32")
    segments = np.zeros((n, SEQ_LEN), "int32")
    for i, (label, length) in enumerate(zip(labels, lengths)):
        high = rng.random(length) < (0.85 if label else 0.15)
        tokens[i, :length] = np.where(
            high, rng.integers(VOCAB // 2, VOCAB, length), rng.integers(1, VOCAB // 2, length)
        )
        mask[i, :length] = 1
        segments[i, length // 2 : length] = 1
    return {"token_ids": tokens, "padding_mask": mask, "segment_ids": segments}, labels


def build_cnn():
    import keras

    inputs = keras.Input(IMAGE_SHAPE, name="image")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    outputs = keras.layers.Dense(N_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="cnn")


def build_text():
    import keras
    from keras import ops

    token_ids = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    padding_mask = keras.Input((SEQ_LEN,), dtype="int32", name="padding_mask")
    segment_ids = keras.Input((SEQ_LEN,), dtype="int32", name="segment_ids")
    x = keras.layers.Embedding(VOCAB, 16)(token_ids) + keras.layers.Embedding(2, 16)(segment_ids)
    mask = ops.expand_dims(ops.cast(padding_mask, "float32"), -1)
    pooled = ops.sum(x * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
    hidden = keras.layers.Dense(16, activation="relu")(pooled)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="score")(hidden)
    return keras.Model(
        {"token_ids": token_ids, "padding_mask": padding_mask, "segment_ids": segment_ids},
        outputs,
        name="text",
    )


class Trained:
    """A trained model with its calibration, verification and held-out data."""

    def __init__(self, model, train, calibration, samples, holdout, holdout_labels, task_kind):
        self.model = model
        self.train = train
        self.calibration = calibration
        self.samples = samples
        self.holdout = holdout
        self.holdout_labels = holdout_labels
        self.task_kind = task_kind


def top1(probs: np.ndarray) -> np.ndarray:
    return np.argmax(probs, axis=-1) if probs.shape[-1] > 1 else (probs[:, 0] >= 0.5).astype(int)


def keras_predict(model, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Keras' own predict, given inputs in the structure the model was built on."""
    if isinstance(model.input, dict):
        return model.predict(inputs, verbose=0)
    return model.predict(inputs[model.input.name], verbose=0)
