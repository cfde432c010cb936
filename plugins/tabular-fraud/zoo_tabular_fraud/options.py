"""The plugin options (`-o KEY=VALUE`, or `options:` in a recipe file) and their typed view.

| option | default | meaning |
| --- | --- | --- |
| `label` | `is_fraud` | the label column (two classes) |
| `positive_label` | inferred | which label value is fraud (1, true, yes, fraud... are recognised) |
| `schema` | `{}` | kind overrides, `{column: numeric/categorical/boolean/timestamp/identifier/ignore}` |
| `id_columns` | `[]` | identifier columns (never features; also inferred from names and uniqueness) |
| `split` | `stratified` | `stratified` (class ratio kept) or `time` (train past, validate future) |
| `time_column` | inferred | the timestamp the time split orders by (the only timestamp column by default) |
| `class_weight` | `1` | positive training rows are repeated this many times (integer class weight) |
| `min_category_count` | `5` | rarer categories share the "unseen" embedding |
| `cost_fn`, `cost_fp` | `50`, `1` | cost of a missed fraud and of a false alarm, for the decision threshold |
| `target_precision` | none | choose the threshold for this precision instead of the lowest cost |
| `fixed_precision`, `fixed_recall` | `0.8`, `0.5` | levels of the reported recall@precision, precision@recall |
| `labelled_fraction` | `0.1` | demo: share of training rows that keep their label; the rest is the unlabelled pool |
| `demo_rows`, `demo_seed` | `40000`, `0` | demo: size and generator seed (the demo split uses `demo_seed` too) |
| `mask_rate` | `0.15` | `zoo pretrain`: share of columns corrupted per row (its epochs: `zoo pretrain --epochs`, default 20) |

keras-zoo converts and range-checks every value (`OPTIONS`); `FraudOptions.of(options)`
adds what an `Option` cannot say (open intervals such as `cost_fn > 0`, the kinds named
in `schema`) and gives the values as typed attributes.

Example:

```python
from zoo_tabular_fraud import plugin
recipe = plugin.resolve_recipe(overrides={"options": {"split": "time", "cost_fn": 200}})
opts = FraudOptions.of(plugin.options_for(recipe))
opts.split, opts.cost_fn          # ("time", 200.0)
```
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from zoo.api import Option, Options
from zoo.errors import ConfigError
from zoo_tabular_fraud.schema import KINDS

OPTIONS: dict[str, Option] = {
    "label": Option("is_fraud", "the label column (two classes)", type=str),
    "positive_label": Option(None, "the label value that means fraud (default: inferred from 1, true, yes, fraud...)",
                             type=str),
    "schema": Option({}, "column kind overrides {column: " + "|".join(KINDS) + "}", type=dict),
    "id_columns": Option([], "identifier columns, never used as features (also inferred from names)", type=list),
    "split": Option("stratified", "stratified (fraud rate kept in every split) or time (train on the past)",
                    choices=("stratified", "time")),
    "time_column": Option(None, "the column a time split orders by (default: the only timestamp column)",
                          type=str),
    "class_weight": Option(1, "fraud rows of the training split are repeated this many times", type=int, min=1),
    "min_category_count": Option(5, "categories seen fewer times in training share the unseen embedding",
                                 type=int, min=1),
    "cost_fn": Option(50.0, "cost of a missed fraud, for the decision threshold (> 0)", type=float, min=0),
    "cost_fp": Option(1.0, "cost of a false alarm, for the decision threshold (> 0)", type=float, min=0),
    "target_precision": Option(None, "choose the threshold reaching this precision (in (0, 1]) instead of the "
                                     "lowest cost", type=float, min=0, max=1),
    "fixed_precision": Option(0.8, "precision level of the reported recall_at_precision (in (0, 1])", type=float,
                              min=0, max=1),
    "fixed_recall": Option(0.5, "recall level of the reported precision_at_recall (in (0, 1])", type=float,
                           min=0, max=1),
    "labelled_fraction": Option(0.1, "demo: share of the training split that keeps its labels (in (0, 1]); the "
                                     "rest is the unlabelled pretraining pool", type=float, min=0, max=1),
    "demo_rows": Option(40000, "demo: transactions generated", type=int, min=1000),
    "demo_seed": Option(0, "demo: generator and split seed", type=int, min=0),
    "mask_rate": Option(0.15, "zoo pretrain: share of each row's columns swapped with another row's (in (0, 1))",
                        type=float, min=0, max=1),
}

#: options whose lower bound is open (an `Option` checks `>= min` only)
_ABOVE_ZERO = ("cost_fn", "cost_fp", "target_precision", "fixed_precision", "fixed_recall", "labelled_fraction",
               "mask_rate")


@dataclass(frozen=True)
class FraudOptions:
    """The plugin options as typed attributes, checked (`ConfigError` names the option).

    Build it with `FraudOptions.of(options)` from the `zoo.api.Options` a hook receives
    (or any mapping of option values; missing ones take their defaults).
    """

    label: str = "is_fraud"
    positive_label: str | None = None
    schema: dict[str, str] = field(default_factory=dict)
    id_columns: list[str] = field(default_factory=list)
    split: str = "stratified"
    time_column: str | None = None
    class_weight: int = 1
    min_category_count: int = 5
    cost_fn: float = 50.0
    cost_fp: float = 1.0
    target_precision: float | None = None
    fixed_precision: float = 0.8
    fixed_recall: float = 0.5
    labelled_fraction: float = 0.1
    demo_rows: int = 40000
    demo_seed: int = 0
    mask_rate: float = 0.15

    @classmethod
    def of(cls, options: Mapping[str, Any] | None = None) -> "FraudOptions":
        """The typed view of `options` (converted with `OPTIONS`; `ConfigError` for a bad value)."""
        values = {key: spec.default for key, spec in OPTIONS.items()}
        given = dict(options or {})
        unknown = sorted(set(given) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"unknown plugin option {unknown[0]!r}; tabular-fraud options: "
                              f"{', '.join(sorted(OPTIONS))}")
        values.update(given)
        values = {key: OPTIONS[key].convert(key, value) for key, value in values.items()}
        for key in _ABOVE_ZERO:
            if values[key] is not None and values[key] <= 0:
                raise ConfigError(f"option {key} must be > 0, got {values[key]!r}")
        if values["mask_rate"] >= 1:
            raise ConfigError(f"option mask_rate must be < 1, got {values['mask_rate']!r}")
        schema = {str(col): str(kind) for col, kind in values["schema"].items()}
        for col, kind in schema.items():
            if kind not in KINDS:
                raise ConfigError(f"option schema: kind {kind!r} of column {col!r} is not one of "
                                  f"{', '.join(KINDS)}")
        values["schema"] = schema
        values["id_columns"] = [str(c) for c in values["id_columns"]]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_options(self) -> Options:
        """These values as the `zoo.api.Options` hooks and builders take."""
        return Options(self.to_dict())
