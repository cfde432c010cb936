"""Task kinds as objects: what a model predicts, how it trains, how it is scored and read.

A `Task` owns everything that depends on the kind of prediction: the head's output
units, activation and bias, the default loss, metrics and monitor, the label checks,
the class prior, scoring on numpy arrays, decoding scores for `zoo predict`, and what
"agreement" means when an exported artifact is compared with its Keras model. The core
calls these methods and never branches on a kind's name, so a plugin can bring a kind
the core does not ship by subclassing `Task` and passing an instance as `Plugin.task`.

Built-in kinds (`TaskSpec(kind=...)` in `zoo.api` returns one of these):

| kind | class | outputs | labels |
| --- | --- | --- | --- |
| `multiclass` | `Multiclass` | (N, C) softmax | (N,) class index |
| `binary` | `Binary` | (N, 1) sigmoid | (N,) 0 or 1 |
| `multilabel` | `Multilabel` | (N, C) sigmoid | (N, C) multi-hot 0/1 |
| `regression` | `Regression` | (N, K) linear | (N,) or (N, K) float |
| `token-multiclass` | `TokenMulticlass` | (N, T, C) softmax per position | (N, T) tag index, -1 ignored |
| `answer-span` | `AnswerSpan` | (N, T, 2) start and end logits per position | (N, 2) start, end position; (0, 0) no answer |
| `detection` | `Detection` | (N, L, 7 + C) box, anchor point, class logits per location (`zoo.detection`) | (N, M, 5) boxes `x1 y1 x2 y2 class`, class -1 pads |

Example, a kind of one's own (ordinal classes, K-1 cumulative sigmoids):

```python
import numpy as np
from zoo.tasks import Task

class Ordinal(Task):
    kind = "ordinal"
    activation = "sigmoid"
    default_loss = "binary_crossentropy"
    default_monitor = ("val_loss", "min")

    def output_units(self, n_classes):
        return n_classes - 1

    def keras_loss(self, recipe):
        import keras
        def loss(y, p):  # class k -> [1]*k + [0]*(K-1-k)
            ranks = keras.ops.arange(keras.ops.shape(p)[-1], dtype="float32")
            target = keras.ops.cast(keras.ops.reshape(y, (-1, 1)) > ranks, "float32")
            return keras.losses.binary_crossentropy(target, p)
        return loss

    def predicted_classes(self, scores, threshold=None):
        return (np.asarray(scores) >= 0.5).sum(axis=-1)
```
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Mapping, Sequence

from zoo.errors import ConfigError, DataError


class _Numpy:
    """numpy, imported on first use: plugin modules import this one, and `zoo plugins list` stays fast."""

    def __getattr__(self, name):
        import numpy

        return getattr(numpy, name)


np = _Numpy()

__all__ = ["Task", "Multiclass", "Binary", "Multilabel", "Regression", "TokenMulticlass", "AnswerSpan", "Detection",
           "BUILTIN_TASKS", "task_for_kind", "best_span", "span_loss", "span_exact", "span_f1"]

EPSILON = 1e-7  # Keras' clipping of probabilities in its cross-entropy losses


@dataclass(frozen=True)
class Task:
    """Base class of task kinds. Subclass it (set the class attributes, override methods).

    Fields (all optional; None means the kind's default):
    - `loss`: a Keras loss identifier.
    - `metrics`: Keras metric identifiers, plus `auc` (ROC-AUC) and `pr_auc`.
    - `monitor`, `monitor_mode`: what early stopping and the best checkpoint watch.

    Class attributes a subclass sets: `kind` (its name, lowercase-dashes), `activation`
    of the output layer, `default_loss`, `default_metrics`, `default_monitor`,
    `per_position` (True: one output per sequence position, features are not pooled),
    `uses_class_names` (False: the data may come without class names),
    `epoch_metrics` (metrics of `score` that no Keras metric computes, such as COCO mAP over
    a whole split: computed on the validation outputs after every epoch and logged as
    `val_<name>`, so that early stopping and the best checkpoint can watch them).
    """

    loss: str | None = None
    metrics: tuple[str, ...] | None = None
    monitor: str | None = None
    monitor_mode: str | None = None

    kind: ClassVar[str] = "task"
    activation: ClassVar[str | None] = None
    default_loss: ClassVar[str] = "mean_squared_error"
    default_metrics: ClassVar[tuple[str, ...]] = ()
    default_monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")
    per_position: ClassVar[bool] = False
    uses_class_names: ClassVar[bool] = True
    epoch_metrics: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        if self.metrics is not None:
            object.__setattr__(self, "metrics", tuple(self.metrics))

    # ------------------------------------------------------------------ training
    def resolved_loss(self) -> str:
        return self.loss or self.default_loss

    def resolved_metrics(self) -> tuple[str, ...]:
        return tuple(self.metrics) if self.metrics is not None else tuple(self.default_metrics)

    def resolved_monitor(self) -> tuple[str, str]:
        """`(metric, "min" | "max")` that early stopping and the best checkpoint watch."""
        monitor, mode = self.default_monitor
        monitor = self.monitor or monitor
        if self.monitor_mode:
            mode = self.monitor_mode
        elif self.monitor:
            mode = "min" if "loss" in monitor or "error" in monitor else "max"
        return monitor, mode

    def metric_names(self) -> list[str]:
        """Names of the logged metrics (without `loss` and the `val_` prefix)."""
        return list(self.resolved_metrics())

    def output_units(self, n_classes: int) -> int:
        """Units of the output layer for `n_classes` class names (0 when the data has none)."""
        return max(1, n_classes)

    def output_bias(self, class_prior: Sequence[float] | None) -> list[float] | None:
        """Initial output bias (None: zeros)."""
        return None

    def build_outputs(self, head_inputs, hidden, n_classes: int, class_prior: Sequence[float] | None = None):
        """The head's output tensor from `hidden` (after its MLP and dropout); `head_inputs` is what the
        head received (the pooled features). Default: a Dense layer named `output` with
        `output_units`, `activation` and `output_bias`; a kind that needs more than a Dense layer
        (decoded boxes) overrides it."""
        import keras

        bias = self.output_bias(class_prior)
        initializer = "zeros" if bias is None else keras.initializers.Constant(bias if len(bias) > 1 else bias[0])
        return keras.layers.Dense(self.output_units(n_classes), activation=self.activation,
                                  bias_initializer=initializer, dtype="float32", name="output")(hidden)

    def serving_model(self, model):
        """The model deployments run: what `zoo export` converts and verifies, and what `zoo predict`
        runs for a run folder. Default: `model` itself; a kind whose raw outputs need a last step
        in the graph (non-maximum suppression) puts it behind `model` here."""
        return model

    def class_prior(self, labels: np.ndarray, n_classes: int) -> list[float] | None:
        """Class frequencies of the training labels (None when the kind has no classes)."""
        return None

    def check_labels(self, labels: np.ndarray, class_names: Sequence[str], split: str) -> None:
        """Raise `DataError` (naming the split) when labels do not fit this task."""
        if labels.size == 0:
            raise DataError(f"the {split} split is empty; provide more data or lower val_fraction/test_fraction")

    def keras_loss(self, recipe=None):
        """The loss `fit` trains with: a Keras loss identifier or a callable `(y_true, y_pred)`."""
        if recipe is not None and getattr(recipe, "loss", "auto") == "focal":
            raise ConfigError(f"--loss focal needs a binary or multilabel task, not {self.kind}")
        return self.resolved_loss()

    def keras_metrics(self) -> list:
        """Metrics `fit` logs (Keras identifiers, or metric objects for `auc` / `pr_auc`)."""
        import keras

        out = []
        for name in self.resolved_metrics():
            if name == "auc":
                out.append(keras.metrics.AUC(name="auc", multi_label=self._multi_label))
            elif name == "pr_auc":
                out.append(keras.metrics.AUC(curve="PR", name="pr_auc", multi_label=self._multi_label))
            else:
                out.append(name)
        return out

    _multi_label: ClassVar[bool] = False

    # ------------------------------------------------------------------ scoring
    def score(self, labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
        """`loss` and every metric, computed on numpy arrays of labels and model outputs."""
        out = {"loss": self.numpy_loss(labels, scores)}
        for name in self.resolved_metrics():
            out[name] = self.numpy_metric(name, labels, scores)
        return out

    def epoch_scores(self, labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
        """The `epoch_metrics` on a whole validation split, after every epoch (default: from `score`).

        A kind whose `score` computes more than its epoch metrics (the loss, which Keras already logs
        as `val_loss`, or per-class figures) overrides this to compute only what the epoch needs:
        it runs once per epoch inside the training loop.
        """
        scores = self.score(labels, scores)
        return {name: scores[name] for name in self.epoch_metrics}

    def numpy_loss(self, labels: np.ndarray, scores: np.ndarray) -> float:
        """The training loss on numpy arrays (default: Keras' loss function, run eagerly)."""
        return _keras_value(self.keras_loss(None), labels, scores, loss=True)

    def numpy_metric(self, name: str, labels: np.ndarray, scores: np.ndarray) -> float:
        """One metric on numpy arrays (default: the Keras metric of that name, run eagerly)."""
        return _keras_value(name, labels, scores, loss=False)

    # ------------------------------------------------------------------ reading outputs
    def predicted_classes(self, scores: np.ndarray, threshold: float | None = None) -> np.ndarray | None:
        """One class index per sample (a confusion matrix is drawn from it); None: not a classifier."""
        return None

    def decode(self, scores: np.ndarray, class_names: Sequence[str], threshold: float | None = None) -> dict:
        """One prediction row of `zoo predict` from one sample's outputs (JSON-ready)."""
        flat = np.asarray(scores, dtype=float).reshape(-1)
        return {"value": flat.tolist() if len(flat) > 1 else float(flat[0])}

    def figures(self, labels: np.ndarray, scores: np.ndarray, class_names: Sequence[str]) -> dict:
        """Plots of this kind's own for the run's `plots/` (validation split): `{"name.png": figure}`
        (matplotlib figures). The core draws curves, a confusion matrix and ROC/PR already."""
        return {}

    def agreement(self, reference: np.ndarray, produced: np.ndarray,
                  threshold: float | None = None) -> tuple[str, float] | None:
        """How often an exported artifact decides as Keras does: `(what, fraction)`.

        None means the outputs are compared by value only (within a fraction of their range).
        """
        return None

    def estimated_agreement(self, reference: np.ndarray, produced: np.ndarray,
                            threshold: float | None = None) -> float | None:
        """The agreement a quantised export is estimated to reach beyond the samples compared.

        Each sample's shift of its decision score under the artifact is applied to every sample's
        Keras margin (`zoo_export.verify.pairwise_top1_agreement`); a quantised export reports it and,
        with `--min-estimated-agreement`, must reach it. None (the default) estimates nothing.
        """
        return None

    def comparable(self, reference: np.ndarray, produced: np.ndarray,
                   threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The two arrays an export's value tolerance compares (float32 within 1e-4, float16 within
        1e-2). Default: the outputs themselves. A kind whose outputs are a ranked list (detections
        after non-maximum suppression) pairs its rows first, so that two near-equal scores swapped by
        rounding are not read as a wrong box."""
        return reference, produced

    # ------------------------------------------------------------------ transferability (zoo select)
    def transfer_targets(self, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray | None]:
        """What `zoo select` scores pooled features against: `(targets (N, K), class ids (N,) or None)`.

        Classifiers give their one-hot columns and class ids (LogME, LEEP and H-score apply);
        other kinds their label columns as real-valued targets (LogME's regression form).
        """
        if self.per_position:
            raise ConfigError(f"zoo select scores one pooled feature vector per sample; the {self.kind} task "
                              "labels every position, which it does not score yet")
        y = np.asarray(labels, dtype=np.float64)
        return y.reshape(len(y), -1), None

    # ------------------------------------------------------------------ description
    def to_json(self) -> dict[str, Any]:
        data = {"kind": self.kind, **asdict(self)}
        data["metrics"] = list(data["metrics"]) if data["metrics"] is not None else None
        if type(self) not in BUILTIN_TASKS.values():
            data["class"] = f"{type(self).__module__}:{type(self).__qualname__}"
        return data


def _keras_value(identifier, labels, scores, loss: bool) -> float:
    import keras

    if loss:
        fn = keras.losses.get(identifier) if isinstance(identifier, str) else identifier
        return float(np.mean(keras.ops.convert_to_numpy(fn(labels, scores))))
    metric = keras.metrics.get(identifier)
    if not isinstance(metric, keras.metrics.Metric):
        return float(np.mean(keras.ops.convert_to_numpy(metric(labels, scores))))
    metric.update_state(labels, scores)
    return float(keras.ops.convert_to_numpy(metric.result()))


def _class_indices(labels: np.ndarray, class_names: Sequence[str], split: str, kind: str) -> np.ndarray:
    n = len(class_names)
    if labels.ndim != 1 and not (labels.ndim == 2 and labels.shape[1] == 1):
        raise DataError(f"{split} labels have shape {labels.shape}; a {kind} task needs one class index per sample")
    flat = labels.reshape(-1)
    if not np.all(np.equal(np.mod(flat, 1), 0)):
        raise DataError(f"{split} labels are not class indices (found {flat[np.mod(flat, 1) != 0][0]!r})")
    bad = flat[(flat < 0) | (flat >= n)]
    if bad.size:
        raise DataError(f"{split} label {int(bad[0])} is outside the {n} classes {list(class_names)}")
    return flat.astype(int)


def _cross_entropy(labels: np.ndarray, probs: np.ndarray, ignore: int | None = None) -> float:
    probs = np.clip(np.asarray(probs, dtype=np.float64), EPSILON, 1 - EPSILON)
    flat = probs.reshape(-1, probs.shape[-1])
    y = np.asarray(labels).reshape(-1).astype(int)
    keep = y != ignore if ignore is not None else np.ones(len(y), bool)
    if not keep.any():
        return 0.0
    return float(-np.mean(np.log(flat[keep, y[keep]])))


def _binary_cross_entropy(labels: np.ndarray, probs: np.ndarray) -> float:
    p = np.clip(np.asarray(probs, dtype=np.float64), EPSILON, 1 - EPSILON)
    y = np.asarray(labels, dtype=np.float64).reshape(p.shape)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@dataclass(frozen=True)
class Multiclass(Task):
    """One class per sample: softmax over C >= 2 classes; labels are class indices."""

    kind: ClassVar[str] = "multiclass"
    activation: ClassVar[str | None] = "softmax"
    default_loss: ClassVar[str] = "sparse_categorical_crossentropy"
    default_metrics: ClassVar[tuple[str, ...]] = ("accuracy",)
    default_monitor: ClassVar[tuple[str, str]] = ("val_accuracy", "max")

    def output_units(self, n_classes: int) -> int:
        if n_classes < 2:
            raise ConfigError(f"a {self.kind} task needs at least 2 classes, the data has {n_classes}")
        return n_classes

    def class_prior(self, labels, n_classes):
        counts = np.bincount(labels.reshape(-1).astype(int), minlength=n_classes).astype(float)
        return (counts / max(counts.sum(), 1)).tolist()

    def check_labels(self, labels, class_names, split):
        super().check_labels(labels, class_names, split)
        _class_indices(labels, class_names, split, self.kind)

    def numpy_loss(self, labels, scores):
        if self.loss is None:
            return _cross_entropy(labels, scores)
        return super().numpy_loss(labels, scores)

    def numpy_metric(self, name, labels, scores):
        if name in ("accuracy", "sparse_categorical_accuracy"):
            return float(np.mean(np.argmax(scores, axis=-1) == labels.reshape(-1).astype(int)))
        return super().numpy_metric(name, labels, scores)

    def predicted_classes(self, scores, threshold=None):
        return np.argmax(scores, axis=-1)

    def decode(self, scores, class_names, threshold=None):
        score = np.asarray(scores, dtype=float).reshape(-1)
        top = int(score.argmax())
        return {"label": class_names[top], "score": float(score[top]),
                "scores": dict(zip(class_names, score.tolist()))}

    def agreement(self, reference, produced, threshold=None):
        return "top-1", float(np.mean(np.argmax(reference, axis=-1) == np.argmax(produced, axis=-1)))

    def estimated_agreement(self, reference, produced, threshold=None):
        from zoo_export.verify import pairwise_top1_agreement

        return pairwise_top1_agreement(reference, produced)

    def transfer_targets(self, labels, n_classes):
        ids = np.asarray(labels).reshape(-1).astype(int)
        return np.eye(max(int(n_classes), int(ids.max(initial=0)) + 1))[ids], ids


@dataclass(frozen=True)
class Binary(Task):
    """Two classes, one sigmoid output (the positive class, index 1); a decision threshold applies."""

    kind: ClassVar[str] = "binary"
    activation: ClassVar[str | None] = "sigmoid"
    default_loss: ClassVar[str] = "binary_crossentropy"
    default_metrics: ClassVar[tuple[str, ...]] = ("accuracy", "auc", "pr_auc")
    default_monitor: ClassVar[tuple[str, str]] = ("val_auc", "max")

    def output_units(self, n_classes: int) -> int:
        return 1

    def output_bias(self, class_prior):
        """log(p / (1 - p)) of the positive prior: an imbalanced task does not start at 50%."""
        if class_prior is None or len(class_prior) != 2:
            return None
        p = min(max(float(class_prior[1]), 1e-4), 1 - 1e-4)
        return [math.log(p / (1 - p))]

    def class_prior(self, labels, n_classes):
        return Multiclass.class_prior(self, labels, n_classes)

    def check_labels(self, labels, class_names, split):
        Task.check_labels(self, labels, class_names, split)
        _class_indices(labels, class_names, split, self.kind)
        if len(class_names) != 2:
            raise DataError(f"a binary task needs exactly 2 classes; the data has {len(class_names)}: "
                            f"{list(class_names)}")

    def keras_loss(self, recipe=None):
        if recipe is not None and getattr(recipe, "loss", "auto") == "focal":
            import keras

            return keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, gamma=2.0)
        return self.resolved_loss()

    def numpy_loss(self, labels, scores):
        if self.loss is None:
            return _binary_cross_entropy(labels, np.asarray(scores).reshape(-1))
        return super().numpy_loss(labels.reshape(-1, 1), scores)

    def numpy_metric(self, name, labels, scores):
        from zoo import metrics

        y = labels.reshape(-1).astype(int)
        s = np.asarray(scores, dtype=float).reshape(-1)
        if name in ("accuracy", "binary_accuracy"):
            return float(np.mean((s >= 0.5).astype(int) == y))
        if name == "auc":
            return metrics.roc_auc(y, s)
        if name == "pr_auc":
            return metrics.average_precision(y, s)
        return super().numpy_metric(name, labels.reshape(-1, 1), scores)

    def predicted_classes(self, scores, threshold=None):
        return (np.asarray(scores).reshape(-1) >= (0.5 if threshold is None else threshold)).astype(int)

    def decode(self, scores, class_names, threshold=None):
        cut = 0.5 if threshold is None else float(threshold)
        p = float(np.asarray(scores, dtype=float).reshape(-1)[0])
        return {"label": class_names[1] if p >= cut else class_names[0], "score": p, "threshold": cut}

    def agreement(self, reference, produced, threshold=None):
        cut = 0.5 if threshold is None else float(threshold)
        return f"decision@{cut:g}", float(np.mean((reference >= cut) == (produced >= cut)))

    def estimated_agreement(self, reference, produced, threshold=None):
        from zoo_export.verify import pairwise_threshold_agreement

        return pairwise_threshold_agreement(reference, produced, 0.5 if threshold is None else float(threshold))

    def transfer_targets(self, labels, n_classes):
        return Multiclass.transfer_targets(self, labels, 2)


@dataclass(frozen=True)
class Multilabel(Task):
    """Any subset of C labels: one sigmoid per label; labels are (N, C) multi-hot rows."""

    kind: ClassVar[str] = "multilabel"
    activation: ClassVar[str | None] = "sigmoid"
    default_loss: ClassVar[str] = "binary_crossentropy"
    default_metrics: ClassVar[tuple[str, ...]] = ("binary_accuracy", "auc")
    default_monitor: ClassVar[tuple[str, str]] = ("val_auc", "max")
    _multi_label: ClassVar[bool] = True

    def output_units(self, n_classes: int) -> int:
        return n_classes

    def check_labels(self, labels, class_names, split):
        super().check_labels(labels, class_names, split)
        n = len(class_names)
        if labels.ndim != 2 or labels.shape[1] != n:
            raise DataError(f"{split} labels have shape {labels.shape}; a multilabel task needs (N, {n}) "
                            "multi-hot rows")
        if not np.isin(labels, (0, 1)).all():
            raise DataError(f"{split} multilabel labels must be 0 or 1")

    def keras_loss(self, recipe=None):
        return Binary.keras_loss(self, recipe)

    def numpy_loss(self, labels, scores):
        if self.loss is None:
            return _binary_cross_entropy(labels, scores)
        return super().numpy_loss(labels, scores)

    def numpy_metric(self, name, labels, scores):
        from zoo import metrics

        if name in ("binary_accuracy", "accuracy"):
            return float(np.mean((np.asarray(scores) >= 0.5) == (labels >= 0.5)))
        if name in ("auc", "pr_auc"):
            fn = metrics.roc_auc if name == "auc" else metrics.average_precision
            values = [fn(labels[:, j], scores[:, j]) for j in range(labels.shape[1]) if 0 < labels[:, j].sum() < len(labels)]
            return float(np.mean(values)) if values else float("nan")
        return super().numpy_metric(name, labels, scores)

    def decode(self, scores, class_names, threshold=None):
        cut = 0.5 if threshold is None else float(threshold)
        score = np.asarray(scores, dtype=float).reshape(-1)
        return {"labels": [n for n, s in zip(class_names, score) if s >= cut],
                "scores": dict(zip(class_names, score.tolist()))}

    def agreement(self, reference, produced, threshold=None):
        return Binary.agreement(self, reference, produced, threshold)

    def estimated_agreement(self, reference, produced, threshold=None):
        return Binary.estimated_agreement(self, reference, produced, threshold)

    def transfer_targets(self, labels, n_classes):
        return Task.transfer_targets(self, labels, n_classes)


@dataclass(frozen=True)
class Regression(Task):
    """Real-valued targets, linear outputs; compared by value when exported."""

    kind: ClassVar[str] = "regression"
    default_loss: ClassVar[str] = "mean_squared_error"
    default_metrics: ClassVar[tuple[str, ...]] = ("mae",)
    default_monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")
    uses_class_names: ClassVar[bool] = False

    def _pair(self, labels, scores):
        s = np.asarray(scores, dtype=np.float64)
        return np.asarray(labels, dtype=np.float64).reshape(s.shape), s

    def numpy_loss(self, labels, scores):
        if self.loss is None:
            y, s = self._pair(labels, scores)
            return float(np.mean((y - s) ** 2))
        return super().numpy_loss(labels, scores)

    def numpy_metric(self, name, labels, scores):
        if name in ("mae", "mean_absolute_error"):
            y, s = self._pair(labels, scores)
            return float(np.mean(np.abs(y - s)))
        return super().numpy_metric(name, labels, scores)


@dataclass(frozen=True)
class TokenMulticlass(Task):
    """One class per sequence position (e.g. BIO entity tags); label -1 marks positions that do not count."""

    kind: ClassVar[str] = "token-multiclass"
    activation: ClassVar[str | None] = "softmax"
    default_loss: ClassVar[str] = "sparse_categorical_crossentropy"
    default_metrics: ClassVar[tuple[str, ...]] = ()
    default_monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")
    per_position: ClassVar[bool] = True

    def output_units(self, n_classes: int) -> int:
        return Multiclass.output_units(self, n_classes)

    def check_labels(self, labels, class_names, split):
        super().check_labels(labels, class_names, split)
        n = len(class_names)
        if labels.ndim != 2:
            raise DataError(f"{split} labels have shape {labels.shape}; a token task needs (N, sequence_length) tags")
        bad = labels[(labels < -1) | (labels >= n)]
        if bad.size:
            raise DataError(f"{split} tag {int(bad[0])} is outside the {n} tags {list(class_names)}")

    def keras_loss(self, recipe=None):
        import keras

        super().keras_loss(recipe)  # refuses --loss focal
        if self.loss is not None:
            return self.loss
        return keras.losses.SparseCategoricalCrossentropy(ignore_class=-1)

    def numpy_loss(self, labels, scores):
        if self.loss is None:
            return _cross_entropy(labels, scores, ignore=-1)
        return super().numpy_loss(labels, scores)

    def numpy_metric(self, name, labels, scores):
        if name in ("accuracy", "sparse_categorical_accuracy"):
            y = labels.reshape(-1)
            keep = y != -1
            hits = np.argmax(scores, axis=-1).reshape(-1) == y
            return float(np.mean(hits[keep])) if keep.any() else float("nan")
        return super().numpy_metric(name, labels, scores)

    def decode(self, scores, class_names, threshold=None):
        raw = np.asarray(scores, dtype=float)
        return {"tags": [class_names[t] for t in raw.argmax(-1).reshape(-1)]}

    def agreement(self, reference, produced, threshold=None):
        return "top-1", float(np.mean(np.argmax(reference, axis=-1) == np.argmax(produced, axis=-1)))

    def estimated_agreement(self, reference, produced, threshold=None):
        return Multiclass.estimated_agreement(self, reference, produced, threshold)


# --------------------------------------------------------------------------- answer spans

def span_loss(y_true, y_pred):
    """Mean of the start and end cross-entropies (from logits) over positions; `y_true` (B, 2), `y_pred` (B, T, 2)."""
    import keras

    y = keras.ops.cast(keras.ops.reshape(y_true, (-1, 2)), "int32")
    start = keras.losses.sparse_categorical_crossentropy(y[:, 0], y_pred[..., 0], from_logits=True)
    end = keras.losses.sparse_categorical_crossentropy(y[:, 1], y_pred[..., 1], from_logits=True)
    return (start + end) / 2.0


def _argmax_spans(ops, y_true, y_pred):
    y = ops.cast(ops.reshape(y_true, (-1, 2)), "int32")
    start = ops.cast(ops.argmax(y_pred[..., 0], axis=-1), "int32")
    end = ops.cast(ops.argmax(y_pred[..., 1], axis=-1), "int32")
    return y[:, 0], y[:, 1], start, end


def span_exact(y_true, y_pred):
    """1 where the arg-max start and end positions both equal the true ones (per window)."""
    import keras

    ts, te, ps, pe = _argmax_spans(keras.ops, y_true, y_pred)
    return keras.ops.cast(keras.ops.logical_and(ts == ps, te == pe), "float32")


def span_f1(y_true, y_pred):
    """Overlap F1 of the arg-max span with the true span, counted in positions (0 when end < start)."""
    import keras

    ops = keras.ops
    ts, te, ps, pe = _argmax_spans(ops, y_true, y_pred)
    overlap = ops.cast(ops.maximum(ops.minimum(te, pe) - ops.maximum(ts, ps) + 1, 0), "float32")
    predicted = ops.cast(ops.maximum(pe - ps + 1, 0), "float32")
    true = ops.cast(te - ts + 1, "float32")
    return ops.where(overlap > 0, 2.0 * overlap / ops.maximum(predicted + true, 1.0), 0.0)


def best_span(start_logits, end_logits, max_answer_length: int, allowed=None) -> tuple[int, int, float, float]:
    """The best answer span of one window: `(start, end, span score, no-answer score)`.

    The span maximises `start_logits[s] + end_logits[e]` over `s <= e < s + max_answer_length`,
    both in `allowed` (default: every position but 0); the no-answer score is the same sum at
    position 0 (the [CLS] token). `(0, 0, -inf, null)` when no position is allowed.

    Example: `best_span([5, 0, 3, 1], [5, 0, 1, 4], 2)[:2] == (2, 3)`.
    """
    s = np.asarray(start_logits, dtype=np.float64).reshape(-1)
    e = np.asarray(end_logits, dtype=np.float64).reshape(-1)
    n = len(s)
    if allowed is None:
        allowed = np.arange(n) > 0
    allowed = np.asarray(allowed, dtype=bool).reshape(-1)
    null = float(s[0] + e[0]) if n else float("-inf")
    if not allowed.any():
        return 0, 0, float("-inf"), null
    pairs = np.where(allowed, s, -np.inf)[:, None] + np.where(allowed, e, -np.inf)[None, :]
    i, j = np.indices((n, n))
    pairs[(j < i) | (j - i >= max(1, int(max_answer_length)))] = -np.inf
    flat = int(np.argmax(pairs))
    score = float(pairs.reshape(-1)[flat])
    if not math.isfinite(score):
        return 0, 0, float("-inf"), null
    return flat // n, flat % n, score, null


@dataclass(frozen=True)
class AnswerSpan(Task):
    """Extractive question answering: a start and an end logit at every position of a window.

    Labels are `(start, end)` positions of the answer (end inclusive); `(0, 0)`, the [CLS]
    position, means the window holds no answer (SQuAD 2.0 style). A window's answer is the best
    span (`best_span`: end >= start, at most `max_answer_length` positions); it is reported when
    its score beats the no-answer score by at least the decision threshold (tuned on validation by
    the plugin's `analyze`, 0 by default). Logged metrics, per window: `span_exact` (arg-max start
    and end both right) and `span_f1` (position overlap); text-level exact match and F1 belong to
    the plugin, which knows the characters behind the positions.
    """

    max_answer_length: int = 30

    kind: ClassVar[str] = "answer-span"
    activation: ClassVar[str | None] = None  # logits
    default_loss: ClassVar[str] = "span_crossentropy"
    default_metrics: ClassVar[tuple[str, ...]] = ("span_exact", "span_f1")
    default_monitor: ClassVar[tuple[str, str]] = ("val_span_f1", "max")
    per_position: ClassVar[bool] = True
    uses_class_names: ClassVar[bool] = False

    def output_units(self, n_classes: int) -> int:
        return 2

    def check_labels(self, labels, class_names, split):
        super().check_labels(labels, class_names, split)
        if labels.ndim != 2 or labels.shape[1] != 2:
            raise DataError(f"{split} labels have shape {labels.shape}; an answer-span task needs (N, 2) start and "
                            "end positions")
        if (labels < 0).any() or (labels[:, 1] < labels[:, 0]).any():
            row = int(np.flatnonzero((labels < 0).any(axis=1) | (labels[:, 1] < labels[:, 0]))[0])
            raise DataError(f"{split} answer span {labels[row].tolist()} (window {row}) is not start <= end, "
                            "both >= 0")

    def keras_loss(self, recipe=None):
        super().keras_loss(recipe)  # refuses --loss focal
        return span_loss if self.loss in (None, self.default_loss) else self.loss

    def keras_metrics(self):
        known = {"span_exact": span_exact, "span_f1": span_f1}
        return [known.get(name, name) for name in self.resolved_metrics()]

    def numpy_loss(self, labels, scores):
        if self.loss in (None, self.default_loss):
            logits = np.asarray(scores, dtype=np.float64)
            y = np.asarray(labels).reshape(-1, 2).astype(int)
            total = 0.0
            for k in (0, 1):
                z = logits[..., k] - logits[..., k].max(axis=-1, keepdims=True)
                log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
                total += float(-np.mean(log_p[np.arange(len(y)), y[:, k]]))
            return total / 2
        return super().numpy_loss(labels, scores)

    def numpy_metric(self, name, labels, scores):
        if name in ("span_exact", "span_f1"):
            y = np.asarray(labels).reshape(-1, 2).astype(int)
            p = np.asarray(scores)
            ps, pe = p[..., 0].argmax(-1), p[..., 1].argmax(-1)
            if name == "span_exact":
                return float(np.mean((ps == y[:, 0]) & (pe == y[:, 1]))) if len(y) else float("nan")
            overlap = np.maximum(np.minimum(y[:, 1], pe) - np.maximum(y[:, 0], ps) + 1, 0)
            total = np.maximum(pe - ps + 1, 0) + (y[:, 1] - y[:, 0] + 1)
            return float(np.mean(np.where(overlap > 0, 2 * overlap / np.maximum(total, 1), 0.0))) if len(y) else \
                float("nan")
        return super().numpy_metric(name, labels, scores)

    def window_answer(self, scores, threshold: float | None = None, allowed=None) -> tuple[int, int, float]:
        """`(start, end, margin)` of one window's (T, 2) logits; `(0, 0, margin)` when it answers nothing.

        The margin is the best span's score minus the no-answer score; the span is kept when the
        margin is at least `threshold` (default 0).
        """
        logits = np.asarray(scores, dtype=np.float64)
        start, end, score, null = best_span(logits[:, 0], logits[:, 1], self.max_answer_length, allowed)
        margin = score - null
        cut = 0.0 if threshold is None else float(threshold)
        return (start, end, margin) if math.isfinite(margin) and margin >= cut else (0, 0, margin)

    def decode(self, scores, class_names, threshold=None):
        """One window's (T, 2) logits -> `{"start", "end", "margin", "answered"}` in positions.

        A plugin that recombines windows into text passes, from `group_predictions`, a mapping
        with the best candidate (`answer`, `start`, `end`, and its `margin` over no answer); it is
        decided here at the threshold: below it, `answer` becomes "" and `start` / `end` None.
        """
        cut = 0.0 if threshold is None else float(threshold)
        if isinstance(scores, Mapping):
            out = dict(scores)
            margin = out.get("margin")
            out["answered"] = bool(margin is not None and math.isfinite(margin) and margin >= cut)
            if not out["answered"]:
                out.update(answer="", start=None, end=None)
            out["threshold"] = cut
            return out
        start, end, margin = self.window_answer(scores, threshold)
        return {"start": int(start), "end": int(end), "margin": float(margin), "answered": bool(end > 0)}

    def agreement(self, reference, produced, threshold=None):
        same = [self.window_answer(r, threshold)[:2] == self.window_answer(p, threshold)[:2]
                for r, p in zip(np.asarray(reference), np.asarray(produced))]
        return "same span", float(np.mean(same)) if same else float("nan")


# --------------------------------------------------------------------------- object detection

@dataclass(frozen=True)
class Detection(Task):
    """Boxes and classes per image, anchor-free and one-stage (`zoo.detection` holds the Keras side).

    Labels: `(max_boxes, 5)` per image, `[x1, y1, x2, y2, class]` in fractions of the image, rows
    of class -1 pad. The head's input is a vector per pyramid location followed by the location's
    anchor point (centre x, centre y, stride, in fractions of the image); the model's output (what
    `fit` trains with the focal + GIoU `detection_loss`) is per location the decoded box, the
    anchor point and the class logits. Deployments run `serving_model`: the model followed by
    top-K and Fast NMS in the graph, `(max_detections, 6)` rows `[x1, y1, x2, y2, score, class]`.
    Scored by COCO mAP@[.5:.95] (`map`) and mAP@.5 (`map_50`) through pycocotools; an export
    agrees with Keras when it finds Keras' boxes above the decision threshold (0.3 unless the run
    tuned one), same class at IoU >= `agreement_iou`.
    """

    max_detections: int = 100
    iou_threshold: float = 0.5
    score_threshold: float = 0.05
    agreement_iou: float = 0.9

    kind: ClassVar[str] = "detection"
    activation: ClassVar[str | None] = None
    default_loss: ClassVar[str] = "detection_loss"
    default_metrics: ClassVar[tuple[str, ...]] = ()
    default_monitor: ClassVar[tuple[str, str]] = ("val_map", "max")
    per_position: ClassVar[bool] = True
    epoch_metrics: ClassVar[tuple[str, ...]] = ("map", "map_50")
    default_threshold: ClassVar[float] = 0.3
    prior_probability: ClassVar[float] = 0.01  #: initial class probability at every location (RetinaNet)

    def output_units(self, n_classes: int) -> int:
        return 4 + n_classes

    def build_outputs(self, head_inputs, hidden, n_classes, class_prior=None):
        import keras

        from zoo.detection import AnchorPoints, DecodeBoxes

        distances = keras.layers.Dense(4, dtype="float32", name="box")(hidden)
        logits = keras.layers.Dense(n_classes, dtype="float32", name="output", bias_initializer=keras.initializers.
                                    Constant(-math.log((1 - self.prior_probability) / self.prior_probability)))(hidden)
        raw = keras.layers.Concatenate(name="raw", dtype="float32")([distances, logits])
        anchors = AnchorPoints(name="anchors")(head_inputs)
        return DecodeBoxes(name="decoded", dtype="float32")([raw, anchors])

    def serving_model(self, model):
        import keras

        from zoo.detection import Postprocess

        if model.outputs and model.outputs[0].shape[-1] == 6 and "postprocess" in [l.name for l in model.layers]:
            return model
        out = Postprocess(self.max_detections, self.iou_threshold, self.score_threshold,
                          name="postprocess")(model.outputs[0])
        return keras.Model(model.inputs, out, name=f"{model.name}_serving")

    def check_labels(self, labels, class_names, split):
        super().check_labels(labels, class_names, split)
        labels = np.asarray(labels)
        if labels.ndim != 3 or labels.shape[-1] != 5:
            raise DataError(f"{split} labels have shape {labels.shape}; a detection task needs (N, max_boxes, 5) rows "
                            "[x1, y1, x2, y2, class], class -1 padding")
        real = labels[..., 4] >= 0
        boxes = labels[..., :4]
        bad = real & ((boxes < -1e-6).any(-1) | (boxes > 1 + 1e-6).any(-1) | (boxes[..., 2] <= boxes[..., 0])
                      | (boxes[..., 3] <= boxes[..., 1]) | (labels[..., 4] >= max(len(class_names), 1))
                      | (np.mod(labels[..., 4], 1) != 0))
        if bad.any():
            image, row = (int(v) for v in np.argwhere(bad)[0])
            raise DataError(f"{split} image {image}, box {row}: {labels[image, row].tolist()} is not x1 < x2, y1 < y2 "
                            f"in [0, 1] with a class id below {len(class_names)}")

    def keras_loss(self, recipe=None):
        super().keras_loss(recipe)  # refuses --loss focal (the loss is focal already)
        from zoo.detection import detection_loss

        return detection_loss if self.loss in (None, self.default_loss) else self.loss

    def keras_metrics(self):
        return []

    def _final(self, scores):
        from zoo.detection import BOX_CHANNELS, postprocess

        scores = np.asarray(scores)
        if scores.shape[-1] == 6 and scores.shape[-2] <= self.max_detections:
            return scores
        if scores.shape[-1] <= BOX_CHANNELS:
            raise DataError(f"detection outputs of shape {scores.shape} have no class logits")
        return postprocess(scores, max_detections=self.max_detections, iou_threshold=self.iou_threshold,
                           score_threshold=self.score_threshold)

    def score(self, labels, scores):
        """`loss`, `map`, `map_50` and `ap_<class id>` from labels and raw outputs (N, L, 7 + C)."""
        scores = np.asarray(scores)
        result = self._coco(labels, scores)
        out = {"loss": self.numpy_loss(labels, scores), "map": result["map"], "map_50": result["map_50"]}
        out.update({f"ap_{c}": ap for c, ap in enumerate(result["ap_per_class"]) if ap is not None})
        return out

    def epoch_scores(self, labels, scores):
        """`map` and `map_50` alone: the loss is Keras' `val_loss` already (its numpy twin cost a sixth
        of the epoch's scoring on the demo detector)."""
        result = self._coco(labels, np.asarray(scores))
        return {"map": result["map"], "map_50": result["map_50"]}

    def _coco(self, labels, scores):
        from zoo.detection import BOX_CHANNELS, coco_map

        return coco_map(labels, self._final(scores), scores.shape[-1] - BOX_CHANNELS)

    def figures(self, labels, scores, class_names):
        """`pr_per_class.png`: precision-recall per class at IoU 0.5 (pycocotools' interpolation)."""
        from zoo.detection import coco_map
        from zoo.reports import pr_per_class_figure

        curves = coco_map(labels, self._final(scores), len(class_names))["pr_50"]
        return {"pr_per_class.png": pr_per_class_figure(curves, list(class_names),
                                                        "validation precision-recall per class, IoU 0.5")}

    def numpy_loss(self, labels, scores):
        from zoo.detection import detection_loss

        if self.loss in (None, self.default_loss):
            return float(np.mean(np.asarray(detection_loss(np.asarray(labels, "float32"),
                                                           np.asarray(scores, "float32")))))
        return super().numpy_loss(labels, scores)

    def decode(self, scores, class_names, threshold=None):
        """One image's outputs -> `{"boxes": [{"box": [x1, y1, x2, y2], "class", "score"}, ...]}`, best
        first, above the threshold; boxes in fractions of the image."""
        cut = self.default_threshold if threshold is None else float(threshold)
        rows = self._final(np.asarray(scores)[None])[0]
        boxes = [{"box": [round(float(v), 5) for v in r[:4]],
                  "class": class_names[int(r[5])] if int(r[5]) < len(class_names) else str(int(r[5])),
                  "score": float(r[4])} for r in rows if r[4] >= cut]
        return {"boxes": boxes, "threshold": cut}

    def agreement(self, reference, produced, threshold=None):
        from zoo.detection import match_boxes

        cut = self.default_threshold if threshold is None else float(threshold)
        ref, out = self._final(reference), self._final(produced)
        matched = total = empty_agree = 0
        for r, p in zip(ref, out):
            m, t = match_boxes(r, p, cut, self.agreement_iou)
            matched, total = matched + m, total + t
            empty_agree += int(t == 0 and not (p[:, 4] >= cut).any())
        what = f"boxes found at IoU>={self.agreement_iou}"
        if total == 0:  # Keras found nothing anywhere: agreement is finding nothing too
            return what, empty_agree / max(len(ref), 1)
        return what, matched / total

    def comparable(self, reference, produced, threshold=None):
        """Keras' boxes above the decision threshold, each beside the artifact's box that matches it
        (same class, IoU >= `agreement_iou`), then the artifact's unmatched boxes above it: a box
        either side lacks is set against a row of zeros, so it exceeds any tolerance. Rows below
        the threshold, whose order rounding may change, are not compared by value."""
        from zoo.detection import pair_boxes

        cut = self.default_threshold if threshold is None else float(threshold)
        pairs = [pair_boxes(r, p, cut, self.agreement_iou)
                 for r, p in zip(self._final(reference), self._final(produced))]
        ref = [a for a, _ in pairs if len(a)]
        out = [b for _, b in pairs if len(b)]
        if not ref:
            return np.zeros((0, 6), "float32"), np.zeros((0, 6), "float32")
        return np.concatenate(ref), np.concatenate(out)

    def transfer_targets(self, labels, n_classes):
        raise ConfigError("zoo select scores one pooled feature vector per image; a detection task labels boxes, "
                          "which it does not score yet")


BUILTIN_TASKS: Mapping[str, type[Task]] = {
    cls.kind: cls for cls in (Multiclass, Binary, Multilabel, Regression, TokenMulticlass, AnswerSpan, Detection)
}


def task_for_kind(kind: str, **fields: Any) -> Task:
    """The built-in `Task` for `kind` (what `zoo.api.TaskSpec(kind=...)` returns)."""
    try:
        cls = BUILTIN_TASKS[kind]
    except KeyError:
        raise ConfigError(f"unknown task kind {kind!r}; built in: {', '.join(BUILTIN_TASKS)}; a plugin may pass "
                          "its own zoo.tasks.Task subclass instead") from None
    return cls(**fields)
