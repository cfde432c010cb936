"""The data adapter: CSV/Parquet (or the generated demo) -> splits, fitted preprocessing, metadata.

Plugin options (`-o KEY=VALUE`, or `options:` in a recipe file):

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
| `pretrain_epochs`, `mask_rate` | `20`, `0.15` | `zoo pretrain`: epochs, share of columns corrupted per row |

With `--weights <pretraining run>`, the run's schema and fitted preprocessing are used,
so fine-tuning sees the columns exactly as the encoder was pretrained on them.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from zoo.api import DataAdapter, DataBundle
from zoo.errors import ConfigError, DataError
from zoo_tabular_fraud import schema as sch
from zoo_tabular_fraud.io import read_table

log = logging.getLogger(__name__)

SCHEMA_FILE = "tabular_schema.json"
PREPROCESSING_FILE = "preprocessing.keras"
DEMO_SOURCE = "the demo data"
ENCODING = ("categorical columns are int32 codes: zlib.crc32(text.encode('utf-8')) & 0x7FFFFFFF "
            "(0 -> 1; 0 means missing); numbers, booleans (1/0) and timestamps (seconds since 1970 UTC) "
            "are float32 with NaN for missing")

OPTIONS: dict[str, Any] = {
    "label": "is_fraud",
    "positive_label": None,
    "schema": {},
    "id_columns": [],
    "split": "stratified",
    "time_column": None,
    "class_weight": 1,
    "min_category_count": 5,
    "cost_fn": 50.0,
    "cost_fp": 1.0,
    "target_precision": None,
    "fixed_precision": 0.8,
    "fixed_recall": 0.5,
    "labelled_fraction": 0.1,
    "demo_rows": 40000,
    "demo_seed": 0,
    "pretrain_epochs": 20,
    "mask_rate": 0.15,
}


@dataclass
class FraudOptions:
    """The plugin options, checked (`ConfigError` names the option)."""

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
    pretrain_epochs: int = 20
    mask_rate: float = 0.15

    @classmethod
    def from_recipe(cls, recipe) -> "FraudOptions":
        values = dict(OPTIONS)
        values.update(getattr(recipe, "options", None) or {})
        try:
            opts = cls(
                label=str(values["label"]),
                positive_label=None if values["positive_label"] is None else str(values["positive_label"]),
                schema={str(k): str(v) for k, v in dict(values["schema"] or {}).items()},
                id_columns=[values["id_columns"]] if isinstance(values["id_columns"], str)
                else [str(c) for c in values["id_columns"] or []],
                split=str(values["split"]),
                time_column=None if values["time_column"] is None else str(values["time_column"]),
                class_weight=_int(values["class_weight"], "class_weight"),
                min_category_count=_int(values["min_category_count"], "min_category_count"),
                cost_fn=float(values["cost_fn"]),
                cost_fp=float(values["cost_fp"]),
                target_precision=None if values["target_precision"] is None else float(values["target_precision"]),
                fixed_precision=float(values["fixed_precision"]),
                fixed_recall=float(values["fixed_recall"]),
                labelled_fraction=float(values["labelled_fraction"]),
                demo_rows=_int(values["demo_rows"], "demo_rows"),
                demo_seed=_int(values["demo_seed"], "demo_seed"),
                pretrain_epochs=_int(values["pretrain_epochs"], "pretrain_epochs"),
                mask_rate=float(values["mask_rate"]),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"plugin option has a bad value: {exc}") from None
        opts.check()
        return opts

    def check(self) -> None:
        if self.split not in ("stratified", "time"):
            raise ConfigError(f"option split={self.split!r} must be stratified or time")
        if self.class_weight < 1:
            raise ConfigError(f"option class_weight must be an integer >= 1, got {self.class_weight}")
        if self.min_category_count < 1:
            raise ConfigError("option min_category_count must be >= 1")
        if self.cost_fn <= 0 or self.cost_fp <= 0:
            raise ConfigError("options cost_fn and cost_fp must be > 0")
        for key in ("fixed_precision", "fixed_recall"):
            if not 0 < getattr(self, key) <= 1:
                raise ConfigError(f"option {key} must be in (0, 1]")
        if self.target_precision is not None and not 0 < self.target_precision <= 1:
            raise ConfigError("option target_precision must be in (0, 1]")
        if not 0 < self.labelled_fraction <= 1:
            raise ConfigError(f"option labelled_fraction must be in (0, 1], got {self.labelled_fraction}")
        if self.demo_rows < 1000:
            raise ConfigError("option demo_rows must be at least 1000")
        if self.pretrain_epochs < 1:
            raise ConfigError("option pretrain_epochs must be >= 1")
        if not 0 < self.mask_rate < 1:
            raise ConfigError("option mask_rate must be in (0, 1)")
        for col, kind in self.schema.items():
            if kind not in sch.KINDS:
                raise ConfigError(f"option schema: kind {kind!r} of column {col!r} is not one of "
                                  f"{', '.join(sch.KINDS)}")


def _int(value, name: str) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(f"option {name} must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option {name} must be an integer, got {value!r}") from None


# --------------------------------------------------------------------------- demo

@functools.lru_cache(maxsize=2)
def demo_table(rows: int, seed: int):
    from zoo_tabular_fraud.demo import generate

    return generate(rows, seed)


def demo_parts(rows: int, seed: int, split: str, labelled_fraction: float, val_fraction: float,
               test_fraction: float):
    """(table, {"train", "validation", "test", "unlabelled": row indices}) of the demo.

    Validation and test rows keep their labels; of the training rows only a stratified
    `labelled_fraction` does, the rest is the unlabelled pool for `zoo pretrain`. The pool
    never holds a validation or test row (and with `split=time`, only past rows).
    """
    from zoo_tabular_fraud.splits import labelled_subset, stratified_split, time_split

    table = demo_table(rows, seed)
    y = np.asarray(table.column("is_fraud").to_numpy(), "int32")
    if split == "time":
        # split on the float32 seconds the model sees, so the order holds for its inputs too
        times = sch.parse_times(table.column("timestamp")).astype("float32").astype("float64")
        train, val, test = time_split(times, val_fraction, test_fraction, "timestamp")
    else:
        train, val, test = stratified_split(y, val_fraction, test_fraction, seed)
    labelled, pool = labelled_subset(train, y, labelled_fraction, seed)
    return table, {"train": labelled, "validation": val, "test": test, "unlabelled": pool}


# --------------------------------------------------------------------------- pretraining runs

def pretraining_run(recipe) -> Path | None:
    """The `zoo pretrain` run folder that `recipe.weights` points at (folder or its weights file), or None."""
    weights = getattr(recipe, "weights", None)
    if not weights or weights == "none":
        return None
    path = Path(weights)
    if path.is_file():
        path = path.parent
    return path if (path / SCHEMA_FILE).is_file() else None


def read_run_schema(run: Path) -> sch.Schema:
    return sch.Schema.from_json(json.loads((run / SCHEMA_FILE).read_text()))


def load_preprocessing(path: Path):
    import zoo_tabular_fraud.layers  # noqa: F401  (registers the layers before loading)
    from zoo.loading import load_keras_model

    return load_keras_model(path)


# --------------------------------------------------------------------------- the adapter

class TabularFraudData(DataAdapter):
    """CSV or Parquet transactions (or the generated demo) -> a `DataBundle`.

    Example:

    ```python
    from zoo.training.recipe import Recipe
    recipe = Recipe.resolve(options={"label": "is_fraud", "split": "time"}, option_defaults=OPTIONS)
    bundle = TabularFraudData().load("transactions.parquet", recipe)
    ```
    """

    options = OPTIONS

    def __init__(self):
        self._row_names: list[str] | None = None

    # ----------------------------------------------------------------- labelled data
    def load(self, source: str, options) -> DataBundle:
        opts = FraudOptions.from_recipe(options)
        table = read_table(source)
        return self.bundle_from_table(table, str(source), options, opts)

    def demo(self, options) -> DataBundle:
        opts = FraudOptions.from_recipe(options)
        table, parts = demo_parts(opts.demo_rows, opts.demo_seed, opts.split, opts.labelled_fraction,
                                  options.val_fraction, options.test_fraction)
        extra = {"demo": {"rows": opts.demo_rows, "seed": opts.demo_seed,
                          "labelled_fraction": opts.labelled_fraction,
                          "unlabelled_pool": int(len(parts["unlabelled"]))}}
        return self.bundle_from_table(table, DEMO_SOURCE, options, opts,
                                      splits=(parts["train"], parts["validation"], parts["test"]), extra=extra)

    def bundle_from_table(self, table, source: str, recipe, opts: FraudOptions, splits=None,
                          extra: Mapping | None = None) -> DataBundle:
        """Schema, labels, split, fitted preprocessing and datasets of a labelled table."""
        run = pretraining_run(recipe)
        schema = self.schema_for(table, source, opts, run)
        y, class_names, positive = sch.encode_label(table, opts.label, opts.positive_label, source)
        schema.positive_label = positive
        dropped_rows = 0
        if splits is None and (y < 0).any():
            keep = np.flatnonzero(y >= 0)
            dropped_rows = int(len(y) - len(keep))
            log.warning("%s: %d row(s) have no %r label and are left out", source, dropped_rows, opts.label)
            table, y = table.take(keep), y[keep]
        arrays, texts = sch.encode(table, schema, source)
        if splits is None:
            splits = self.split(arrays, y, schema, recipe, opts, source)
        return self.make_bundle(arrays, texts, y, splits, schema, source, recipe, opts, run, class_names,
                                {**(extra or {}), "rows_without_label": dropped_rows})

    def schema_for(self, table, source: str, opts: FraudOptions, run: Path | None) -> sch.Schema:
        if run is None:
            return sch.infer_schema(table, opts.label, opts.schema, opts.id_columns, opts.time_column, source)
        base = read_run_schema(run)
        if opts.label not in table.column_names:
            raise DataError(f"{source} has no label column {opts.label!r}; its columns are: "
                            f"{', '.join(table.column_names)}. Name the label with -o label=COLUMN")
        missing = [c.name for c in base.features() if c.name not in table.column_names]
        if missing:
            raise DataError(f"{source} lacks column(s) {', '.join(map(repr, missing))} that the pretrained "
                            f"encoder in {run} was trained on")
        features = {c.name for c in base.features()}
        columns = list(base.features()) + [
            sch.Column(c, "ignore", reason="not a feature of the pretraining run")
            for c in table.column_names if c not in features and c != opts.label]
        schema = sch.Schema(columns, opts.label)
        time_col = opts.time_column or base.time_column
        if time_col is not None and time_col in table.column_names:
            schema.time_column = time_col
        return schema

    def split(self, arrays, y, schema: sch.Schema, recipe, opts: FraudOptions, source: str):
        from zoo_tabular_fraud.splits import stratified_split, time_split

        if opts.split == "time":
            column = opts.time_column or schema.time_column
            if column is None:
                stamps = [c.name for c in schema.columns if c.kind == "timestamp"]
                raise DataError(f"split=time needs a time column in {source}: set -o time_column=COLUMN "
                                f"(timestamp columns found: {', '.join(stamps) or 'none'})")
            try:
                col = schema.column(column)
            except KeyError:
                raise DataError(f"{source} has no time column {column!r}") from None
            if col.kind not in sch.FEATURE_KINDS:
                raise DataError(f"time column {column!r} of {source} is {col.kind}; declare it -o "
                                f"schema={{{column}: timestamp}}")
            return time_split(arrays[col.input], recipe.val_fraction, recipe.test_fraction, column)
        return stratified_split(y, recipe.val_fraction, recipe.test_fraction, recipe.seed)

    def make_bundle(self, arrays, texts, y, splits, schema: sch.Schema, source: str, recipe, opts: FraudOptions,
                    run: Path | None, class_names, extra: Mapping) -> DataBundle:
        import tensorflow as tf

        from zoo_tabular_fraud.preprocessing import build_preprocessing, describe, vocabularies

        train, val, test = (np.asarray(s, "int64") for s in splits)
        for name, idx in (("training", train), ("validation", val)):
            if len(idx) == 0:
                raise DataError(f"the {name} split of {source} is empty; provide more rows")
            if y[idx].sum() == 0:
                raise DataError(f"the {name} split of {source} has no {class_names[1]!r} row "
                                f"({len(idx)} rows); provide more fraud examples or change the split")
            if y[idx].sum() == len(idx):
                raise DataError(f"the {name} split of {source} has only {class_names[1]!r} rows")
        if run is not None and (run / PREPROCESSING_FILE).is_file():
            prep = load_preprocessing(run / PREPROCESSING_FILE)
        else:
            prep = build_preprocessing(schema, {k: v[train] for k, v in arrays.items()}, opts.min_category_count)
        fit_idx = train
        if opts.class_weight > 1:
            pos = train[y[train] == 1]
            fit_idx = np.sort(np.concatenate([train] + [pos] * (opts.class_weight - 1)))

        def dataset(idx):
            # labels (1,) per row: the core scores binary outputs (N, 1) against labels of the same rank
            return tf.data.Dataset.from_tensor_slices(({k: v[idx] for k, v in arrays.items()}, y[idx][:, None]))

        vocab = vocabularies(prep)
        metadata = {
            "source": source,
            "schema": schema.to_json(),
            "input_encoding": ENCODING,
            "split": split_report(schema, arrays, y, (train, val, test), opts),
            "class_weight": opts.class_weight,
            "preprocessing": describe(prep),
            "vocabularies": {k: [texts.get(k, {}).get(c, f"code {c}") for c in codes] for k, codes in vocab.items()},
            "pretraining_run": None if run is None else str(run),
            **dict(extra),
        }
        deployment = {
            "input_encoding": ENCODING,
            "columns": [{"input": c.input, "column": c.name, "kind": c.kind} for c in schema.features()],
        }
        return DataBundle(train=dataset(fit_idx), validation=dataset(val), test=dataset(test) if len(test) else None,
                          class_names=list(class_names), input_signature=schema.signature(), preprocessing=prep,
                          metadata=metadata, deployment=deployment)

    # ----------------------------------------------------------------- zoo predict
    def read_inputs(self, paths: Sequence[str], input_signature, deployment: Mapping | None = None) -> dict:
        """Raw model inputs from CSV/Parquet files (the label and extra columns are ignored).

        `deployment` (the run's, handed back by `zoo predict`) names each input's column and
        kind; without it columns are matched by input name and their kind read from the values.
        """
        columns = [sch.Column(c["column"], c["kind"], c["input"]) for c in (deployment or {}).get("columns", [])]
        chunks, names = [], []
        for path in paths:
            table = read_table(path)
            if columns:
                chunks.append(sch.encode(table, sch.Schema(columns), str(path))[0])
            else:
                chunks.append(inputs_from_table(table, input_signature, str(path)))
            ids = _id_column(table)
            stem = Path(path).name
            if ids is not None:
                names += [f"{stem}:{v}" for v in table.column(ids).to_pylist()]
            else:
                names += [f"{stem}:row {i + 1}" for i in range(table.num_rows)]
        self._row_names = names
        return {k: np.concatenate([c[k] for c in chunks]) for k in input_signature}

    def group_predictions(self, paths, inputs, scores) -> list:
        names = self._row_names
        if names is not None and len(names) == len(scores):
            return [(names[i], scores[i]) for i in range(len(scores))]
        return super().group_predictions(paths, inputs, scores)


def inputs_from_table(table, input_signature, source: str) -> dict[str, np.ndarray]:
    """{input name: array} for a model's raw input signature, from a table's columns (by input name)."""
    by_input = {sch.input_name(c): c for c in table.column_names}
    missing = [name for name in input_signature if name not in by_input]
    if missing:
        raise DataError(f"{source} lacks column(s) {', '.join(map(repr, missing))} that the model takes; "
                        f"its columns: {', '.join(table.column_names)}")
    out = {}
    for name, spec in input_signature.items():
        column = by_input[name]
        array = table.column(column)
        dtype = spec.dtype if hasattr(spec, "dtype") else spec[1]
        if str(dtype).startswith("int"):
            out[name] = sch.to_categories(array)[0]
        else:
            out[name] = float_input(array, column, source)
    return out


def float_input(array, column: str, source: str) -> np.ndarray:
    """A float32 model input from numbers, booleans, times or their text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array, typ = sch.decoded(array)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        words = set(pc.unique(pc.utf8_lower(pc.utf8_trim_whitespace(array.drop_null()))).to_pylist()) - {""}
        if words and words <= (sch.TRUE_WORDS | sch.FALSE_WORDS) and not all(_is_number(w) for w in words):
            return sch.to_booleans(array, column, source)
        if words and not all(_is_number(w) for w in words):
            try:
                return sch.parse_times(array).astype("float32")
            except ValueError:
                pass
        return sch.to_numbers(array, column, source)
    if pa.types.is_boolean(typ):
        return sch.to_booleans(array, column, source)
    return sch.to_numbers(array, column, source)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _id_column(table) -> str | None:
    for name in table.column_names:
        if sch.ID_NAME.search(name) and "transaction" in name.lower():
            return name
    for name in table.column_names:
        if sch.ID_NAME.search(name):
            return name
    return None


def split_report(schema: sch.Schema, arrays, y, splits, opts: FraudOptions) -> dict:
    names = ("train", "validation", "test")
    report: dict[str, Any] = {
        "kind": opts.split,
        "rows": {n: int(len(s)) for n, s in zip(names, splits)},
        "fraud": {n: int(y[s].sum()) for n, s in zip(names, splits)},
    }
    column = opts.time_column or schema.time_column
    if column is not None:
        try:
            col = schema.column(column)
        except KeyError:
            col = None
        if col is not None and col.input in arrays:
            t = arrays[col.input].astype("float64")
            report["time_column"] = column
            report["time_range"] = {n: [_iso(np.nanmin(t[s])), _iso(np.nanmax(t[s]))] if len(s) else None
                                    for n, s in zip(names, splits)}
    return report


def _iso(seconds: float) -> str | None:
    import datetime as dt

    if seconds is None or np.isnan(seconds):
        return None
    return dt.datetime.fromtimestamp(float(seconds), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
