"""Registered Keras layers of the tabular-fraud plugin (`custom_objects_module`).

Preprocessing (raw columns -> backbone inputs, fitted on the training split):

- `VariableNormalization`: `keras.layers.Normalization` (adapted with `adapt()`) that
  reads its mean and variance from its variables at call time. Keras' own layer
  captures them as eager constants, which tf2onnx turns into extra graph inputs.
- `NumericToken`: a number (NaN = missing) -> `[z, missing, 0, 0]`, with an optional
  signed `log1p`, standardisation and clipping to +-8.
- `TimeToken`: seconds since 1970 (UTC) -> `[sin, cos]` of the hour of day and of the
  day of week; all zeros when missing.
- `CategoryIndex`: int32 category codes -> 0 (missing), 1 (unseen or rare), 2.. (the
  vocabulary), with equality tests against a constant vocabulary (no hash table, so it
  converts to TFLite built-ins and ONNX).
- `StackColumns`: per-column tensors -> one `(batch, columns, ...)` tensor.

Backbone:

- `NumericTokenizer`, `CategoricalTokenizer`: the FT-Transformer feature tokenizer,
  one `d`-dimensional token per column (a per-column linear map of the 4-vector, or a
  per-column embedding table, plus a per-column bias).
- `CLSToken`: prepends a learned token; `TakeToken`: picks one token.
- `ColumnScores`: one score per column token (the pretrained replaced-column logits).

Every layer exports to SavedModel, TFLite (built-in ops) and ONNX.

Example:

```python
import numpy as np
from zoo_tabular_fraud.layers import CategoryIndex
CategoryIndex(vocabulary=[11, 22])(np.array([0, 11, 22, 99], "int32"))   # [0, 2, 3, 1]
```
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

PACKAGE = "zoo_tabular_fraud"
#: width of the vector every float column becomes
TOKEN_WIDTH = 4
#: rows of each categorical column's embedding table: missing, unseen, and up to 126 values
CATEGORY_BUCKETS = 128
CLIP = 8.0
WEEK_OFFSET = 3.0  # 1970-01-01 was a Thursday: (days + 3) mod 7 is 0 on Mondays


@keras.saving.register_keras_serializable(package=PACKAGE)
class VariableNormalization(keras.layers.Normalization):
    """`keras.layers.Normalization` that exports to ONNX: statistics read from variables in `call`."""

    def call(self, inputs):
        if self.input_mean is not None or not self.built:
            return super().call(inputs)
        mean = ops.cast(ops.reshape(self.adapt_mean, self._broadcast_shape), self.compute_dtype)
        variance = ops.cast(ops.reshape(self.adapt_variance, self._broadcast_shape), self.compute_dtype)
        x = ops.cast(inputs, self.compute_dtype)
        return (x - mean) / ops.maximum(ops.sqrt(variance), keras.backend.epsilon())


def _missing(x):
    """NaN test that converts everywhere (x != x; TFLite has no IsNan built-in)."""
    return ops.not_equal(x, x)


@keras.saving.register_keras_serializable(package=PACKAGE)
class NumericToken(keras.layers.Layer):
    """A number column (batch,) -> (batch, 4): `[z, missing, 0, 0]`.

    `z` is the standardised value (after a signed `log1p` when `log=True`), clipped to
    +-8, and 0 for a missing value. Call `adapt(values)` with the training values first.
    """

    def __init__(self, log: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.log = bool(log)
        self.norm = VariableNormalization(axis=None, name="normalization")

    def build(self, input_shape):
        if not self.norm.built:
            self.norm.build(tuple(input_shape))
        self.built = True

    def transform(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, "float64")
        return np.sign(values) * np.log(1.0 + np.abs(values)) if self.log else values

    def adapt(self, values) -> None:
        """Fit the normalisation on raw training values (missing ones are skipped)."""
        values = np.asarray(values, "float64")
        values = values[~np.isnan(values)]
        if values.size == 0:
            values = np.zeros(1)
        self.norm.adapt(self.transform(values).astype("float32"))
        self.built = True

    def call(self, x):
        x = ops.cast(x, "float32")
        missing = _missing(x)
        value = ops.where(missing, ops.zeros_like(x), x)
        if self.log:
            value = ops.sign(value) * ops.log(1.0 + ops.abs(value))  # not log1p: tf2onnx has no Log1p
        z = ops.clip(self.norm(value), -CLIP, CLIP)
        z = ops.where(missing, ops.zeros_like(z), z)
        flag = ops.cast(missing, "float32")
        zero = ops.zeros_like(z)
        return ops.stack([z, flag, zero, zero], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (TOKEN_WIDTH,)

    def get_config(self):
        return {**super().get_config(), "log": self.log}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TimeToken(keras.layers.Layer):
    """Seconds since 1970 UTC (batch,) -> (batch, 4): sin/cos of hour of day and day of week.

    A missing time (NaN) gives all zeros, a point no real time maps to.
    float32 seconds have a resolution of 128 s around 2024, plenty for hour and weekday.
    """

    def call(self, x):
        x = ops.cast(x, "float32")
        missing = _missing(x)
        t = ops.where(missing, ops.zeros_like(x), x)
        day = 86400.0
        hour_angle = (t - ops.floor(t / day) * day) * (2.0 * math.pi / day)
        days = ops.floor(t / day) + WEEK_OFFSET
        dow_angle = (days - ops.floor(days / 7.0) * 7.0) * (2.0 * math.pi / 7.0)
        token = ops.stack([ops.sin(hour_angle), ops.cos(hour_angle), ops.sin(dow_angle), ops.cos(dow_angle)],
                          axis=-1)
        keep = ops.expand_dims(1.0 - ops.cast(missing, "float32"), -1)
        return token * keep

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (TOKEN_WIDTH,)


@keras.saving.register_keras_serializable(package=PACKAGE)
class CategoryIndex(keras.layers.Layer):
    """int32 category codes (batch,) -> int32 indices: 0 missing (code 0), 1 unseen, 2 + position.

    `vocabulary` holds the codes (`schema.category_code`) seen often enough in training,
    at most `CATEGORY_BUCKETS - 2` of them.
    """

    def __init__(self, vocabulary=(), **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = [int(v) for v in vocabulary]
        if len(self.vocabulary) > CATEGORY_BUCKETS - 2:
            raise ValueError(f"CategoryIndex takes at most {CATEGORY_BUCKETS - 2} values, "
                             f"got {len(self.vocabulary)}")

    def call(self, x):
        x = ops.cast(x, "int32")
        if not self.vocabulary:
            return ops.where(ops.equal(x, 0), 0, 1)
        vocab = ops.convert_to_tensor(np.asarray(self.vocabulary, "int32"))
        hits = ops.cast(ops.equal(ops.expand_dims(x, -1), vocab), "int32")
        positions = ops.convert_to_tensor(np.arange(2, len(self.vocabulary) + 2, dtype="int32"))
        index = ops.sum(hits * positions, axis=-1)
        known = ops.sum(hits, axis=-1)
        index = ops.where(ops.greater(known, 0), index, ops.ones_like(index))
        return ops.where(ops.equal(x, 0), ops.zeros_like(index), index)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape, dtype="int32")

    def get_config(self):
        return {**super().get_config(), "vocabulary": list(self.vocabulary)}


@keras.saving.register_keras_serializable(package=PACKAGE)
class StackColumns(keras.layers.Layer):
    """A list of per-column tensors -> one tensor stacked on axis 1."""

    def call(self, inputs):
        return ops.stack(list(inputs), axis=1)

    def compute_output_spec(self, inputs):
        first = inputs[0]
        return keras.KerasTensor((first.shape[0], len(inputs)) + tuple(first.shape[1:]), dtype=first.dtype)


# --------------------------------------------------------------------------- backbone layers

@keras.saving.register_keras_serializable(package=PACKAGE)
class NumericTokenizer(keras.layers.Layer):
    """(batch, F, 4) float tokens -> (batch, F, dim): a linear map per column plus a per-column bias."""

    def __init__(self, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)

    def build(self, input_shape):
        features, width = int(input_shape[1]), int(input_shape[2])
        scale = 1.0 / math.sqrt(width)
        init = keras.initializers.RandomUniform(-scale, scale)
        self.kernel = self.add_weight(name="kernel", shape=(features, width, self.dim), initializer=init)
        self.bias = self.add_weight(name="bias", shape=(features, self.dim), initializer=init)
        self.built = True

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        return ops.sum(ops.expand_dims(x, -1) * self.kernel, axis=2) + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CategoricalTokenizer(keras.layers.Layer):
    """(batch, F) int indices -> (batch, F, dim): one embedding table per column plus a bias."""

    def __init__(self, dim: int, buckets: int = CATEGORY_BUCKETS, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.buckets = int(buckets)

    def build(self, input_shape):
        features = int(input_shape[1])
        self.features = features
        scale = 1.0 / math.sqrt(self.dim)
        init = keras.initializers.RandomUniform(-scale, scale)
        self.embeddings = self.add_weight(name="embeddings", shape=(features * self.buckets, self.dim),
                                          initializer=init)
        self.bias = self.add_weight(name="bias", shape=(features, self.dim), initializer=init)
        self.built = True

    def call(self, x):
        x = ops.clip(ops.cast(x, "int32"), 0, self.buckets - 1)
        offsets = ops.convert_to_tensor(np.arange(self.features, dtype="int32") * self.buckets)
        return ops.take(self.embeddings, x + offsets, axis=0) + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "buckets": self.buckets}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CLSToken(keras.layers.Layer):
    """(batch, F, dim) -> (batch, F + 1, dim) with a learned token first."""

    def build(self, input_shape):
        dim = int(input_shape[-1])
        scale = 1.0 / math.sqrt(dim)
        self.token = self.add_weight(name="token", shape=(1, 1, dim),
                                     initializer=keras.initializers.RandomUniform(-scale, scale))
        self.built = True

    def call(self, x):
        first = ops.zeros_like(x[:, :1, :]) + ops.cast(self.token, x.dtype)
        return ops.concatenate([first, x], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None if input_shape[1] is None else input_shape[1] + 1, input_shape[2])


@keras.saving.register_keras_serializable(package=PACKAGE)
class TakeToken(keras.layers.Layer):
    """(batch, T, dim) -> (batch, dim): the token at `index`."""

    def __init__(self, index: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, x):
        return x[:, self.index, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ColumnScores(keras.layers.Layer):
    """(batch, T, dim) tokens -> (batch, T - skip) scores: one linear map per column token.

    In a pretrained encoder these are the replaced-column logits: how out of place each
    column looks next to the others (see `zoo_tabular_fraud.pretrain`).
    """

    def __init__(self, skip: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.skip = int(skip)

    def build(self, input_shape):
        columns, dim = int(input_shape[1]) - self.skip, int(input_shape[2])
        self.kernel = self.add_weight(name="kernel", shape=(columns, dim), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(columns,), initializer="zeros")
        self.built = True

    def call(self, x):
        x = ops.cast(x[:, self.skip:, :], self.compute_dtype)
        return ops.sum(x * self.kernel, axis=-1) + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(input_shape[1]) - self.skip)

    def get_config(self):
        return {**super().get_config(), "skip": self.skip}

