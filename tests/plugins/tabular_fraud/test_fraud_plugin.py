"""The plugin against the contract: conformance, entry point, backbones and their blocks, the adapter."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fraud_helpers import SMALL, recipe, write_mixed_csv
from zoo.errors import ConfigError, DataError, WeightsError
from zoo_tabular_fraud import plugin


def test_conformance():
    report = __import__("zoo.testing", fromlist=["check_plugin"]).check_plugin(plugin, options={"options": SMALL})
    assert set(report["backbones"]) == {"ft_transformer", "mlp"}
    assert report["backbones"]["ft_transformer"]["blocks"] == 5 and report["backbones"]["mlp"]["blocks"] == 5


def test_registered_through_its_entry_point_without_tensorflow():
    code = ("import sys; from zoo import registry; p = registry.get_plugin('tabular-fraud'); "
            "print(p.name, p.task.monitor, p.pretrain is not None, "
            "[m for m in ('tensorflow', 'keras') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["tabular-fraud", "val_pr_auc", "True", "[]"]


def test_demo_bundle():
    bundle = plugin.data.demo(recipe(**SMALL))
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
    one = plugin.data.demo(recipe(**SMALL))
    three = plugin.data.demo(recipe(**SMALL, class_weight=3))

    def counts(ds):
        y = np.concatenate([b.numpy().reshape(-1) for _, b in ds.batch(4096)])
        return len(y), int(y.sum())

    (n1, f1), (n3, f3) = counts(one.train), counts(three.train)
    assert f3 == 3 * f1 and n3 == n1 + 2 * f1


@pytest.mark.parametrize("name", ["ft_transformer", "mlp"])
def test_backbones_build_from_the_raw_signature_and_cover_their_blocks(name):
    from zoo.api import TensorSpec
    from zoo.strategies.freeze import resolve_blocks

    spec = plugin.backbone(name)
    sig = {"a": TensorSpec((), "float32"), "b": TensorSpec((), "float32"), "c": TensorSpec((), "int32")}
    model = spec.build(None, sig)
    blocks = resolve_blocks(spec, model)
    assert len(blocks) == 5
    out = model({"numeric": np.zeros((3, 2, 4), "float32"), "categorical": np.array([[0], [1], [5]], "int32")})
    assert out.shape[0] == 3 and len(out.shape) == 2
    only_numbers = spec.build(None, {"a": TensorSpec((), "float32")})
    assert set(only_numbers.input) == {"numeric"}


def test_weights_for_other_columns_are_refused(tmp_path):
    from zoo.api import TensorSpec

    spec = plugin.backbone("mlp")
    small = spec.build(None, {"a": TensorSpec((), "float32"), "c": TensorSpec((), "int32")})
    small.save_weights(str(tmp_path / "backbone.weights.h5"))
    reloaded = spec.build(str(tmp_path), {"a": TensorSpec((), "float32"), "c": TensorSpec((), "int32")})
    assert all(np.allclose(a, b) for a, b in zip(small.get_weights(), reloaded.get_weights()))
    with pytest.raises(WeightsError, match="does not fit"):
        spec.build(str(tmp_path / "backbone.weights.h5"),
                   {"a": TensorSpec((), "float32"), "b": TensorSpec((), "float32"), "c": TensorSpec((), "int32")})
    with pytest.raises(WeightsError, match="no weights at"):
        spec.build(str(tmp_path / "missing.h5"), {"a": TensorSpec((), "float32")})


def test_load_a_csv_with_options(tmp_path):
    path = write_mixed_csv(tmp_path / "mixed.csv", rows=600)
    bundle = plugin.data.load(str(path), recipe(label="label", schema={"merchant_code": "categorical"},
                                                min_category_count=1))
    sig = bundle.input_signature
    assert sig["merchant_code"].dtype == "int32" and "txn_id" not in sig and "constant" not in sig
    assert bundle.metadata["split"]["kind"] == "stratified"
    assert sorted(bundle.metadata["vocabularies"]["country"]) == ["DE", "FR", "GB", "US"]


def test_option_errors():
    with pytest.raises(ConfigError, match="split='random'"):
        plugin.data.demo(recipe(split="random"))
    with pytest.raises(ConfigError, match="labelled_fraction"):
        plugin.data.demo(recipe(labelled_fraction=0))
    with pytest.raises(ConfigError, match="unknown plugin option 'lable'"):
        recipe(lable="x")


def test_time_split_without_a_time_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("amount,country,is_fraud\n" + "".join(f"{i},US,{int(i % 10 == 0)}\n" for i in range(200)))
    with pytest.raises(DataError, match="split=time needs a time column in .*t.csv"):
        plugin.data.load(str(path), recipe(split="time"))
