"""The plugin contract (version 2): the one file a plugin author must read.

A plugin is a `Plugin` instance exposed through the entry-point group
`keras_zoo.plugins` (or a zero-argument callable returning one). Its module must
import without importing TensorFlow: build models and read data inside
functions, importing `keras` / `tensorflow` there. The full guide, with every
hook's inputs and outputs, is `docs/plugins.md`; `zoo plugins new NAME` writes a
plugin that passes `zoo.testing.check_plugin`.

What a plugin may import from keras-zoo: this module, `zoo.tasks` (task kinds),
`zoo.data` (splits, the cache folder), `zoo.metrics` (binary metrics and curves),
`zoo.runs` (reading a finished run, writing files into it), `zoo.errors` and
`zoo.testing`. Everything else in `zoo` is private and may change.

Example (`my_plugin/__init__.py`, entry point `my-domain = "my_plugin:plugin"`):

```python
from zoo.api import BackboneSpec, DataAdapter, Option, Plugin, TaskSpec

def build_backbone(weights, input_signature, options):
    import keras
    inputs = keras.Input(input_signature["image"].shape, name="image")
    x = keras.layers.Conv2D(options.width, 3, name="stem_conv")(inputs)
    x = keras.layers.Conv2D(2 * options.width, 3, name="top_conv")(x)
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
    options={"width": Option(8, "filters of the first convolution", min=1)},
    contract=2,
)
```
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

from zoo.tasks import BUILTIN_TASKS, Task, task_for_kind

#: The plugin contract this keras-zoo implements. A plugin may declare `Plugin(contract=N)`;
#: contract 1 plugins (builders without options, `DataAdapter.options`) still run, with a warning.
CONTRACT_VERSION = 2
SUPPORTED_CONTRACTS = (1, 2)

TASK_KINDS = tuple(BUILTIN_TASKS)
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
OPTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

__all__ = [
    "CONTRACT_VERSION", "TASK_KINDS", "BackboneSpec", "DataAdapter", "DataBundle", "Option", "Options", "Plugin",
    "Recipe", "ReportSection", "Rows", "Task", "TaskSpec", "TensorSpec", "ZooDeprecationWarning",
]


class ZooDeprecationWarning(FutureWarning):
    """A plugin uses a form of the contract that still works but will go (shown to users, once)."""


def __getattr__(name: str):
    # `Recipe` is part of the contract (hooks receive one); its module imports nothing heavy,
    # but is loaded on first use so that `zoo.api` stays a leaf for the import checks.
    if name == "Recipe":
        from zoo.training.recipe import Recipe

        return Recipe
    raise AttributeError(f"module 'zoo.api' has no attribute {name!r}")


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


def TaskSpec(kind: str = "multiclass", loss: str | None = None, metrics: Sequence[str] | None = None,  # noqa: N802
             monitor: str | None = None, monitor_mode: str | None = None) -> Task:
    """The built-in `zoo.tasks.Task` for `kind`, with optional loss, metrics and monitor.

    `kind` is one of multiclass, binary, multilabel, regression, token-multiclass, answer-span (see
    `zoo.tasks` for labels and outputs of each). For a kind the core does not ship, pass an
    instance of your own `zoo.tasks.Task` subclass as `Plugin.task` instead.

    Example: `TaskSpec(kind="binary", monitor="val_pr_auc")`.
    """
    return task_for_kind(kind, loss=loss, metrics=None if metrics is None else tuple(metrics), monitor=monitor,
                         monitor_mode=monitor_mode)


# --------------------------------------------------------------------------- options

_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", list: "a list",
               dict: "a mapping"}


@dataclass(frozen=True)
class Option:
    """A declared plugin option (`-o KEY=VALUE`, or `options:` in a recipe file).

    - `default`: its value when nobody sets it.
    - `help`: one line for `zoo plugins info`.
    - `type`: int, float, bool, str, list or dict; None takes the default's type (any type
      when the default is None).
    - `choices`: the allowed values; `min` / `max`: an allowed range (numbers).
    - `nullable`: None is allowed (True when the default is None).

    The core converts and checks every value once (YAML `-o` text -> the type; NaN,
    out-of-range and unknown choices refused with one line naming the option and where it
    was set) and hands the same values to `load`, `demo`, the builders and `read_inputs`.

    Example: `Option(128, "image side in pixels", min=32)`, `Option("mean", "pooling", choices=("mean", "cls"))`.
    """

    default: Any = None
    help: str = ""
    type: type | None = None
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    nullable: bool | None = None

    def value_type(self) -> type | None:
        if self.type is not None:
            return self.type
        if self.default is None:
            return None
        for kind in (bool, int, float, str, list, dict):
            if isinstance(self.default, kind):
                return kind
        return type(self.default)

    def convert(self, name: str, value: Any, origin: str = "options") -> Any:
        """`value` converted to this option's type and checked; `ConfigError` naming `name` and `origin`."""
        from zoo.errors import ConfigError

        def bad(why: str) -> ConfigError:
            return ConfigError(f"{origin}: option {name} {why}, got {value!r}")

        if value is None:
            if self.nullable or (self.nullable is None and self.default is None):
                return None
            raise bad("cannot be empty")
        kind = self.value_type()
        if kind is bool:
            if not isinstance(value, bool):
                text = str(value).strip().lower()
                if text in ("true", "yes", "on", "1"):
                    value = True
                elif text in ("false", "no", "off", "0"):
                    value = False
                else:
                    raise bad("must be true or false")
        elif kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise bad("must be an integer")
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise bad("must be an integer") from None
        elif kind is float:
            if isinstance(value, bool):
                raise bad("must be a number")
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise bad("must be a number") from None
            if not math.isfinite(value):
                raise bad("must be a finite number")
        elif kind is str:
            if isinstance(value, (list, dict, tuple)):
                raise bad("must be a string")
            value = str(value)
        elif kind is list:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            elif isinstance(value, tuple):
                value = list(value)
            if not isinstance(value, list):
                raise bad("must be a list (e.g. [a, b] or a,b)")
        elif kind is dict:
            if not isinstance(value, Mapping):
                raise bad("must be a mapping (e.g. {a: 1})")
            value = dict(value)
        if self.choices is not None and value not in self.choices:
            raise bad("must be one of " + ", ".join(str(c) for c in self.choices))
        if self.min is not None or self.max is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise bad("must be a number")
            if self.min is not None and value < self.min:
                raise bad(f"must be >= {self.min:g}")
            if self.max is not None and value > self.max:
                raise bad(f"must be <= {self.max:g}")
        return value

    def describe(self) -> str:
        """E.g. `integer, default 128, >= 32`."""
        kind = self.value_type()
        parts = [(_TYPE_NAMES.get(kind, getattr(kind, "__name__", "any")) if kind else "any value")
                 .replace("an ", "").replace("a ", "")]
        parts.append(f"default {self.default!r}" if not isinstance(self.default, str) else f"default {self.default}")
        if self.choices is not None:
            parts.append("one of " + "|".join(str(c) for c in self.choices))
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        kind = self.value_type()
        return {"default": self.default, "help": self.help, "type": kind.__name__ if kind else None,
                "choices": list(self.choices) if self.choices is not None else None, "min": self.min,
                "max": self.max}


class Options(Mapping):
    """The plugin options of a run, converted and checked: read-only, by key or attribute.

    Example: `options["image_size"]`, `options.image_size`, `dict(options)`.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None):
        object.__setattr__(self, "_values", copy.deepcopy(dict(values or {})))

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            known = ", ".join(sorted(self._values)) or "none"
            raise AttributeError(f"no plugin option {name!r}; declared options: {known}") from None

    def __setattr__(self, name, value):
        raise AttributeError("plugin options are read-only; set them with -o KEY=VALUE or a recipe file")

    def __repr__(self) -> str:
        return f"Options({self._values!r})"

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._values)


# --------------------------------------------------------------------------- backbones, data

@dataclass
class BackboneSpec:
    """A pretrained backbone: how to build it, its stages, its weights sources.

    - `build(weights, input_signature, options) -> keras.Model`: maps *preprocessed*
      inputs (`input_signature`: a dict name -> `TensorSpec`) to features (rank 2, rank 3
      sequences or rank 4 maps, which the core pools; rank 3 stays per position for a
      `per_position` task). `weights` is a key of `weights`, a local path, or None for random
      initialisation. `options` are the plugin's `Options`. Raise
      `zoo.errors.WeightsError` with the fix when weights cannot be obtained (offline, say).
    - `blocks(model) -> [[layer_name, ...], ...]`: ordered stages from input to
      output, covering every layer of the backbone that has weights. Partial
      freezing, gradual unfreezing and layer-wise learning rates act on them.
    - `preprocessing(input_signature, options) -> keras.layers.Layer | None`: turns raw
      inputs (pixels, HU, token ids) into backbone inputs. It is saved and
      exported with the model, so deployments take raw inputs. Must be a
      registered serialisable Keras layer (no `Lambda`).
    - `weights`: named sources -> a one-line description (`imagenet`, a
      keras-hub preset handle, `none`).
    - `source_head(weights) -> (kernel, bias) | None` (optional): the classifier the
      weights were pretrained with, over the pooled features (ImageNet's 1000 classes:
      kernel `(features, classes)`, bias `(classes,)`), or None for a source without one.
      `zoo select` scores with it (LEEP); nothing else uses it.
    - `neck(model) -> [layer_name, ...]` (optional): layers of the built model that are new
      rather than pretrained (a detector's feature pyramid). They train under every strategy,
      as the head does, and stay out of `blocks()`; a backbone with a neck is never
      feature-cached by the linear probe, since what it computes changes as it trains.

    Example: `BackboneSpec(name="mobilenet_v2", build=..., blocks=...,
    weights={"imagenet": "ImageNet-1k, shipped"}, default_weights="imagenet")`.
    """

    name: str
    build: Callable[..., Any]
    blocks: Callable[[Any], list[list[str]]]
    preprocessing: Callable[..., Any] | None = None
    weights: dict[str, str] = field(default_factory=lambda: {"none": "random initialisation"})
    default_weights: str = "none"
    summary: str = ""
    parameters: str = ""
    source_head: Callable[[Any], Any] | None = None
    neck: Callable[[Any], list[str]] | None = None


@dataclass
class DataBundle:
    """What a `DataAdapter` hands the engine.

    `train`, `validation` and `test` are *unbatched* `tf.data.Dataset`s of
    `(inputs, label)` where `inputs` is a dict keyed like `input_signature` (labels per
    task kind: see `zoo.tasks`). `test` may be None.
    `augment`, when given, is a callable (usually a Keras layer) applied to training
    *batches* only: it receives the batched inputs dict (`{name: (B, ...) tensor}`) and
    `training=True`, and returns a dict of the same keys, shapes and dtypes. One with the
    attribute `with_labels = True` is called `augment(inputs, labels, training=True)` and
    returns `(inputs, labels)`: a flip or crop that moves boxes with the image.
    `preprocessing`, when given, is a Keras layer (or model) fitted to the
    training split (adapted `Normalization`, vocabularies) that the engine puts first,
    before the backbone's own preprocessing. A pretraining run saves the one it used, and
    fine-tuning from that run reuses it.
    `metadata` goes into the run's `zoo.json` (e.g. the patients in each split).
    `deployment` is what a deployment needs besides the artifact (a tokenizer's
    vocabulary and settings, a CSV schema): saved in `zoo.json`, copied into every
    export sidecar, and handed back to `DataAdapter.read_inputs(..., deployment=...)` by
    `zoo predict`.
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


@dataclass
class Rows:
    """Raw inputs read for `zoo predict`, each row tied to where it came from.

    - `inputs`: `{name: numpy array}` with N rows each, keyed like the input signature.
    - `sources`: N strings, the file (and line, slice...) each row came from.
    - `context`: optional N per-row values the adapter needs again in
      `group_predictions` (e.g. which word pieces start a word); never read by the core.

    Example: `Rows({"image": x}, sources=["a.png", "b.png"])`.
    """

    inputs: dict[str, Any]
    sources: list[str]
    context: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.sources)

    def check(self) -> None:
        """`PluginError` when the arrays, sources and context disagree on the number of rows."""
        from zoo.errors import PluginError

        counts = {name: len(a) for name, a in self.inputs.items()}
        if any(n != len(self.sources) for n in counts.values()):
            raise PluginError(f"read_inputs returned {len(self.sources)} sources for arrays of {counts} rows; "
                              "give one source per row")
        if self.context is not None and len(self.context) != len(self.sources):
            raise PluginError(f"read_inputs returned {len(self.context)} context values for {len(self.sources)} rows")


class DataAdapter:
    """Reads a domain's data. Subclass and implement `load` and `demo`.

    Every method receives what it needs; an adapter keeps no state between calls.

    - `load(source, recipe, options) -> DataBundle`: `source` is what the user passed
      to `--data` (a folder, a CSV...); `recipe` is the run's `Recipe` (seed, batch size,
      `val_fraction`, `test_fraction`...); `options` its plugin `Options`. Bad input raises
      `zoo.errors.DataError` naming the file, line or column and the fix.
    - `demo(recipe, options) -> DataBundle`: an embedded dataset, so the plugin runs
      with no `--data`. Deterministic for a given seed.
    - `read_inputs(paths, input_signature, options, deployment) -> Rows`: optional;
      lets `zoo predict` read raw files (images, DICOM, CSV) into rows, each tied to its
      file. `deployment` is the run's `DataBundle.deployment` (`{}` when it had none).
    - `group_predictions(rows, scores, options) -> [(name, scores), ...]`: optional; how
      `zoo predict` reports rows (e.g. slices aggregated into one study score). Default:
      one result per row, named by `rows.sources`.
    - `samples(bundle, split, n) -> {name: array}`: raw inputs used to verify and
      calibrate exports; the default takes the first `n` of a split.
    - `list_inputs(paths, options) -> [unit, ...]`: optional; the inputs `zoo predict` reads,
      one chunk at a time, from what the user passed (e.g. a folder expanded into its image
      files), so memory stays flat however many there are. Default: the paths as given.
    - `write_examples(folder, recipe, options) -> [path, ...]`: optional; writes a few
      raw input files as a user would pass them to `zoo predict` (`check_plugin` reads
      them back through `read_inputs` and predicts on them).
    - `write_sites(folder, n, recipe, options) -> [source | (source, description), ...]`:
      optional; writes `n` demo data sets that differ as real sites do (scanners, fraud
      rates), one `load` source each, for `zoo federate --demo-sites N`. Without it the
      sites are shards of the demo's training split.
    """

    #: contract 1 only: plugin option defaults. Contract 2 declares `Plugin.options`.
    options: Mapping[str, Any] = {}

    def load(self, source: str, recipe: Any, options: Options) -> DataBundle:
        raise NotImplementedError

    def demo(self, recipe: Any, options: Options) -> DataBundle:
        raise NotImplementedError

    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, TensorSpec], options: Options,
                    deployment: Mapping[str, Any]) -> Rows:
        from zoo.errors import DataError

        raise DataError(f"this plugin cannot read raw input files such as {paths[0]!r}")

    def group_predictions(self, rows: Rows, scores: Any, options: Options) -> list:
        return [(rows.sources[i], scores[i]) for i in range(len(scores))]

    def samples(self, bundle: DataBundle, split: str, n: int) -> dict:
        import numpy as np

        dataset = getattr(bundle, split)
        rows = [x for x, _ in dataset.take(n).as_numpy_iterator()]
        if not rows:
            from zoo.errors import DataError

            raise DataError(f"the {split} split has no samples to verify or calibrate an export with")
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}

    write_examples: Callable[..., list[str]] | None = None
    write_sites: Callable[..., list] | None = None
    list_inputs: Callable[..., list[str]] | None = None


# --------------------------------------------------------------------------- the run report

@dataclass
class ReportSection:
    """A section a plugin adds to a run's `report.html` (returned by `Plugin.report_sections`).

    - `title`: the section heading.
    - `text`: Markdown (headings, lists, tables, `code`, **bold**) shown as the section body.
    - `html`: an HTML fragment shown after `text`, as given (no scripts, no network links:
      the page must open offline).
    - `images`: figures shown after the text, each a PNG/JPEG file path, PNG/JPEG bytes, or a
      `(caption, path_or_bytes)` pair; they are embedded in the page.

    Example: `ReportSection("Study-level results", "| study | score |\n| --- | --- |\n| a | 0.91 |",
    images=[("per-study ROC", run_dir / "plots" / "study_roc.png")])`.
    """

    title: str
    text: str = ""
    html: str | None = None
    images: list = field(default_factory=list)


# --------------------------------------------------------------------------- the plugin

@dataclass
class Plugin:
    """A domain: backbones, task, data adapter, options and default recipe values.

    - `name`: the CLI name (lowercase, dashes). `domain`, `summary`: shown by `zoo plugins list`.
    - `backbones`: name -> `BackboneSpec`; `default_backbone` one of them.
    - `task`: a `zoo.tasks.Task` (`TaskSpec(kind=...)` for a built-in kind, or an instance
      of your own subclass).
    - `data`: the `DataAdapter`.
    - `options`: name -> `Option`, the plugin's `-o` options (validated by the core).
    - `recipe`: default `Recipe` values for this domain (e.g. `{"epochs": 8}`), applied
      below a `--config` file and command-line options.
    - `custom_objects_module`: the module to import before loading a saved model of this
      plugin (where its registered Keras layers live).
    - `resolve_backbone(name) -> BackboneSpec | None`: optional; backbones not listed in
      `backbones` (e.g. `hub:<preset>`), or None when `name` is not one.
    - `pretrain(source, recipe, options, out_dir) -> dict of metrics`: optional;
      self-supervised pretraining on unlabelled data (`zoo pretrain --plugin P --data X`). It
      must write `out_dir / "backbone.weights.h5"`, loadable by `BackboneSpec.build(weights=<that
      file>)`, and may write `out_dir / "preprocessing.keras"` (its fitted
      `DataBundle.preprocessing`). `zoo finetune --weights <pretrain run>` starts from it.
    - `analyze(run_dir, recipe, options, validation, test) -> dict`: optional; called at the
      end of `zoo finetune` with `(labels, scores)` numpy pairs of the validation and test
      splits (test may be None), for domain metrics the core does not know. Keys of the
      returned dict: `decision_threshold` (applied by `zoo predict`, written into export
      sidecars), `metrics` (`{"validation": {...}, "test": {...}}`, merged into the run's
      metrics and model card), `deployment` (merged into export sidecars), `model_card`
      (a Markdown section); other keys are saved under `analysis` in `zoo.json`.
    - `report_sections(run_dir, meta) -> [ReportSection, ...]`: optional; sections of the
      plugin's own in the run's `report.html` (study-level figures, a cost curve), called each
      time the report is written (end of `zoo finetune`, `zoo evaluate`, `zoo export`) with the
      run folder and its `zoo.json` as a dict. It must not need TensorFlow: read what
      `analyze` saved in the run folder.
    - `preview(inputs, recipe, options, metadata) -> bytes | str | None`: optional; what one
      sample looks like, for the report's worst-scored validation samples: PNG/JPEG bytes (a
      thumbnail, at most a few hundred pixels across; `zoo.data.thumbnail_png` makes one) or a
      short text (a sentence, a row's fields). `inputs` is one sample as the data adapter's
      dataset yields it, in numpy (an array, or a dict of arrays keyed by input name);
      `metadata` is the bundle's `DataBundle.metadata` (e.g. the vocabularies that turn codes
      back into text). Called at the end of `zoo finetune` for those samples only; the results
      are saved under `samples/` in the run folder.
    - `contract`: the contract version the plugin is written to (2 is current; None: detected).
    """

    name: str
    domain: str
    summary: str
    backbones: dict[str, BackboneSpec]
    default_backbone: str
    task: Task
    data: DataAdapter
    recipe: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    custom_objects_module: str | None = None
    pretrain: Callable[..., dict] | None = None
    analyze: Callable[..., dict] | None = None
    options: dict[str, Option] = field(default_factory=dict)
    resolve_backbone: Callable[[str], BackboneSpec | None] | None = None
    contract: int | None = None
    report_sections: Callable[..., list] | None = None
    preview: Callable[..., Any] | None = None

    def __post_init__(self):
        if self.resolve_backbone is None:
            # contract 1: a subclass method named resolve_backbone
            method = getattr(type(self), "resolve_backbone", None)
            if callable(method):
                self.resolve_backbone = method.__get__(self)

    # ------------------------------------------------------------------ lookups
    def backbone(self, name: str | None = None) -> BackboneSpec:
        """The `BackboneSpec` called `name` (default: `default_backbone`); `ConfigError` when unknown."""
        from zoo.errors import ConfigError

        name = name or self.default_backbone
        if name in self.backbones:
            return self.backbones[name]
        if self.resolve_backbone is not None:
            spec = self.resolve_backbone(name)
            if spec is not None:
                return spec
        raise ConfigError(
            f"plugin {self.name!r} has no backbone {name!r}; choose one of: {', '.join(sorted(self.backbones))}"
        )

    def option_specs(self) -> dict[str, Option]:
        """The declared options (contract 1: derived from `DataAdapter.options` defaults)."""
        if self.options:
            return dict(self.options)
        return {key: Option(default) for key, default in dict(getattr(self.data, "options", {}) or {}).items()}

    def resolve_recipe(self, config_path: Any = None, overrides: Mapping[str, Any] | None = None,
                       base: Mapping[str, Any] | None = None, origin: str = "command line",
                       pretraining: bool = False):
        """The `Recipe` from this plugin's defaults (or `base`), a YAML file and `overrides`, options checked.

        `pretraining=True` (what `zoo pretrain` uses) applies `recipe["pretrain"]` defaults too.

        Example: `plugin.resolve_recipe(overrides={"epochs": 2, "options": {"image_size": 64}})`.
        """
        from zoo.training.recipe import Recipe

        defaults = self.recipe if base is None else base
        return Recipe.resolve(defaults, config_path=config_path, overrides=overrides,
                              option_specs=self.option_specs(), overrides_origin=origin,
                              defaults_origin="plugin defaults" if base is None else "the run's recipe",
                              pretraining=pretraining)

    def options_for(self, recipe) -> Options:
        """The `Options` a recipe sets for this plugin (declared defaults filled in)."""
        values = {key: spec.default for key, spec in self.option_specs().items()}
        values.update(getattr(recipe, "options", None) or {})
        return Options(values)

    # ------------------------------------------------------------------ checks
    def validate(self) -> list[str]:
        """Return the contract violations (empty when the plugin is valid)."""
        problems = []
        if self.contract is not None and self.contract not in SUPPORTED_CONTRACTS:
            newest = max(SUPPORTED_CONTRACTS)
            if isinstance(self.contract, int) and self.contract > newest:
                return [f"written for plugin contract {self.contract}; this keras-zoo supports up to {newest}: "
                        "pip install -U keras-zoo"]
            return [f"contract {self.contract!r} is not one of {', '.join(map(str, SUPPORTED_CONTRACTS))}"]
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
        if not isinstance(self.task, Task):
            problems.append(f"task must be a zoo.tasks.Task (TaskSpec(kind=...) or your own subclass), "
                            f"not {type(self.task).__name__}")
        elif not NAME_PATTERN.match(str(self.task.kind)):
            problems.append(f"task kind {self.task.kind!r} must be lowercase words joined by dashes")
        if not isinstance(self.data, DataAdapter):
            problems.append("data must be a DataAdapter")
        if not isinstance(self.recipe, dict):
            problems.append("recipe must be a dict of Recipe defaults")
        for key, spec in (self.options or {}).items():
            if not isinstance(spec, Option):
                problems.append(f"option {key!r} is {type(spec).__name__}, not a zoo.api.Option")
            elif not OPTION_PATTERN.match(key):
                problems.append(f"option name {key!r} must be lowercase words joined by underscores")
        if self.resolve_backbone is not None and not callable(self.resolve_backbone):
            problems.append("resolve_backbone must be callable")
        if self.report_sections is not None and not callable(self.report_sections):
            problems.append("report_sections must be callable: report_sections(run_dir, meta) -> [ReportSection]")
        if self.preview is not None and not callable(self.preview):
            problems.append("preview must be callable: preview(inputs, recipe, options, metadata) -> PNG bytes or text")
        if not problems:
            from zoo import contract

            problems += contract.signature_problems(self)
        return problems

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (what `zoo plugins info` prints)."""
        return {
            "name": self.name,
            "domain": self.domain,
            "summary": self.summary,
            "contract": self.contract,
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
            "task": self.task.to_json(),
            "options": {key: spec.to_json() for key, spec in self.option_specs().items()},
            "recipe": dict(self.recipe),
        }

