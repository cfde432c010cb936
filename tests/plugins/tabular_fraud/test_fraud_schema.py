"""Schema inference, value encoding and reading files: real CSV and Parquet files written here."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from fraud_helpers import write_mixed_csv
from zoo.errors import ConfigError, DataError
from zoo_tabular_fraud import schema as sch
from zoo_tabular_fraud.io import read_table


def test_infer_schema_on_a_mixed_csv(tmp_path):
    table = read_table(write_mixed_csv(tmp_path / "mixed.csv"))
    schema = sch.infer_schema(table, label="label", source="mixed.csv")
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "txn_id": "identifier",        # unique text
        "user_key": "identifier",      # name ends in _key
        "amount": "numeric",           # numbers with blanks
        "country": "categorical",      # 4 distinct texts
        "is_online": "boolean",        # true/false words
        "flag01": "boolean",           # only 0 and 1
        "ts": "timestamp",             # ISO-8601 text
        "merchant_code": "numeric",    # integers (override to make it a category, below)
        "constant": "ignore",          # one value everywhere
        "comment": "identifier",       # nearly unique text
    }
    assert "label" not in kinds
    assert schema.time_column == "ts"
    assert [c.name for c in schema.features()] == ["amount", "country", "flag01", "is_online",
                                                    "merchant_code", "ts"]
    assert "constant" in schema.dropped
    sig = schema.signature()
    assert sig["country"].dtype == "int32" and sig["amount"].dtype == "float32" and sig["ts"].shape == ()


def test_overrides_and_id_columns_win(tmp_path):
    table = read_table(write_mixed_csv(tmp_path / "mixed.csv"))
    schema = sch.infer_schema(table, "label", overrides={"merchant_code": "categorical", "flag01": "ignore"},
                              id_columns=["country"])
    kinds = schema.kinds()
    assert kinds["merchant_code"] == "categorical"
    assert "flag01" not in kinds and "country" not in kinds
    with pytest.raises(ConfigError, match="nope"):
        sch.infer_schema(table, "label", overrides={"nope": "numeric"})
    with pytest.raises(ConfigError, match="banana"):
        sch.infer_schema(table, "label", overrides={"amount": "banana"})


def test_encoding_of_each_kind(tmp_path):
    table = read_table(write_mixed_csv(tmp_path / "mixed.csv"))
    schema = sch.infer_schema(table, "label", overrides={"merchant_code": "categorical"})
    arrays, names = sch.encode(table, schema, "mixed.csv")
    assert arrays["amount"].dtype == np.float32 and np.isnan(arrays["amount"][5])
    assert arrays["country"].dtype == np.int32 and arrays["country"][7] == 0          # missing -> 0
    assert set(np.unique(arrays["is_online"])) == {0.0, 1.0}
    first = table.column("ts")[0].as_py().replace(tzinfo=datetime.timezone.utc).timestamp()
    assert abs(float(arrays["ts"][0]) - first) <= 128  # float32 seconds: 128 s resolution in 2024
    assert names["country"][sch.category_code("FR")] == "FR"
    # an integer category and its text give the same code; 0 is reserved for missing
    assert arrays["merchant_code"][0] == sch.category_code(table.column("merchant_code")[0].as_py())
    assert sch.category_code(5411) == sch.category_code("5411") == sch.category_code(5411.0) != 0
    assert sch.category_code(None) == 0 and sch.category_code("") == 0


def test_time_text_and_numbers_parse_to_utc_seconds():
    import pyarrow as pa

    text = pa.array(["2024-01-01T00:00:00", "2024-01-01 01:00:00", None, "2024-01-01T02:00:00Z"])
    seconds = sch.parse_times(text)
    assert seconds[0] == 1704067200 and seconds[1] == 1704070800 and np.isnan(seconds[2])
    assert seconds[3] == 1704074400
    assert sch.parse_times(pa.array([1704067200000, 1704067260000]))[1] == 1704067260  # milliseconds


def test_parquet_reads_like_csv(tmp_path):
    import pyarrow.parquet as pq

    table = read_table(write_mixed_csv(tmp_path / "mixed.csv"))
    pq.write_table(table, tmp_path / "mixed.parquet")
    again = read_table(tmp_path / "mixed.parquet")
    a = sch.infer_schema(table, "label").kinds()
    b = sch.infer_schema(again, "label").kinds()
    assert a == b


# --------------------------------------------------------------------------- bad input

def test_missing_label_column_names_it(tmp_path):
    table = read_table(write_mixed_csv(tmp_path / "mixed.csv"))
    with pytest.raises(DataError, match="has no label column 'is_fraud'.*amount"):
        sch.infer_schema(table, "is_fraud", source="mixed.csv")


def test_label_with_other_than_two_classes(tmp_path):
    three = read_table(write_mixed_csv(tmp_path / "three.csv", label_values=("0", "1")))
    import pyarrow as pa

    labels = pa.array([str(i % 3) for i in range(three.num_rows)])
    three = three.set_column(three.column_names.index("label"), "label", labels)
    with pytest.raises(DataError, match="label column 'label' of three.csv has 3 distinct value"):
        sch.encode_label(three, "label", None, "three.csv")
    one = three.set_column(three.column_names.index("label"), "label", pa.array(["0"] * three.num_rows))
    with pytest.raises(DataError, match="1 distinct value"):
        sch.encode_label(one, "label", None, "one.csv")


def test_label_values_and_positive_label(tmp_path):
    table = read_table(write_mixed_csv(tmp_path / "words.csv", label_values=("ok", "chargeback")))
    with pytest.raises(DataError, match="positive_label"):
        sch.encode_label(table, "label", None, "words.csv")
    y, names, positive = sch.encode_label(table, "label", "chargeback", "words.csv")
    assert names == ["ok", "chargeback"] and positive == "chargeback" and y.sum() == 20
    table = read_table(write_mixed_csv(tmp_path / "yes.csv", label_values=("no", "yes")))
    y, names, _ = sch.encode_label(table, "label", None, "yes.csv")
    assert names == ["no", "yes"] and y[0] == 1


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "is not a table: it is a binary file"),
    (b"just one column\n1\n2\n", "is not a table of transactions: it has 1 column"),
    (b"a,b\n", "has a header but no rows"),
    (b"a,b,c\n1,2,3\n4,5\n", "is not a readable CSV table"),
])
def test_files_that_are_not_tables(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        read_table(path)
    assert "bad.csv" in str(err.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path)
    (tmp_path / "x.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="x.parquet is not a readable Parquet table"):
        read_table(tmp_path / "x.parquet")


def test_bad_values_name_the_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("amount,country,is_fraud\n1.0,US,0\nabc,FR,1\n2.0,US,0\n")
    table = read_table(path)
    schema = sch.infer_schema(table, "is_fraud", overrides={"amount": "numeric"})
    with pytest.raises(DataError, match="numeric column 'amount' of t.csv holds 'abc'"):
        sch.encode(table, schema, "t.csv")


def test_infinite_values_are_refused_with_the_column_and_row(tmp_path):
    """`inf` parses as a number; training on it gives NaN losses, so it is named like any bad value."""
    path = tmp_path / "t.csv"
    path.write_text("amount,country,is_fraud\n1.0,US,0\n2.0,FR,1\ninf,US,0\n-inf,DE,0\n")
    table = read_table(path)
    schema = sch.infer_schema(table, "is_fraud", overrides={"amount": "numeric"})
    with pytest.raises(DataError, match=r"numeric column 'amount' of t.csv holds inf \(row 3\) and 1 more infinite"):
        sch.encode(table, schema, "t.csv")
