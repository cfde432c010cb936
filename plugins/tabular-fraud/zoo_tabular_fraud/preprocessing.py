"""The fitted, in-graph preprocessing: raw columns -> the backbone's two inputs.

`build_preprocessing(schema, train)` returns a functional `keras.Model` named
`tabular_preprocessing`, fitted on the training rows only (normalisation statistics,
log transforms, vocabularies). It takes one named input per feature column and returns

- `"numeric"`: `(batch, F_float, 4)`, one 4-vector per float column (numbers,
  booleans, timestamps), in the schema's column order;
- `"categorical"`: `(batch, F_cat)` int32 indices into each column's embedding table.

A key is left out when the schema has no such column. The backbone is built from
the raw input signature alone (float32 inputs -> numeric tokens, int32 -> categorical),
so any preprocessing fitted on the same columns fits any backbone built for them.

Example:

```python
prep = build_preprocessing(schema, {"amount": amounts, "country": codes})
prep({"amount": amounts[:2], "country": codes[:2]})["numeric"].shape   # (2, 1, 4)
```
"""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from zoo_tabular_fraud.schema import Schema

log = logging.getLogger(__name__)

NAME = "tabular_preprocessing"


def wants_log(values: np.ndarray) -> bool:
    """A signed log1p for heavy-tailed non-negative numbers (skewness above 2)."""
    values = np.asarray(values, "float64")
    values = values[~np.isnan(values)]
    if values.size < 10 or values.min() < 0:
        return False
    std = values.std()
    if std == 0:
        return False
    skew = float(np.mean(((values - values.mean()) / std) ** 3))
    return skew > 2.0


def vocabulary(codes: np.ndarray, min_count: int, buckets: int) -> list[int]:
    """The codes seen at least `min_count` times, most frequent first, at most `buckets - 2`.

    Rarer values map to the "unseen" index, so its embedding is trained on real rows.
    """
    codes = np.asarray(codes)
    codes = codes[codes != 0]
    if codes.size == 0:
        return []
    values, counts = np.unique(codes, return_counts=True)
    order = np.lexsort((values, -counts))
    keep = [int(values[i]) for i in order if counts[i] >= min_count]
    return keep[: buckets - 2]


def build_preprocessing(schema: Schema, train: Mapping[str, np.ndarray], min_count: int = 5):
    """The preprocessing model for `schema`, fitted on `train` ({input name: raw values})."""
    import keras

    from zoo_tabular_fraud.layers import (CATEGORY_BUCKETS, CategoryIndex, NumericToken, StackColumns,
                                          TimeToken)

    inputs, floats, cats = {}, [], []
    for col in schema.features():
        dtype = "int32" if col.kind == "categorical" else "float32"
        inputs[col.input] = keras.Input((), dtype=dtype, name=col.input)
        values = np.asarray(train[col.input])
        if col.kind == "categorical":
            layer = CategoryIndex(vocabulary(values, min_count, CATEGORY_BUCKETS), name=f"cat_{col.input}")
            cats.append(layer(inputs[col.input]))
        elif col.kind == "timestamp":
            floats.append(TimeToken(name=f"time_{col.input}")(inputs[col.input]))
        else:
            layer = NumericToken(log=col.kind == "numeric" and wants_log(values), name=f"num_{col.input}")
            layer.adapt(values)
            floats.append(layer(inputs[col.input]))
    outputs = {}
    if floats:
        outputs["numeric"] = StackColumns(name="stack_numeric")(floats)
    if cats:
        outputs["categorical"] = StackColumns(name="stack_categorical")(cats)
    return keras.Model(inputs, outputs, name=NAME)


def describe(model) -> dict:
    """What a fitted preprocessing model does per column (for the run's metadata)."""
    from zoo_tabular_fraud.layers import CategoryIndex, NumericToken, TimeToken

    out = {}
    for layer in model.layers:
        if isinstance(layer, NumericToken):
            mean = float(np.asarray(layer.norm.adapt_mean))
            std = float(np.sqrt(np.asarray(layer.norm.adapt_variance)))
            out[layer.name[4:]] = {"kind": "number", "log1p": layer.log, "mean": round(mean, 6),
                                   "std": round(std, 6)}
        elif isinstance(layer, TimeToken):
            out[layer.name[5:]] = {"kind": "time", "features": "sin/cos hour of day, sin/cos day of week (UTC)"}
        elif isinstance(layer, CategoryIndex):
            out[layer.name[4:]] = {"kind": "category", "known_values": len(layer.vocabulary)}
    return out


def vocabularies(model) -> dict[str, list[int]]:
    """{input name: vocabulary codes} of a fitted preprocessing model."""
    from zoo_tabular_fraud.layers import CategoryIndex

    return {layer.name[4:]: list(layer.vocabulary) for layer in model.layers if isinstance(layer, CategoryIndex)}
