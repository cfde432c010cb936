"""The data adapter: CSV/Parquet (or the generated demo) -> splits, fitted preprocessing, metadata.

The plugin options it reads are declared in `zoo_tabular_fraud.options` (`zoo plugins info
tabular-fraud` lists them). With `--weights <pretraining run>`, the run's schema and fitted
preprocessing are used, so fine-tuning sees the columns exactly as the encoder was pretrained
on them.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from zoo.api import DataAdapter, DataBundle, Rows
from zoo.errors import DataError, WeightsError
from zoo_tabular_fraud import schema as sch
from zoo_tabular_fraud.io import read_table
from zoo_tabular_fraud.options import OPTIONS, FraudOptions

log = logging.getLogger(__name__)

SCHEMA_FILE = "tabular_schema.json"
PREPROCESSING_FILE = "preprocessing.keras"
DEMO_SOURCE = "the demo data"
EXAMPLES_FILE = "transactions.csv"
EXAMPLE_ROWS = 20
ENCODING = ("categorical columns are int32 codes: zlib.crc32(text.encode('utf-8')) & 0x7FFFFFFF "
            "(0 -> 1; 0 means missing); numbers, booleans (1/0) and timestamps (seconds since 1970 UTC) "
            "are float32 with NaN for missing")

__all__ = ["TabularFraudData", "FraudOptions", "OPTIONS", "demo_parts", "demo_table", "inputs_from_table"]


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
    from zoo.data import split_indices
    from zoo_tabular_fraud.splits import labelled_subset, time_split

    table = demo_table(rows, seed)
    y = np.asarray(table.column("is_fraud").to_numpy(), "int32")
    if split == "time":
        # split on the float32 seconds the model sees, so the order holds for its inputs too
        times = sch.parse_times(table.column("timestamp")).astype("float32").astype("float64")
        train, val, test = time_split(times, val_fraction, test_fraction, "timestamp")
    else:
        train, val, test = split_indices(y, val_fraction, test_fraction, seed)
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
    """The fitted preprocessing a pretraining run saved, loaded in Keras safe mode."""
    import keras

    import zoo_tabular_fraud.layers  # noqa: F401  (registers the layers before loading)

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, OSError) as exc:
        text = " ".join(str(exc).split())[:300]
        raise WeightsError(f"{path} is not a loadable tabular-fraud preprocessing ({text}); pretrain again "
                           "with zoo pretrain --plugin tabular-fraud") from None


# --------------------------------------------------------------------------- the adapter

#: the fraud rates of the federated demo banks, in turn (bank 1, 2, 3, ...)
SITE_FRAUD_RATES = (0.005, 0.015, 0.04)


class TabularFraudData(DataAdapter):
    """CSV or Parquet transactions (or the generated demo) -> a `DataBundle`.

    Keeps no state: every method receives the recipe and plugin options it needs.

    Example:

    ```python
    from zoo_tabular_fraud import plugin
    recipe = plugin.resolve_recipe(overrides={"options": {"label": "is_fraud", "split": "time"}})
    bundle = plugin.data.load("transactions.parquet", recipe, plugin.options_for(recipe))
    ```
    """

    # ----------------------------------------------------------------- labelled data
    def load(self, source: str, recipe, options: Mapping[str, Any]) -> DataBundle:
        opts = FraudOptions.of(options)
        table = read_table(source)
        return self.bundle_from_table(table, str(source), recipe, opts)

    def demo(self, recipe, options: Mapping[str, Any]) -> DataBundle:
        opts = FraudOptions.of(options)
        table, parts = demo_parts(opts.demo_rows, opts.demo_seed, opts.split, opts.labelled_fraction,
                                  recipe.val_fraction, recipe.test_fraction)
        extra = {"demo": {"rows": opts.demo_rows, "seed": opts.demo_seed,
                          "labelled_fraction": opts.labelled_fraction,
                          "unlabelled_pool": int(len(parts["unlabelled"]))}}
        return self.bundle_from_table(table, DEMO_SOURCE, recipe, opts,
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
        """(train, validation, test) row indices: `zoo.data.split_indices` (stratified) or the time split."""
        from zoo.data import split_indices
        from zoo_tabular_fraud.splits import time_split

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
        return split_indices(y, recipe.val_fraction, recipe.test_fraction, recipe.seed)

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
    def read_inputs(self, paths: Sequence[str], input_signature, options: Mapping[str, Any],
                    deployment: Mapping[str, Any]) -> Rows:
        """Raw model inputs from CSV/Parquet files (the label and extra columns are ignored).

        `deployment` (the run's, handed back by `zoo predict`) names each input's column and
        kind; without it columns are matched by input name and their kind read from the values.
        Each row's source is `FILE:LINE` for a CSV (the header is line 1) and `FILE:row N` for
        Parquet; its context is the transaction's identifier (`transaction_id=T0001`), when the
        file has an identifier column, for `group_predictions` to name the row with.

        Example: `plugin.data.read_inputs(["new.csv"], signature, options, run_meta["deployment"])`.
        """
        columns = [sch.Column(c["column"], c["kind"], c["input"]) for c in (deployment or {}).get("columns", [])]
        chunks, sources, ids = [], [], []
        for path in paths:
            table = read_table(path)
            if columns:
                chunks.append(sch.encode(table, sch.Schema(columns), str(path), predicting=True)[0])
            else:
                chunks.append(inputs_from_table(table, input_signature, str(path)))
            sources += row_sources(path, table.num_rows)
            column = _id_column(table)
            if column is not None:
                ids += [None if v is None else f"{column}={v}" for v in table.column(column).to_pylist()]
            else:
                ids += [None] * table.num_rows
        inputs = {k: np.concatenate([c[k] for c in chunks]) for k in input_signature}
        return Rows(inputs, sources, context=ids if any(v is not None for v in ids) else None)

    def group_predictions(self, rows: Rows, scores, options: Mapping[str, Any]) -> list:
        """One result per transaction, named `FILE:LINE transaction_id=...` (or `FILE:LINE`)."""
        context = rows.context or [None] * len(rows.sources)
        return [(f"{source} {ident}" if ident else source, scores[i])
                for i, (source, ident) in enumerate(zip(rows.sources, context))]

    def write_examples(self, folder, recipe, options: Mapping[str, Any]) -> list[str]:
        """A small CSV of demo transactions without the label column, as `zoo predict` takes it.

        The rows come from the demo's test split (validation when it has none): the first
        frauds and legitimate transactions in time order, with the demo's missing values.

        Example: `plugin.data.write_examples("examples", recipe, plugin.options_for(recipe))`.
        """
        from pyarrow import csv

        opts = FraudOptions.of(options)
        table, parts = demo_parts(opts.demo_rows, opts.demo_seed, opts.split, opts.labelled_fraction,
                                  recipe.val_fraction, recipe.test_fraction)
        held_out = parts["test"] if len(parts["test"]) else parts["validation"]
        y = np.asarray(table.column("is_fraud").to_numpy())[held_out]
        n_fraud = min(EXAMPLE_ROWS // 4, int(y.sum()))
        chosen = np.sort(np.concatenate([held_out[y == 1][:n_fraud], held_out[y == 0][:EXAMPLE_ROWS - n_fraud]]))
        path = Path(folder) / EXAMPLES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        csv.write_csv(table.take(chosen).drop_columns(["is_fraud"]), path)
        return [str(path)]

    def write_sites(self, folder, n, recipe, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        """`n` banks for `zoo federate --demo-sites N`: labelled CSVs of `demo_rows // n` transactions each,
        from the demo's generator with each bank's own customers (seed) and fraud rate (`SITE_FRAUD_RATES`).

        Example: `plugin.data.write_sites("banks", 3, recipe, options)` -> `[("banks/bank1.csv", "..."), ...]`.
        """
        from pyarrow import csv

        from zoo_tabular_fraud.demo import generate

        opts = FraudOptions.of(options)
        rows = max(1000, opts.demo_rows // n)
        out = []
        for i in range(n):
            rate = SITE_FRAUD_RATES[i % len(SITE_FRAUD_RATES)]
            table = generate(rows, seed=opts.demo_seed + 100 + i, fraud_rate=rate)
            path = Path(folder) / f"bank{i + 1}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            csv.write_csv(table, path)
            frauds = int(np.asarray(table.column("is_fraud").to_numpy()).sum())
            out.append((str(path), f"{rows} transactions, fraud rate {frauds / rows:.1%} ({frauds} frauds), "
                                   f"customers of its own (seed {opts.demo_seed + 100 + i})"))
        return out


def row_sources(path, n_rows: int) -> list[str]:
    """`FILE:LINE` of each data row of a CSV (the header is line 1), `FILE:row N` for Parquet.

    Lines are counted as the CSV reader sees records (quoted fields may span lines, empty
    lines are skipped); when that count disagrees with `n_rows`, rows are numbered instead.
    """
    import csv

    name = str(path)
    with open(path, "rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    if not parquet:
        lines: list[int] = []
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.reader(fh)
            end, header = 0, True
            try:
                for record in reader:
                    start, end = end + 1, reader.line_num
                    if not record:
                        continue
                    if header:
                        header = False
                        continue
                    lines.append(start)
            except csv.Error:  # a field longer than the csv module takes: number the rows instead
                lines = []
        if len(lines) == n_rows:
            return [f"{name}:{line}" for line in lines]
    return [f"{name}:row {i + 1}" for i in range(n_rows)]


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
