"""Kernels on the int8 grid: a short quantisation-aware fine-tune that int8 weight files reproduce.

LiteRT stores a convolution's or a dense layer's kernel as int8 per output channel, with the
symmetric scale `max|w| / 127` of that channel (`zoo_export.tflite.weight_only_int8`, and the
converter's full-integer int8). A batch norm folded into the kernel multiplies each output channel
by one factor, which multiplies that channel's maximum by the same factor: a kernel on its
per-channel grid is still on it after folding. So once every kernel lies on the grid, rounding it
to int8 changes nothing, and an int8-weight file computes what the Keras model computes.

`quantize_aware` puts the model there: the frozen kernels are rounded once; the trainable ones are
trained for a few epochs with the straight-through estimator (each step runs on the rounded
kernel, and its update goes to a float copy that is rounded again before the next step), then
rounded. Only `GRID_LAYERS` are rounded; embeddings, attention (`EinsumDense`) and biases keep
their float values.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("zoo")

#: the Keras layers whose `kernel` LiteRT quantises per output channel (its last axis; the last two
#: of a depthwise kernel, channels x multiplier)
GRID_LAYERS = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "Dense")
LEVELS = 127


def grid_layers(model) -> list:
    """Every layer of `model` (nested models included, each once) that `GRID_LAYERS` names."""
    from zoo.strategies.freeze import nested_layers

    return nested_layers(model, lambda layer: type(layer).__name__ in GRID_LAYERS
                         and getattr(layer, "kernel", None) is not None)


def snap(kernel: np.ndarray, depthwise: bool = False) -> np.ndarray:
    """`kernel` rounded to its per-output-channel symmetric int8 grid, `max|w| / 127` per channel."""
    w = np.asarray(kernel, dtype=np.float32)
    axes = tuple(range(w.ndim - (2 if depthwise else 1)))
    scale = np.max(np.abs(w), axis=axes, keepdims=True) / LEVELS
    safe = np.where(scale > 0, scale, 1.0)
    q = np.clip(np.round(w / safe), -LEVELS, LEVELS) * safe
    return np.where(scale > 0, q, 0.0).astype(w.dtype)


def is_depthwise(layer) -> bool:
    return type(layer).__name__ == "DepthwiseConv2D"


def on_grid(layer, atol: float = 1e-6) -> bool:
    """Whether `layer`'s kernel is its own rounding (to `atol` of a grid step)."""
    w = np.asarray(layer.kernel.numpy(), dtype=np.float32)
    axes = tuple(range(w.ndim - (2 if is_depthwise(layer) else 1)))
    scale = np.max(np.abs(w), axis=axes, keepdims=True) / LEVELS
    steps = w / np.where(scale > 0, scale, 1.0)
    return bool(np.all(np.abs(steps - np.round(steps)) <= atol * LEVELS))


def snap_layers(layers) -> int:
    """Round each layer's kernel in place; return the number of weights rounded."""
    n = 0
    for layer in layers:
        layer.kernel.assign(snap(layer.kernel.numpy(), is_depthwise(layer)))
        n += int(np.prod(layer.kernel.shape))
    return n


def straight_through(layers):
    """A Keras callback for `fit`: each step runs on the rounded kernels of `layers`, its update goes
    to their float copies, and the kernels are left rounded when training ends."""
    import keras

    class StraightThrough(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.shadow = [np.asarray(layer.kernel.numpy(), dtype=np.float32) for layer in layers]
            self.rounded = [None] * len(layers)

        def on_train_batch_begin(self, batch, logs=None):
            for i, layer in enumerate(layers):
                self.rounded[i] = snap(self.shadow[i], is_depthwise(layer))
                layer.kernel.assign(self.rounded[i])

        def on_train_batch_end(self, batch, logs=None):
            for i, layer in enumerate(layers):  # the optimizer's step, applied to the float copy
                self.shadow[i] += np.asarray(layer.kernel.numpy(), dtype=np.float32) - self.rounded[i]

        def on_train_end(self, logs=None):
            for i, layer in enumerate(layers):
                layer.kernel.assign(snap(self.shadow[i], is_depthwise(layer)))

    return StraightThrough()


def quantize_aware(model, trainer, fit, epochs: int) -> dict:
    """Put every `GRID_LAYERS` kernel of `model` on its int8 grid: the ones `trainer` does not train
    are rounded once; then `fit(epochs, callback)` trains `trainer` with the straight-through callback
    on the ones it trains. Returns the record for the run (`zoo.json`'s `quantize_aware`)."""
    layers = grid_layers(model)
    trained = {id(v) for v in trainer.trainable_variables}
    moving = [layer for layer in layers if id(layer.kernel) in trained]
    fixed = [layer for layer in layers if id(layer.kernel) not in trained]
    rounded_once = snap_layers(fixed)
    callback = straight_through(moving)
    fit(epochs, callback)
    off = [layer.name for layer in layers if not on_grid(layer)]
    if off:
        raise RuntimeError(f"kernels left off the int8 grid after the quantisation-aware epochs: {off[:5]}")
    record = {
        "epochs": int(epochs),
        "layers": len(layers),
        "kernels_trained": len(moving),
        "weights_on_grid": rounded_once + int(sum(int(np.prod(layer.kernel.shape)) for layer in moving)),
        "grid": "int8 per output channel, symmetric, max|w|/127",
    }
    log.info("quantisation-aware: %d kernels on the int8 grid (%d trained through it for %d epochs)",
             len(layers), len(moving), epochs)
    return record
