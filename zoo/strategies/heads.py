"""Heads: features -> task outputs (`--head linear|mlp`).

A head is its own small `keras.Model` from the backbone's features to the
outputs, so the cached linear probe can train it alone and then put it on top
of the backbone unchanged.

Example:

```python
head = build_head(1280, TaskSpec("binary"), n_classes=2, recipe=Recipe(head="mlp"),
                  class_prior=[0.9, 0.1])
```
"""

from __future__ import annotations

from typing import Sequence

from zoo.errors import ConfigError


def output_units(task, n_classes: int) -> int:
    return task.output_units(n_classes)


def build_pooling(feature_shape: Sequence[int | None], recipe):
    """A parameter-free pooling layer for rank-3/4 features (None when features are vectors)."""
    import keras

    if len(feature_shape) == 3:
        cls = keras.layers.GlobalAveragePooling2D if recipe.pooling == "avg" else keras.layers.GlobalMaxPooling2D
        return cls(name="pool")
    if len(feature_shape) == 2:
        cls = keras.layers.GlobalAveragePooling1D if recipe.pooling == "avg" else keras.layers.GlobalMaxPooling1D
        return cls(name="pool")
    if len(feature_shape) != 1:
        raise ConfigError(f"backbone features of shape {tuple(feature_shape)} cannot be pooled into a vector")
    return None


def build_head(feature_dim: int, task, n_classes: int, recipe,
               class_prior: Sequence[float] | None = None, name: str = "head", sequence: bool = False):
    """Optional MLP with dropout, then the task's output layer, on pooled features.

    The task (`zoo.tasks.Task.build_outputs`) makes the output layer: its units, activation and
    initial bias (for a binary task log(p / (1 - p)) of the positive class prior, so an
    imbalanced problem does not begin by predicting 50%), or more where the kind needs it.
    """
    import keras

    inputs = keras.Input((None, feature_dim) if sequence else (feature_dim,), name="features")
    x = inputs
    if recipe.head == "mlp":
        # SiLU, not exact GELU: tf2onnx writes GELU as Erfc, which the ONNX checker rejects.
        x = keras.layers.Dense(recipe.head_hidden, activation="silu", name="hidden")(x)
    if recipe.dropout:
        x = keras.layers.Dropout(recipe.dropout, name="dropout")(x)
    outputs = task.build_outputs(inputs, x, n_classes, class_prior)
    return keras.Model(inputs, outputs, name=name)
