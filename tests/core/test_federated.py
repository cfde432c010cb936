"""`zoo federate`: the toy plugin's sites in Flower's simulation engine (Ray), end to end.

Each site is an `.npz` of its own (site b's images darker and shifted, as a second scanner
would give); the coordinator holds its own held-out file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from zoo_cli_helpers import zoo
from zoo_toy import make_arrays

pytest.importorskip("flwr")
pytest.importorskip("ray")


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sites")
    for i, name in enumerate(["a", "b"]):
        x, y = make_arrays(120, i)
        if i:
            x = x * 0.7 + 30
        np.savez(folder / f"{name}.npz", x=x.clip(0, 255), y=y)
    x, y = make_arrays(150, 9)
    np.savez(folder / "hold.npz", x=x, y=y)
    return folder


def federate(toy_target, sites, runs, *extra):
    out = zoo("federate", "--plugin", "toy", "--site", f"a={sites / 'a.npz'}", "--site", f"b={sites / 'b.npz'}",
              "--data", str(sites / "hold.npz"), "--runs-dir", str(runs), *extra, path=toy_target, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run, json.loads((run / "zoo.json").read_text())


def test_fedavg_run_is_an_ordinary_run_that_exports(toy_target, sites, tmp_path):
    run, meta = federate(toy_target, sites, tmp_path / "runs", "--rounds", "3", "--strategy", "full",
                         "--batchnorm", "train")
    fed = meta["federated"]
    assert meta["status"] == "complete" and fed["aggregation"] == "fedavg" and fed["rounds"] == 3
    assert [s["name"] for s in fed["sites"]] == ["a", "b"]
    assert fed["samples_per_site"]["a"]["train"] > 0 and fed["samples_per_site"]["b"]["train"] > 0
    # every round: both sites trained and evaluated; what came back is the travelling weights, twice
    assert [r["round"] for r in fed["rounds_log"]] == [1, 2, 3]
    payload = fed["travelling"]["bytes"]
    for entry in fed["rounds_log"]:
        assert sorted(entry["train"]["sites"]) == ["a", "b"] and entry["train"]["failed"] == 0
        assert 2 * payload <= entry["train"]["bytes_up"] <= 2 * payload + 2 * 256 * fed["travelling"]["weights"]
    # batch norm trains here: its scale, shift and statistics travel with the convolutions and the head
    assert fed["travelling"]["weights"] == 3 + 3 * 4 + 2
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 3 and "val_accuracy" in rows[0]
    assert meta["metrics"]["test"]["accuracy"] > 0.6  # 3 classes: chance is 0.33
    out = zoo("evaluate", str(run), "--data", str(sites / "hold.npz"), path=toy_target)
    assert out.returncode == 0, out.stderr
    out = zoo("export", str(run), "--format", "onnx", path=toy_target, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (run / "exports" / "model.onnx").is_file()


def test_fedbn_keeps_batch_norm_at_each_site(toy_target, sites, tmp_path):
    import keras

    run, meta = federate(toy_target, sites, tmp_path / "runs", "--rounds", "2", "--strategy", "full",
                         "--batchnorm", "train", "--aggregation", "fedbn")
    fed = meta["federated"]
    assert fed["travelling"]["weights"] == 3 + 2  # the convolutions and the head; no batch norm
    local = {}
    for name in ("a", "b"):
        with np.load(run / "sites" / name / "batchnorm.weights.npz") as data:
            local[name] = [data[k] for k in sorted(data.files, key=lambda k: int(k[1:]))]
    assert len(local["a"]) == 3 * 4
    # the two scanners' statistics differ (b's images are darker and shifted) ...
    means_a, means_b = local["a"][2], local["b"][2]  # bn1's moving mean at each site
    assert np.abs(means_a - means_b).max() > 1e-3
    # ... and the coordinator's model never received them: its batch norm is still where it started
    model = keras.saving.load_model(run / "model.keras", compile=False)
    bn1 = model.get_layer("toy_cnn").get_layer("bn1")
    np.testing.assert_array_equal(bn1.moving_mean.numpy(), np.zeros_like(means_a))
    assert np.abs(means_a).max() > 1e-3


def test_fedprox_with_differential_privacy_is_recorded(toy_target, sites, tmp_path):
    run, meta = federate(toy_target, sites, tmp_path / "runs", "--rounds", "2", "--aggregation", "fedprox",
                         "--mu", "0.1", "--dp-noise", "0.5", "--dp-clip", "2.0")
    fed = meta["federated"]
    assert fed["aggregation"] == "fedprox" and fed["mu"] == 0.1
    dp = fed["differential_privacy"]
    assert dp["noise_multiplier"] == 0.5 and dp["clipping_norm"] == 2.0
    # the default strategy is a linear probe: only the head travels
    assert fed["travelling"]["weights"] == 2 and fed["travelling"]["parameters"] == 16 * 3 + 3
    assert "differential privacy" in (run / "MODEL_CARD.md").read_text().lower()


@pytest.mark.parametrize("args, message", [
    (["--site", "a=A"], "at least 2 sites"),
    (["--site", "a=A", "--site", "a=B"], "'a' is given twice"),
    (["--site", "a", "--site", "b=B"], "must look like NAME=DATA"),
    (["--demo-sites", "2", "--site", "a=A"], "not both"),
    (["--demo-sites", "2", "--dp-noise", "1"], "needs both --dp-noise"),
    (["--demo-sites", "2", "--min-sites", "3"], "--min-sites must be between 1 and the 2 sites"),
])
def test_bad_federations_are_refused_before_anything_runs(toy_target, tmp_path, args, message):
    out = zoo("federate", "--plugin", "toy", "--runs-dir", str(tmp_path / "runs"), *args, path=toy_target)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and out.stderr.count("\n") <= 2
    assert not (tmp_path / "runs").exists()


def test_a_site_without_a_class_or_without_data_is_named(toy_target, sites, tmp_path):
    x, y = make_arrays(90, 3)
    keep = y != 2
    np.savez(tmp_path / "c.npz", x=x[keep], y=y[keep])
    out = zoo("federate", "--plugin", "toy", "--site", f"a={sites / 'a.npz'}", "--site", f"c={tmp_path / 'c.npz'}",
              "--runs-dir", str(tmp_path / "runs"), path=toy_target)
    assert out.returncode == 2, out.stderr
    assert "site 'c' has no training samples of class 'blue'" in out.stderr
    out = zoo("federate", "--plugin", "toy", "--site", f"a={sites / 'a.npz'}", "--site",
              f"gone={tmp_path / 'missing.npz'}", "--runs-dir", str(tmp_path / "runs"), path=toy_target)
    assert out.returncode == 2, out.stderr
    assert "site 'gone'" in out.stderr and "missing.npz" in out.stderr
    assert not (tmp_path / "runs").exists()
