"""Column kinds: inferred from a table, overridable, and turned into model inputs.

Kinds: `numeric`, `categorical`, `boolean`, `timestamp`, `identifier` (never a
feature), `ignore`. The label column is set apart. Every feature column becomes
one named model input, so exports take raw columns:

| kind        | model input            | raw value it carries                                    |
| ----------- | ---------------------- | ------------------------------------------------------- |
| numeric     | float32, NaN = missing | the number                                              |
| boolean     | float32, NaN = missing | 1.0 / 0.0 (true/false, yes/no, 1/0)                    |
| timestamp   | float32, NaN = missing | seconds since 1970-01-01 UTC                            |
| categorical | int32, 0 = missing     | `category_code(value)`: CRC-32 of the UTF-8 text, 31 bit |

Categoricals reach the model as integer codes rather than strings because
keras-zoo's exporters and runtimes take numeric tensors only (and Keras'
`StringLookup`/`IntegerLookup` use hash tables that neither TFLite built-ins nor
tf2onnx convert). The code is a stable function of the text, so no vocabulary has
to travel with a deployment: the vocabulary lives in the graph
(`layers.CategoryIndex`), and a value it never saw maps to the out-of-vocabulary
embedding.

Example:

```python
import pyarrow as pa
table = pa.table({"amount": [1.5, 20.0], "country": ["US", "FR"], "is_fraud": [0, 1]})
schema = infer_schema(table, label="is_fraud")
schema.kinds()          # {"amount": "numeric", "country": "categorical"}
category_code("US")     # the int32 code the model input carries for "US"
```
"""

from __future__ import annotations

import logging
import re
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from zoo.errors import ConfigError, DataError

log = logging.getLogger(__name__)

KINDS = ("numeric", "categorical", "boolean", "timestamp", "identifier", "ignore")
FEATURE_KINDS = ("numeric", "categorical", "boolean", "timestamp")
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0"})
POSITIVE_WORDS = ("1", "true", "yes", "y", "fraud", "fraudulent", "positive", "pos", "bad")
ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key)$|_id_|^id_", re.IGNORECASE)
#: a string column with more distinct values than this fraction of its rows is an identifier
ID_UNIQUE_RATIO = 0.5
#: ... or more than this many distinct values
ID_MAX_CATEGORIES = 5000


def category_code(value: Any) -> int:
    """The int32 code a categorical value reaches the model as (0 only for missing).

    `zlib.crc32` of the value's text (integers written without a decimal point),
    keeping 31 bits; a code of 0 becomes 1, because 0 means missing.

    Example: `category_code("US") == category_code(" US ")`; `category_code(5411) == category_code("5411")`.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return 0
    text = _category_text(value)
    if text == "":
        return 0
    code = zlib.crc32(text.encode("utf-8")) & 0x7FFFFFFF
    return code or 1


def _category_text(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def input_name(column: str) -> str:
    """The model input name of a column: letters, digits and underscores, not starting with a digit."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", column.strip())
    if not name or name[0].isdigit():
        name = "c_" + name
    return name


@dataclass
class Column:
    """One column: its name in the file, its kind, its model input name, why it got that kind."""

    name: str
    kind: str
    input: str = ""
    reason: str = ""

    def __post_init__(self):
        if not self.input:
            self.input = input_name(self.name)


@dataclass
class Schema:
    """The columns of a table, the label, and the time column.

    `features()` are the columns that become model inputs, in a fixed order
    (sorted by input name), so two files with the same columns in a different
    order give the same model.
    """

    columns: list[Column]
    label: str | None = None
    time_column: str | None = None
    positive_label: str | None = None
    dropped: dict[str, str] = field(default_factory=dict)

    def features(self) -> list[Column]:
        return sorted((c for c in self.columns if c.kind in FEATURE_KINDS), key=lambda c: c.input)

    def kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.features()}

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_json(self) -> dict:
        return {"columns": [asdict(c) for c in self.columns], "label": self.label,
                "time_column": self.time_column, "positive_label": self.positive_label,
                "dropped": dict(self.dropped)}

    @classmethod
    def from_json(cls, data: Mapping) -> "Schema":
        return cls([Column(**c) for c in data["columns"]], data.get("label"), data.get("time_column"),
                   data.get("positive_label"), dict(data.get("dropped") or {}))

    def signature(self) -> dict:
        """{input name: TensorSpec} of the model inputs."""
        from zoo.api import TensorSpec

        return {c.input: TensorSpec((), "int32" if c.kind == "categorical" else "float32") for c in self.features()}


# --------------------------------------------------------------------------- inference

def infer_schema(table, label: str | None, overrides: Mapping[str, str] | None = None,
                 id_columns: Sequence[str] = (), time_column: str | None = None,
                 source: str = "the data", require_label: bool = True) -> Schema:
    """Infer every column's kind from a `pyarrow.Table`; `overrides` ({column: kind}) win.

    Raises `DataError` for a missing label column (when `require_label`), and
    `ConfigError` for an override naming an unknown column or kind.
    """
    names = list(table.column_names)
    overrides = dict(overrides or {})
    for col, kind in overrides.items():
        if col not in names:
            raise ConfigError(f"option schema names column {col!r}, which {source} does not have; "
                              f"its columns: {', '.join(names)}")
        if kind not in KINDS:
            raise ConfigError(f"option schema: kind {kind!r} of column {col!r} is not one of {', '.join(KINDS)}")
    for col in id_columns:
        if col not in names:
            raise ConfigError(f"option id_columns names column {col!r}, which {source} does not have; "
                              f"its columns: {', '.join(names)}")
    if label is not None and label not in names and require_label:
        raise DataError(f"{source} has no label column {label!r}; its columns are: {', '.join(names)}. "
                        f"Name the label with -o label=COLUMN")
    columns: list[Column] = []
    dropped: dict[str, str] = {}
    n = max(table.num_rows, 1)
    for col in names:
        if col == label:
            continue
        if col in overrides:
            columns.append(Column(col, overrides[col], reason="option schema"))
            continue
        if col in id_columns:
            columns.append(Column(col, "identifier", reason="option id_columns"))
            continue
        array = table.column(col)
        kind, reason = _infer_kind(col, array, n)
        if kind == "ignore":
            dropped[col] = reason
        columns.append(Column(col, kind, reason=reason))
    schema = Schema(columns, label if label in names else None, dropped=dropped)
    inputs: dict[str, str] = {}
    for c in schema.features():
        if c.input in inputs:
            raise DataError(f"columns {inputs[c.input]!r} and {c.name!r} of {source} both become model input "
                            f"{c.input!r}; rename one, or drop one with -o schema={{{c.name}: ignore}}")
        inputs[c.input] = c.name
    schema.time_column = _time_column(schema, time_column, source)
    if not schema.features():
        raise DataError(f"{source} has no feature column (every column is the label, an identifier or "
                        f"constant); kinds: {{{', '.join(f'{c.name}: {c.kind}' for c in columns)}}}")
    return schema


def _time_column(schema: Schema, time_column: str | None, source: str) -> str | None:
    stamps = [c.name for c in schema.columns if c.kind == "timestamp"]
    if time_column is None:
        return stamps[0] if len(stamps) == 1 else None
    try:
        col = schema.column(time_column)
    except KeyError:
        raise DataError(f"{source} has no time column {time_column!r}; its columns: "
                        f"{', '.join(c.name for c in schema.columns)}") from None
    if col.kind not in ("timestamp", "numeric"):
        raise DataError(f"time column {time_column!r} of {source} is {col.kind}, not a timestamp or number")
    return time_column


def _infer_kind(name: str, array, n_rows: int) -> tuple[str, str]:
    import pyarrow as pa
    import pyarrow.compute as pc

    typ = array.type
    valid = array.drop_null()
    if len(valid) == 0:
        return "ignore", "every value is missing"
    n_unique = len(pc.unique(valid))
    if n_unique == 1:
        return "ignore", f"constant ({valid[0].as_py()!r})"
    if pa.types.is_boolean(typ):
        return "boolean", "true/false values"
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        return "timestamp", "date/time values"
    if pa.types.is_integer(typ):
        if ID_NAME.search(name) and n_unique > ID_UNIQUE_RATIO * len(valid):
            return "identifier", "integer id: name looks like an id and values are nearly unique"
        if n_unique == 2 and set(pc.unique(valid).to_pylist()) <= {0, 1}:
            return "boolean", "only 0 and 1"
        return "numeric", "integers"
    if pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return "numeric", "numbers"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_dictionary(typ):
        texts = pc.utf8_lower(pc.utf8_trim_whitespace(valid.cast(pa.string())))
        uniq = set(pc.unique(texts).to_pylist())
        if uniq <= (TRUE_WORDS | FALSE_WORDS) and len(uniq) == 2:
            return "boolean", "two true/false words"
        if _parses_as_time(valid):
            return "timestamp", "text that parses as date/time"
        if ID_NAME.search(name) or n_unique > ID_UNIQUE_RATIO * len(valid) or n_unique > ID_MAX_CATEGORIES:
            return "identifier", f"text with {n_unique} distinct values in {len(valid)} rows"
        return "categorical", f"text with {n_unique} distinct values"
    return "ignore", f"unsupported type {typ}"


def _parses_as_time(valid) -> bool:
    import pyarrow as pa

    sample = valid.slice(0, 200).cast(pa.string())
    try:
        parse_times(sample)
    except (ValueError, DataError):
        return False
    return True


# --------------------------------------------------------------------------- values -> model inputs

def parse_times(array) -> np.ndarray:
    """Seconds since the epoch (UTC, float64, NaN for missing) of a pyarrow array of times.

    Accepts timestamp/date arrays, numbers (seconds; milliseconds when above 1e11)
    and ISO-8601 text ("2024-03-01 12:30:00", "2024-03-01T12:30:00Z", "2024-03-01").
    Raises `ValueError` for text that is not a time.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    array, typ = decoded(array)
    if pa.types.is_date(typ):
        array = array.cast(pa.timestamp("s"))
        typ = array.type
    if pa.types.is_timestamp(typ):
        if typ.tz is not None:
            array = array.cast(pa.timestamp(typ.unit, tz="UTC"))
        seconds = pc.cast(array.cast(pa.timestamp("ms", tz=typ.tz and "UTC")), pa.int64()).to_numpy(
            zero_copy_only=False)
        out = np.asarray(seconds, dtype="float64") / 1000.0
        mask = np.asarray(array.is_null().to_numpy(zero_copy_only=False), bool)
        out[mask] = np.nan
        return out
    if pa.types.is_integer(typ) or pa.types.is_floating(typ):
        out = _to_float(array)
        if np.nanmax(np.abs(out), initial=0) > 1e11:
            out = out / 1000.0
        return out
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        text = pc.utf8_trim_whitespace(array)
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        for typ in (pa.timestamp("ms"), pa.timestamp("ms", tz="UTC")):
            try:
                return parse_times(pc.cast(text, typ))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        return _parse_iso_texts(text.to_pylist())
    if pa.types.is_null(typ):
        return np.full(len(array), np.nan)
    raise ValueError(f"type {typ} is not a time")


def _parse_iso_texts(texts) -> np.ndarray:
    """Mixed ISO-8601 texts (with and without zone offsets) -> UTC seconds; naive times are UTC."""
    import datetime as dt

    out = np.full(len(texts), np.nan)
    for i, text in enumerate(texts):
        if text is None:
            continue
        try:
            stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise ValueError(f"{text!r} (row {i + 1}) is not an ISO-8601 date/time") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.timezone.utc)
        out[i] = stamp.timestamp()
    return out


def decoded(array):
    """`(array, its type)` with a dictionary encoding undone (how pyarrow reads repeated strings)."""
    import pyarrow as pa

    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    return array, array.type


def _to_float(array) -> np.ndarray:
    import pyarrow as pa

    out = array.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype="float64")


def to_booleans(array, column: str, source: str) -> np.ndarray:
    """1.0 / 0.0 / NaN from booleans, 0/1 numbers or true/false words; `DataError` names a bad value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array, typ = decoded(array)
    if pa.types.is_null(typ):
        return np.full(len(array), np.nan, "float32")
    if pa.types.is_boolean(typ) or pa.types.is_integer(typ) or pa.types.is_floating(typ):
        values = _to_float(array.cast(pa.float64()) if pa.types.is_boolean(typ) else array)
        bad = ~np.isnan(values) & ~np.isin(values, (0.0, 1.0))
        if bad.any():
            raise DataError(f"boolean column {column!r} of {source} holds {values[bad][0]!r} "
                            f"(row {int(np.argmax(bad)) + 1}); expected 0/1 or true/false")
        return values.astype("float32")
    texts = pc.utf8_lower(pc.utf8_trim_whitespace(array.cast(pa.string()))).to_pylist()
    out = np.full(len(texts), np.nan, "float32")
    for i, t in enumerate(texts):
        if t is None or t == "":
            continue
        if t in TRUE_WORDS:
            out[i] = 1.0
        elif t in FALSE_WORDS:
            out[i] = 0.0
        else:
            raise DataError(f"boolean column {column!r} of {source} holds {t!r} (row {i + 1}); "
                            "expected true/false, yes/no or 1/0")
    return out


def to_numbers(array, column: str, source: str, predicting: bool = False) -> np.ndarray:
    """float32 with NaN for missing; `DataError` names the first value that is not a finite number.

    `predicting`: the file is read for `zoo predict`, where the run fixed the schema (the hint
    then says to fix the value; `-o` options exist only when training).
    """
    values = _to_numbers(array, column, source, predicting)
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        i = int(infinite[0])
        raise DataError(f"numeric column {column!r} of {source} holds {values[i]} (row {i + 1}) and "
                        f"{infinite.size - 1} more infinite value(s); fix or remove them (a missing value may be "
                        "left empty)")
    return values


def _to_numbers(array, column: str, source: str, predicting: bool) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    array, typ = decoded(array)
    if pa.types.is_null(typ):
        return np.full(len(array), np.nan, "float32")
    if pa.types.is_boolean(typ):
        return _to_float(array).astype("float32")
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        return parse_times(array).astype("float32")
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        text = pc.utf8_trim_whitespace(array)
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        try:
            return _to_float(pc.cast(text, pa.float64())).astype("float32")
        except pa.ArrowInvalid:
            values = text.to_pylist()
            for i, v in enumerate(values):
                if v is None:
                    continue
                try:
                    float(v)
                except ValueError:
                    fix = ("fix the value: the run this model comes from read the column as numbers"
                           if predicting else
                           f"fix it or declare the column: -o schema={{{column}: categorical}}")
                    raise DataError(f"numeric column {column!r} of {source} holds {v!r} (row {i + 1}), "
                                    f"not a number; {fix}") from None
            raise
    return _to_float(array).astype("float32")


def to_categories(array) -> tuple[np.ndarray, dict[int, str]]:
    """(int32 codes, {code: text}) of a column; missing and empty values are code 0."""
    import pyarrow as pa
    import pyarrow.compute as pc

    typ = array.type
    if pa.types.is_floating(typ):
        values = _to_float(array)
        finite = values[~np.isnan(values)]
        if finite.size and np.all(np.equal(np.mod(finite, 1), 0)):
            array = array.cast(pa.int64())
    if not (pa.types.is_dictionary(array.type)):
        array = pc.dictionary_encode(array.cast(pa.string()) if not pa.types.is_string(array.type) else array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], array.type)
        if isinstance(array, pa.ChunkedArray):  # pyarrow < 15
            array = pa.concat_arrays(array.chunks)
    dictionary = array.dictionary.to_pylist()
    codes_of = np.array([category_code(v) for v in dictionary] + [0], dtype="int64")
    indices = array.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
    codes = codes_of[np.asarray(indices, dtype="int64")].astype("int32")
    names = {int(c): _category_text(v) for c, v in zip(codes_of[:-1], dictionary) if c}
    return codes, names


def column_values(table, col: Column, source: str, predicting: bool = False) -> np.ndarray:
    """The model input array of one feature column."""
    array = table.column(col.name)
    if col.kind == "numeric":
        return to_numbers(array, col.name, source, predicting)
    if col.kind == "boolean":
        return to_booleans(array, col.name, source)
    if col.kind == "timestamp":
        try:
            return parse_times(array).astype("float32")
        except ValueError as exc:
            raise DataError(f"timestamp column {col.name!r} of {source} holds values that are not times "
                            f"({exc}); use ISO-8601 text or seconds since 1970") from None
    if col.kind == "categorical":
        return to_categories(array)[0]
    raise ValueError(f"column {col.name!r} of kind {col.kind} is not a feature")


def encode(table, schema: Schema, source: str,
           predicting: bool = False) -> tuple[dict[str, np.ndarray], dict[str, dict[int, str]]]:
    """({input name: array}, {input name: {code: text}}) of the schema's feature columns."""
    missing = [c.name for c in schema.features() if c.name not in table.column_names]
    if missing:
        raise DataError(f"{source} lacks column(s) {', '.join(map(repr, missing))} that the model takes; "
                        f"its columns: {', '.join(table.column_names)}")
    arrays, names = {}, {}
    for col in schema.features():
        if col.kind == "categorical":
            arrays[col.input], names[col.input] = to_categories(table.column(col.name))
        else:
            arrays[col.input] = column_values(table, col, source, predicting)
    return arrays, names


# --------------------------------------------------------------------------- label

def encode_label(table, label: str, positive: str | None, source: str) -> tuple[np.ndarray, list[str], str]:
    """(labels 0/1 as int32 with -1 for missing, class names, positive value as text)."""
    import pyarrow as pa

    array = table.column(label)
    if pa.types.is_floating(array.type):
        values = [None if v is None or v != v else (str(int(v)) if float(v).is_integer() else str(v))
                  for v in array.to_pylist()]
    else:
        values = [None if v is None else str(v).strip() for v in array.to_pylist()]
    values = [None if v == "" else v for v in values]
    classes = sorted({v for v in values if v is not None})
    if len(classes) != 2:
        shown = ", ".join(repr(c) for c in classes[:6]) + (" ..." if len(classes) > 6 else "")
        raise DataError(f"label column {label!r} of {source} has {len(classes)} distinct value(s) ({shown}); "
                        "a fraud label needs exactly two classes")
    if positive is None:
        lowered = [c.lower() for c in classes]
        hits = [c for c, low in zip(classes, lowered) if low in POSITIVE_WORDS]
        if len(hits) != 1:
            raise DataError(f"label column {label!r} of {source} has values {classes[0]!r} and {classes[1]!r}; "
                            f"say which one is fraud with -o positive_label=VALUE")
        positive = hits[0]
    elif str(positive) not in classes:
        raise DataError(f"positive_label {positive!r} is not a value of label column {label!r} in {source} "
                        f"(it has {classes[0]!r} and {classes[1]!r})")
    positive = str(positive)
    negative = classes[0] if classes[1] == positive else classes[1]
    y = np.array([-1 if v is None else int(v == positive) for v in values], dtype="int32")
    numeric = {negative.lower(), positive.lower()} in ({"0", "1"}, {"false", "true"})
    names = ["legit", "fraud"] if numeric else [negative, positive]
    return y, names, positive
