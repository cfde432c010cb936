"""The plugin against the contract: conformance, entry point, backbones and their blocks, the adapter."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fraud_helpers import SMALL, demo, load, options_of, recipe, write_mixed_csv
from zoo.api import Options, TensorSpec
from zoo.errors import ConfigError, DataError, WeightsError
from zoo_tabular_fraud import plugin


def test_declares_contract_2_and_validates():
    assert plugin.contract == 2 and plugin.validate() == []
    assert not plugin.data.options                     # options are declared on the plugin, not the adapter
    assert set(plugin.options) >= {"label", "split", "cost_fn", "mask_rate", "demo_rows"}
    assert all(spec.help for spec in plugin.options.values())


def test_conformance():
    from zoo.testing import check_plugin

    report = check_plugin(plugin, recipe={"options": SMALL})
    assert set(report["backbones"]) == {"ft_transformer", "mlp"} and report["preview"] == "text"
    assert report["backbones"]["ft_transformer"]["blocks"] == 5 and report["backbones"]["mlp"]["blocks"] == 5


def test_registered_through_its_entry_point_without_tensorflow():
    code = ("import sys; from zoo import registry; p = registry.get_plugin('tabular-fraud'); "
            "print(p.name, p.task.monitor, p.pretrain is not None, "
            "[m for m in ('tensorflow', 'keras') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["tabular-fraud", "val_pr_auc", "True", "[]"]


def test_demo_bundle():
    bundle = demo(**SMALL)
    sig = bundle.input_signature
    assert "transaction_id" not in sig and "customer_id" not in sig and "is_fraud" not in sig
    assert sig["merchant_category"].dtype == "int32" and sig["amount"].dtype == "float32"
    assert bundle.class_names == ["legit", "fraud"]
    meta = bundle.metadata
    assert meta["split"]["fraud"]["validation"] > 5
    assert "grocery" in meta["vocabularies"]["merchant_category"]
    assert meta["preprocessing"]["amount"]["log1p"] is True        # heavy-tailed amounts
    assert meta["preprocessing"]["timestamp"]["kind"] == "time"
    x, y = next(iter(bundle.train.batch(8)))
    out = bundle.preprocessing(x)
    n_float = sum(1 for s in sig.values() if s.dtype == "float32")
    assert tuple(out["numeric"].shape) == (8, n_float, 4) and tuple(out["categorical"].shape) == (8, len(sig) - n_float)
    assert tuple(y.shape) == (8, 1)


def test_class_weight_repeats_fraud_rows():
    one = demo(**SMALL)
    three = demo(**SMALL, class_weight=3)

    def counts(ds):
        y = np.concatenate([b.numpy().reshape(-1) for _, b in ds.batch(4096)])
        return len(y), int(y.sum())

    (n1, f1), (n3, f3) = counts(one.train), counts(three.train)
    assert f3 == 3 * f1 and n3 == n1 + 2 * f1


@pytest.mark.parametrize("name", ["ft_transformer", "mlp"])
def test_backbones_build_from_the_raw_signature_and_cover_their_blocks(name):
    from zoo.strategies.freeze import resolve_blocks  # the engine's own check of blocks()

    spec = plugin.backbone(name)
    sig = {"a": TensorSpec((), "float32"), "b": TensorSpec((), "float32"), "c": TensorSpec((), "int32")}
    model = spec.build(None, sig, Options())
    blocks = resolve_blocks(spec, model)
    assert len(blocks) == 5
    out = model({"numeric": np.zeros((3, 2, 4), "float32"), "categorical": np.array([[0], [1], [5]], "int32")})
    assert out.shape[0] == 3 and len(out.shape) == 2
    only_numbers = spec.build(None, {"a": TensorSpec((), "float32")}, Options())
    assert set(only_numbers.input) == {"numeric"}


def test_weights_for_other_columns_are_refused(tmp_path):
    spec = plugin.backbone("mlp")
    small = spec.build(None, {"a": TensorSpec((), "float32"), "c": TensorSpec((), "int32")}, Options())
    small.save_weights(str(tmp_path / "backbone.weights.h5"))
    reloaded = spec.build(str(tmp_path), {"a": TensorSpec((), "float32"), "c": TensorSpec((), "int32")}, Options())
    assert all(np.allclose(a, b) for a, b in zip(small.get_weights(), reloaded.get_weights()))
    with pytest.raises(WeightsError, match="does not fit"):
        spec.build(str(tmp_path / "backbone.weights.h5"),
                   {"a": TensorSpec((), "float32"), "b": TensorSpec((), "float32"), "c": TensorSpec((), "int32")},
                   Options())
    with pytest.raises(WeightsError, match="no weights at"):
        spec.build(str(tmp_path / "missing.h5"), {"a": TensorSpec((), "float32")}, Options())


def test_load_a_csv_with_options(tmp_path):
    path = write_mixed_csv(tmp_path / "mixed.csv", rows=600)
    bundle = load(path, label="label", schema={"merchant_code": "categorical"}, min_category_count=1)
    sig = bundle.input_signature
    assert sig["merchant_code"].dtype == "int32" and "txn_id" not in sig and "constant" not in sig
    assert bundle.metadata["split"]["kind"] == "stratified"
    assert sorted(bundle.metadata["vocabularies"]["country"]) == ["DE", "FR", "GB", "US"]


def test_option_errors():
    # converted and range-checked by keras-zoo, from the declared options
    with pytest.raises(ConfigError, match="option split must be one of stratified, time, got 'random'"):
        recipe(split="random")
    with pytest.raises(ConfigError, match="option min_category_count must be >= 1"):
        recipe(min_category_count=0)
    with pytest.raises(ConfigError, match="option class_weight must be an integer"):
        recipe(class_weight=2.5)
    with pytest.raises(ConfigError, match="option mask_rate must be <= 1"):
        recipe(mask_rate=1.5)
    with pytest.raises(ConfigError, match="unknown plugin option 'lable'"):
        recipe(lable="x")
    assert options_of(recipe(cost_fn="200", id_columns="card_hash")).cost_fn == 200.0
    assert options_of(recipe(id_columns="card_hash,device_hash")).id_columns == ["card_hash", "device_hash"]
    # what an Option cannot say, checked by the plugin when the data is read
    for bad, message in (({"labelled_fraction": 0}, "option labelled_fraction must be > 0"),
                         ({"cost_fp": 0}, "option cost_fp must be > 0"),
                         ({"mask_rate": 1.0}, "option mask_rate must be < 1"),
                         ({"schema": {"amount": "money"}}, "kind 'money' of column 'amount' is not one of")):
        r = recipe(**bad)
        with pytest.raises(ConfigError, match=message):
            plugin.data.demo(r, options_of(r))


def test_adapter_keeps_no_state():
    """Two adapters, or one called twice, give the same bundle: nothing is carried between calls."""
    from zoo_tabular_fraud.data import TabularFraudData

    adapter = TabularFraudData()
    before = dict(vars(adapter))
    r = recipe(**SMALL)
    adapter.demo(r, options_of(r))
    assert vars(adapter) == before == {}


def test_time_split_without_a_time_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("amount,country,is_fraud\n" + "".join(f"{i},US,{int(i % 10 == 0)}\n" for i in range(200)))
    with pytest.raises(DataError, match="split=time needs a time column in .*t.csv"):
        load(path, split="time")


def test_write_examples_read_back_through_read_inputs(tmp_path):
    """The example CSV (no label) reads back, with the run's deployment, to the demo's own inputs."""
    import csv
    from pathlib import Path

    from zoo.api import Rows
    from zoo_tabular_fraud import schema as sch
    from zoo_tabular_fraud.data import demo_parts

    r = recipe(**SMALL)
    opts = options_of(r)
    bundle = plugin.data.demo(r, opts)
    paths = plugin.data.write_examples(tmp_path / "examples", r, opts)
    assert len(paths) == 1 and Path(paths[0]).name == "transactions.csv"
    header = next(csv.reader(open(paths[0], newline="")))
    assert "is_fraud" not in header and "transaction_id" in header
    rows = plugin.data.read_inputs(paths, bundle.input_signature, opts, bundle.deployment)
    assert isinstance(rows, Rows)
    rows.check()
    assert len(rows) == 20 and rows.sources == [f"{paths[0]}:{line}" for line in range(2, 22)]
    assert all(c.startswith("transaction_id=T") for c in rows.context)
    for name, spec in bundle.input_signature.items():
        assert rows.inputs[name].dtype == np.dtype(spec.dtype) and rows.inputs[name].shape == (20,)
    # the same values as the demo's encoding of those transactions (timestamps, booleans, codes, NaN)
    table, parts = demo_parts(SMALL["demo_rows"], 0, "stratified", SMALL["labelled_fraction"], 0.15, 0.15)
    index = [int(c.split("=T")[1]) - 1 for c in rows.context]
    assert set(index) <= set(parts["test"].tolist())
    assert int(np.asarray(table.column("is_fraud").to_numpy())[index].sum()) == 5   # a few frauds among them
    expected, _ = sch.encode(table.take(index), sch.Schema.from_json(bundle.metadata["schema"]), "demo")
    for name in bundle.input_signature:
        np.testing.assert_array_equal(rows.inputs[name], expected[name], err_msg=name)
    named = plugin.data.group_predictions(rows, np.arange(20, dtype="float32")[:, None], opts)
    assert [n for n, _ in named] == [f"{s} {c}" for s, c in zip(rows.sources, rows.context)]
    assert [float(v[0]) for _, v in named] == list(range(20))


def test_read_inputs_names_rows_by_line_and_id(tmp_path):
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    sig = {"amount": TensorSpec((), "float32"), "country": TensorSpec((), "int32")}
    deployment = {"columns": [{"input": "amount", "column": "amount", "kind": "numeric"},
                              {"input": "country", "column": "country", "kind": "categorical"}]}
    opts = options_of(recipe())
    path = tmp_path / "new.csv"
    path.write_text("txn_id,amount,country\nA1,1.5,US\n\nA2,,FR\n")          # an empty line is skipped
    rows = plugin.data.read_inputs([str(path)], sig, opts, deployment)
    assert rows.sources == [f"{path}:2", f"{path}:4"] and rows.context == ["txn_id=A1", "txn_id=A2"]
    assert rows.inputs["amount"][0] == 1.5 and np.isnan(rows.inputs["amount"][1])
    pq.write_table(pcsv.read_csv(path), tmp_path / "new.parquet")
    plain = tmp_path / "plain.csv"
    plain.write_text("amount,country\n2.0,DE\n")
    rows = plugin.data.read_inputs([str(tmp_path / "new.parquet"), str(plain)], sig, opts, {})  # by input name
    assert rows.sources == [f"{tmp_path / 'new.parquet'}:row 1", f"{tmp_path / 'new.parquet'}:row 2", f"{plain}:2"]
    assert rows.context == ["txn_id=A1", "txn_id=A2", None]
    named = plugin.data.group_predictions(rows, np.zeros((3, 1)), opts)
    assert [n for n, _ in named] == [f"{tmp_path / 'new.parquet'}:row 1 txn_id=A1",
                                     f"{tmp_path / 'new.parquet'}:row 2 txn_id=A2", f"{plain}:2"]
    short = tmp_path / "short.csv"
    short.write_text("amount,x\n1,2\n")
    with pytest.raises(DataError, match="short.csv lacks column.*'country'"):
        plugin.data.read_inputs([str(short)], sig, opts, deployment)


def test_predict_time_messages_do_not_suggest_training_options(tmp_path):
    """`zoo predict` has no -o: a bad value at predict time says to fix the value, not to set an option."""
    sig = {"amount": TensorSpec((), "float32")}
    deployment = {"columns": [{"input": "amount", "column": "amount", "kind": "numeric"}]}
    path = tmp_path / "new.csv"
    path.write_text("amount,country\n1.5,US\nabc,FR\n")
    with pytest.raises(DataError) as caught:
        plugin.data.read_inputs([str(path)], sig, options_of(recipe()), deployment)
    assert "holds 'abc' (row 2)" in str(caught.value) and "-o " not in str(caught.value)
