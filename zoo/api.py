"""The plugin contract: the one file a plugin author must read.

A plugin is a `Plugin` instance exposed through the entry-point group
`keras_zoo.plugins` (or a zero-argument callable returning one). Its module must
import without importing TensorFlow: build models and read data inside
functions, importing `keras` / `tensorflow` there.

Example (`my_plugin/__init__.py`, entry point `my-domain = "my_plugin:plugin"`):

```python
from zoo.api import BackboneSpec, DataAdapter, Plugin, TaskSpec

def build_backbone(weights, input_signature):
    import keras
    inputs = keras.Input(input_signature["image"].shape, name="image")
    x = keras.layers.Conv2D(8, 3, name="stem_conv")(inputs)
    x = keras.layers.Conv2D(16, 3, name="top_conv")(x)
    return keras.Model(inputs, x, name="tiny_cnn")

plugin = Plugin(
    name="my-domain",
    domain="vision",
    summary="Tiny CNN for my images",
    backbones={"tiny": BackboneSpec(
        name="tiny", build=build_backbone,
        blocks=lambda m: [["stem_conv"], ["top_conv"]],
        weights={"none": "random initialisation"}, default_weights="none")},
    default_backbone="tiny",
    task=TaskSpec(kind="multiclass"),
    data=MyAdapter(),
)
```
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

TASK_KINDS = ("multiclass", "binary", "multilabel", "regression", "token-multiclass")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

# What each task kind trains with and watches, unless the TaskSpec says otherwise.
_DEFAULT_LOSS = {
    "multiclass": "sparse_categorical_crossentropy",
    "binary": "binary_crossentropy",
    "multilabel": "binary_crossentropy",
    "regression": "mean_squared_error",
    "token-multiclass": "sparse_categorical_crossentropy",
}
_DEFAULT_METRICS = {
    "multiclass": ("accuracy",),
    "binary": ("accuracy", "auc", "pr_auc"),
    "multilabel": ("binary_accuracy", "auc"),
    "regression": ("mae",),
    "token-multiclass": (),
}
_DEFAULT_MONITOR = {
    "multiclass": ("val_accuracy", "max"),
    "binary": ("val_auc", "max"),
    "multilabel": ("val_auc", "max"),
    "regression": ("val_loss", "min"),
    "token-multiclass": ("val_loss", "min"),
}


@dataclass(frozen=True)
class TensorSpec:
    """Shape (without the batch axis) and dtype of one model input.

    Example: `TensorSpec((None, None, 1), "float32")` for a CT slice in HU.
    """

    shape: tuple[int | None, ...]
    dtype: str = "float32"

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_json(cls, data: Mapping) -> "TensorSpec":
        return cls(tuple(data["shape"]), data["dtype"])


@dataclass(frozen=True)
class TaskSpec:
    """What the model predicts and how it is scored.

    `kind` is one of multiclass, binary, multilabel, regression,
    token-multiclass (one class per position of a sequence, e.g. named-entity
    tags; label -1 marks positions that do not count, such as padding and
    continuation word pieces). `loss`,
    `metrics` and `monitor` default to what the kind needs: e.g. a binary task
    trains with binary cross-entropy and early stopping watches `val_auc`.
    Metric names are Keras metric identifiers, plus `auc` (ROC-AUC) and
    `pr_auc` (area under the precision-recall curve).

    Example: `TaskSpec(kind="binary", monitor="val_pr_auc")`.
    """

    kind: str = "multiclass"
    loss: str | None = None
    metrics: tuple[str, ...] | None = None
    monitor: str | None = None
    monitor_mode: str | None = None

    def resolved_loss(self) -> str:
        return self.loss or _DEFAULT_LOSS[self.kind]

    def resolved_metrics(self) -> tuple[str, ...]:
        return tuple(self.metrics) if self.metrics is not None else _DEFAULT_METRICS[self.kind]

    def resolved_monitor(self) -> tuple[str, str]:
        monitor, mode = _DEFAULT_MONITOR[self.kind]
        monitor = self.monitor or monitor
        if self.monitor_mode:
            mode = self.monitor_mode
        elif self.monitor:
            mode = "min" if "loss" in monitor or "error" in monitor else "max"
        return monitor, mode


@dataclass
class BackboneSpec:
    """A pretrained backbone: how to build it, its stages, its weights sources.

    - `build(weights, input_signature) -> keras.Model`: maps *preprocessed*
      inputs (a dict name -> `TensorSpec`) to features (rank 2, or rank 4 maps
      that the head pools). `weights` is a key of `weights`, a local path, or
      None for random initialisation. Raise `zoo.errors.WeightsError` with the
      fix when weights cannot be obtained (offline, say).
    - `blocks(model) -> [[layer_name, ...], ...]`: ordered stages from input to
      output, covering every layer of the backbone that has weights. Partial
      freezing, gradual unfreezing and layer-wise learning rates act on them.
    - `preprocessing(input_signature) -> keras.layers.Layer | None`: turns raw
      inputs (pixels, HU, token ids) into backbone inputs. It is saved and
      exported with the model, so deployments take raw inputs. Must be a
      registered serialisable Keras layer (no `Lambda`).
    - `weights`: named sources -> a one-line description (`imagenet`, a
      keras-hub preset handle, `none`).

    Example: `BackboneSpec(name="mobilenet_v2", build=..., blocks=...,
    weights={"imagenet": "ImageNet-1k, shipped"}, default_weights="imagenet")`.
    """

    name: str
    build: Callable[[str | None, Mapping[str, TensorSpec]], Any]
    blocks: Callable[[Any], list[list[str]]]
    preprocessing: Callable[[Mapping[str, TensorSpec]], Any] | None = None
    weights: dict[str, str] = field(default_factory=lambda: {"none": "random initialisation"})
    default_weights: str = "none"
    summary: str = ""
    parameters: str = ""


@dataclass
class DataBundle:
    """What a `DataAdapter` hands the engine.

    `train`, `validation` and `test` are *unbatched* `tf.data.Dataset`s of
    `(inputs, label)` where `inputs` is a dict keyed like `input_signature`.
    `augment`, when given, is a Keras layer applied to training batches only.
    `preprocessing`, when given, is a Keras layer (or model) fitted to the
    training split (adapted `Normalization`, `StringLookup` vocabularies) that the
    engine puts first, before the backbone's own preprocessing. A pretraining run
    saves the one it used, and fine-tuning from that run reuses it, so embeddings
    stay indexed by the same vocabularies.
    `metadata` goes into the run's `zoo.json` (e.g. the patients in each split).
    `deployment` is what a deployment needs besides the artifact (a tokenizer's
    vocabulary and settings, a CSV schema): saved in `zoo.json`, copied into every
    export sidecar, and handed back to `DataAdapter.read_inputs(...,
    deployment=...)` by `zoo predict`.
    """

    train: Any
    validation: Any
    test: Any | None
    class_names: list[str]
    input_signature: dict[str, TensorSpec]
    augment: Any | None = None
    preprocessing: Any | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    deployment: dict[str, Any] = field(default_factory=dict)


class DataAdapter:
    """Reads a domain's data. Subclass and implement `load` and `demo`.

    - `load(source, options) -> DataBundle`: `source` is what the user passed
      to `--data` (a folder, a CSV...). `options` is the recipe
      (`zoo.training.recipe.Recipe`): seed, batch size, `options` dict of
      plugin-specific knobs. Bad input raises `zoo.errors.DataError` naming
      the file, line or column and the fix.
    - `demo(options) -> DataBundle`: an embedded dataset, so the plugin runs
      with no `--data`. Deterministic for a given seed.
    - `read_inputs(paths, input_signature) -> dict of numpy arrays`:
      optional; lets `zoo predict` read raw files (images, DICOM, CSV). When the
      run's DataBundle had a `deployment` dict, it is passed back as the
      keyword argument `deployment`.
    - `group_predictions(paths, inputs, scores) -> [(name, scores), ...]`:
      optional; how `zoo predict` reports rows (e.g. slices aggregated into one
      study score). Default: one row per input row, named after its file.
    - `samples(bundle, split, n) -> dict of numpy arrays`: raw inputs used to
      verify and calibrate exports; the default takes the first `n` of a split.
    """

    #: plugin-specific recipe options and their defaults (validated by the Recipe).
    options: Mapping[str, Any] = {}

    def load(self, source: str, options: Any) -> DataBundle:
        raise NotImplementedError

    def demo(self, options: Any) -> DataBundle:
        raise NotImplementedError

    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, TensorSpec]) -> dict:
        from zoo.errors import DataError

        raise DataError(f"this plugin cannot read raw input files such as {paths[0]!r}")

    def group_predictions(self, paths: Sequence[str], inputs: Mapping[str, Any], scores: Any) -> list:
        n = len(scores)
        if n == len(paths):
            return [(str(p), scores[i]) for i, p in enumerate(paths)]
        return [(f"row {i}", scores[i]) for i in range(n)]

    def samples(self, bundle: "DataBundle", split: str, n: int) -> dict:
        import numpy as np

        dataset = getattr(bundle, split)
        rows = [x for x, _ in dataset.take(n).as_numpy_iterator()]
        if not rows:
            from zoo.errors import DataError

            raise DataError(f"the {split} split has no samples to verify or calibrate an export with")
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


@dataclass
class Plugin:
    """A domain: backbones, task, data adapter and default recipe values.

    `name` is the CLI name (lowercase, dashes). `recipe` holds default
    `Recipe` values for this domain (e.g. `{"epochs": 8, "image_size": 160}`),
    applied below a `--config` file and command-line options.
    `custom_objects_module` names a module to import before loading a saved
    model of this plugin (where its registered Keras layers live).

    `pretrain(source, recipe, out_dir) -> dict of metrics` is optional:
    self-supervised pretraining on unlabelled data (`zoo pretrain --plugin P
    --data X`). It must write `out_dir / "backbone.weights.h5"`, loadable by
    `BackboneSpec.build(weights=<that file>)` for `recipe.backbone`, and may write
    `out_dir / "preprocessing.keras"` (the fitted `DataBundle.preprocessing` it
    trained with). `zoo finetune --weights <pretrain run>` then starts from it.

    `analyze(run_dir, recipe, validation, test) -> dict` is optional: called at
    the end of `zoo finetune` with `(labels, scores)` numpy pairs of the
    validation and test splits (test may be None), for domain metrics and plots
    the core does not know (clinical sensitivity/specificity, cost-optimal
    thresholds, entity F1). Keys of the returned dict: `decision_threshold`
    (applied by `zoo predict` and written into export sidecars), `metrics`
    (`{"validation": {...}, "test": {...}}`, merged into the run's metrics and
    model card), `deployment` (merged into export sidecars); other keys are saved
    under `analysis` in `zoo.json`. Files it writes into `run_dir` stay there.
    """

    name: str
    domain: str
    summary: str
    backbones: dict[str, BackboneSpec]
    default_backbone: str
    task: TaskSpec
    data: DataAdapter
    recipe: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    custom_objects_module: str | None = None
    pretrain: Callable[[str, Any, Any], dict] | None = None
    analyze: Callable[..., dict] | None = None

    def backbone(self, name: str | None = None) -> BackboneSpec:
        from zoo.errors import ConfigError

        name = name or self.default_backbone
        if name in self.backbones:
            return self.backbones[name]
        resolver = getattr(self, "resolve_backbone", None)
        if resolver is not None:
            spec = resolver(name)
            if spec is not None:
                return spec
        raise ConfigError(
            f"plugin {self.name!r} has no backbone {name!r}; choose one of: {', '.join(sorted(self.backbones))}"
        )

    def validate(self) -> list[str]:
        """Return the contract violations (empty when the plugin is valid)."""
        problems = []
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            problems.append(f"name {self.name!r} must be lowercase words joined by dashes")
        if not self.domain or not isinstance(self.domain, str):
            problems.append("domain must be a non-empty string")
        if not self.backbones:
            problems.append("backbones must name at least one BackboneSpec")
        for key, spec in (self.backbones or {}).items():
            if not isinstance(spec, BackboneSpec):
                problems.append(f"backbone {key!r} is {type(spec).__name__}, not a BackboneSpec")
            elif not callable(spec.build) or not callable(spec.blocks):
                problems.append(f"backbone {key!r} needs callable build and blocks")
            elif spec.default_weights not in spec.weights:
                problems.append(f"backbone {key!r}: default_weights {spec.default_weights!r} not in weights")
        if self.backbones and self.default_backbone not in self.backbones:
            problems.append(f"default_backbone {self.default_backbone!r} is not among the backbones")
        if not isinstance(self.task, TaskSpec):
            problems.append("task must be a TaskSpec")
        elif self.task.kind not in TASK_KINDS:
            problems.append(f"task kind {self.task.kind!r} must be one of {', '.join(TASK_KINDS)}")
        if not isinstance(self.data, DataAdapter):
            problems.append("data must be a DataAdapter")
        if not isinstance(self.recipe, dict):
            problems.append("recipe must be a dict of Recipe defaults")
        return problems

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (what `zoo plugins info` prints)."""
        return {
            "name": self.name,
            "domain": self.domain,
            "summary": self.summary,
            "default_backbone": self.default_backbone,
            "backbones": {
                key: {
                    "summary": spec.summary,
                    "parameters": spec.parameters,
                    "weights": dict(spec.weights),
                    "default_weights": spec.default_weights,
                }
                for key, spec in self.backbones.items()
            },
            "task": {k: v for k, v in dataclasses.asdict(self.task).items()},
            "data_options": dict(self.data.options),
            "recipe": dict(self.recipe),
        }
