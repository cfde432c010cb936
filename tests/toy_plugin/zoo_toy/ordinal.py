"""A task kind the core does not ship: ordered classes (low < mid < high).

K classes become K-1 sigmoid outputs, output j the probability that the class is above
j (cumulative link, as in CORAL). The class is the number of outputs at or above 0.5.
Everything kind-specific lives here, written against `zoo.tasks.Task` only.
"""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from zoo.errors import DataError
from zoo.tasks import Task


@dataclass(frozen=True)
class Ordinal(Task):
    kind: ClassVar[str] = "ordinal"
    activation: ClassVar[str] = "sigmoid"
    default_loss: ClassVar[str] = "ordinal_crossentropy"
    default_metrics: ClassVar[tuple] = ("rank_accuracy", "rank_mae")
    default_monitor: ClassVar[tuple] = ("val_rank_mae", "min")

    def output_units(self, n_classes):
        if n_classes < 3:
            raise DataError(f"an ordinal task needs at least 3 ordered classes, the data has {n_classes}")
        return n_classes - 1

    def check_labels(self, labels, class_names, split):
        super().check_labels(labels, class_names, split)
        flat = labels.reshape(-1)
        if labels.ndim != 1 or ((flat < 0) | (flat >= len(class_names))).any():
            raise DataError(f"{split} labels must be one rank 0..{len(class_names) - 1} per sample")

    def keras_loss(self, recipe=None):
        import keras

        def ordinal_crossentropy(y_true, y_pred):
            ranks = keras.ops.arange(keras.ops.shape(y_pred)[-1], dtype="float32")
            target = keras.ops.cast(keras.ops.reshape(keras.ops.cast(y_true, "float32"), (-1, 1)) > ranks, "float32")
            return keras.ops.mean(keras.losses.binary_crossentropy(target[..., None], y_pred[..., None]), axis=-1)

        return ordinal_crossentropy

    def keras_metrics(self):
        import keras

        class RankAccuracy(keras.metrics.MeanMetricWrapper):
            def __init__(self, name="rank_accuracy", **kw):
                super().__init__(lambda y, p: keras.ops.cast(
                    keras.ops.equal(keras.ops.cast(keras.ops.reshape(y, (-1,)), "float32"),
                                    keras.ops.sum(keras.ops.cast(p >= 0.5, "float32"), axis=-1)), "float32"),
                    name=name, **kw)

        class RankMAE(keras.metrics.MeanMetricWrapper):
            def __init__(self, name="rank_mae", **kw):
                super().__init__(lambda y, p: keras.ops.abs(
                    keras.ops.cast(keras.ops.reshape(y, (-1,)), "float32")
                    - keras.ops.sum(keras.ops.cast(p >= 0.5, "float32"), axis=-1)), name=name, **kw)

        return [RankAccuracy(), RankMAE()]

    def _targets(self, labels, k):
        return (labels.reshape(-1, 1) > np.arange(k)).astype(float)

    def numpy_loss(self, labels, scores):
        p = np.clip(np.asarray(scores, float), 1e-7, 1 - 1e-7)
        t = self._targets(labels, p.shape[-1])
        return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))

    def numpy_metric(self, name, labels, scores):
        ranks = self.predicted_classes(scores)
        if name == "rank_accuracy":
            return float(np.mean(ranks == labels.reshape(-1)))
        if name == "rank_mae":
            return float(np.mean(np.abs(ranks - labels.reshape(-1))))
        return super().numpy_metric(name, labels, scores)

    def predicted_classes(self, scores, threshold=None):
        return (np.asarray(scores) >= 0.5).sum(axis=-1).astype(int)

    def decode(self, scores, class_names, threshold=None):
        s = np.asarray(scores, float).reshape(-1)
        rank = int((s >= 0.5).sum())
        return {"level": class_names[rank], "rank": rank, "above": [float(v) for v in s]}

    def agreement(self, reference, produced, threshold=None):
        same = self.predicted_classes(reference) == self.predicted_classes(produced)
        return "same rank", float(np.mean(same))
