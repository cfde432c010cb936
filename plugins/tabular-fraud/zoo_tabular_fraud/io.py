"""Read a CSV or Parquet file into a `pyarrow.Table`, with a `DataError` naming the file.

Example:

```python
table = read_table("transactions.csv")      # or .parquet / .pq
table.column_names
```
"""

from __future__ import annotations

from pathlib import Path

from zoo.errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
NULL_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "none", "?"]


def read_table(path: str | Path):
    """The file as a table: Parquet by its magic bytes or suffix, CSV otherwise.

    Raises `DataError` when the file is missing, a folder, binary but not Parquet,
    unparsable, has fewer than two columns, or no rows.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path} is a folder; pass a CSV or Parquet file of transactions")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head[:4] == b"PAR1" or path.suffix.lower() in PARQUET_SUFFIXES:
        table = _read_parquet(path)
    else:
        if b"\x00" in head:
            raise DataError(f"{path} is not a table: it is a binary file, neither CSV nor Parquet")
        table = _read_csv(path)
    if table.num_columns < 2:
        raise DataError(f"{path} is not a table of transactions: it has {table.num_columns} column(s) "
                        f"({', '.join(table.column_names) or 'none'}); a CSV needs a header row and "
                        "comma-separated columns")
    if table.num_rows == 0:
        raise DataError(f"{path} has a header but no rows")
    dupes = sorted({c for c in table.column_names if table.column_names.count(c) > 1})
    if dupes:
        raise DataError(f"{path} has duplicate column name(s): {', '.join(dupes)}")
    return table


def _read_parquet(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise DataError(f"{path} is not a readable Parquet table: {_first_line(exc)}") from None


def _read_csv(path: Path):
    import pyarrow as pa
    from pyarrow import csv

    convert = csv.ConvertOptions(null_values=NULL_VALUES, strings_can_be_null=True,
                                 true_values=["true", "True", "TRUE"], false_values=["false", "False", "FALSE"])
    try:
        return csv.read_csv(path, convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV table: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
