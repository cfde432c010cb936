"""The contract: options, entry points, lazy imports, load_artifact, verify."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from export_testing_models import keras_predict
from zoo_export import onnx as onnx_format
from zoo_export import savedmodel, tflite
from zoo_export.api import Exporter, ExportOptions
from zoo_export.errors import ExportError
from zoo_export.runtime import load_artifact, runner_from_keras
from zoo_export.verify import Tolerance, tolerance_for, verify


def test_importing_the_package_and_its_exporters_does_not_import_tensorflow():
    code = (
        "import sys, importlib.metadata as md\n"
        "import zoo_export, zoo_export.api, zoo_export.export, zoo_export.runtime, zoo_export.verify\n"
        "import zoo_export._keras, zoo_export.errors\n"
        "eps = {ep.name: ep.load() for ep in md.entry_points(group='keras_zoo.exporters')}\n"
        "from zoo_export.api import Exporter\n"
        "assert {'savedmodel', 'tflite', 'onnx'} <= set(eps), eps\n"
        "assert all(isinstance(e, Exporter) for e in eps.values())\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'onnx', 'tf2onnx', 'onnxruntime', "
        "'ai_edge_litert') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_exporter_attributes():
    assert (savedmodel.exporter.name, savedmodel.exporter.suffix) == ("savedmodel", "")
    assert (tflite.exporter.name, tflite.exporter.suffix) == ("tflite", ".tflite")
    assert (onnx_format.exporter.name, onnx_format.exporter.suffix) == ("onnx", ".onnx")
    assert tflite.exporter.quantize_modes == ("none", "float16", "dynamic", "int8")
    for exporter in (savedmodel.exporter, tflite.exporter, onnx_format.exporter):
        assert isinstance(exporter, Exporter) and exporter.description


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"quantize": "int4"}, "none, float16, dynamic, int8"),
        ({"io_dtype": "int16"}, "float32, int8, uint8"),
        ({"io_dtype": "int8"}, "needs --quantize int8"),
        ({"calibration_samples": 0}, "at least 1"),
        ({"min_agreement": 1.5}, r"\[0, 1\]"),
        ({"strict_int8": True}, r"--strict-int8 needs --quantize int8"),
        ({"quantize": "int8", "float_ops": -1}, r"--float-ops must be 0 or more"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ExportError, match=match):
        ExportOptions(**kwargs)


@pytest.mark.parametrize("exporter", [savedmodel.exporter, onnx_format.exporter])
def test_only_tflite_quantises(exporter):
    with pytest.raises(ExportError, match=f"--format {exporter.name} .* allows: none"):
        exporter.check_options(ExportOptions(quantize="float16"))
    tflite.exporter.check_options(ExportOptions(quantize="float16"))


def test_tolerances_per_format():
    assert tolerance_for(ExportOptions()).atol == 1e-4
    assert tolerance_for(ExportOptions(quantize="float16")).atol == 1e-2
    int8 = tolerance_for(ExportOptions(quantize="int8", min_agreement=0.9))
    assert int8.min_agreement == 0.9 and int8.atol is None
    assert tolerance_for(ExportOptions(quantize="dynamic")).min_agreement == 0.95
    override = tolerance_for(ExportOptions(quantize="float16", atol=0.5))
    assert (override.atol, override.rtol) == (0.5, 0.0)


def test_verify_reports_agreement_and_json(text):
    keras_runner = runner_from_keras(text.model)
    report = verify(text.model, keras_runner, text.samples, task_kind="binary",
                    tolerance=tolerance_for(ExportOptions()))
    assert report.passed and report.max_abs_diff == 0.0 and report.agreement == 1.0
    assert report.agreement_kind == "decision@0.5" and report.n_samples == 96
    assert json.loads(report.to_json())["passed"] is True

    regression = verify(text.model, keras_runner, text.samples, task_kind="regression",
                        tolerance=Tolerance(atol=1e-6))
    assert regression.passed and regression.agreement is None


def test_verify_fails_on_a_different_model(cnn):
    from export_testing_models import build_cnn

    other = build_cnn()  # untrained weights
    report = verify(cnn.model, runner_from_keras(other), cnn.samples, task_kind="multiclass",
                    tolerance=tolerance_for(ExportOptions(quantize="dynamic")))
    assert not report.passed
    assert "top-1 agreement" in report.reason and "--quantize float16" in report.reason


def test_load_artifact_keras_file_and_unknown_paths(tmp_path, text):
    path = tmp_path / "model.keras"
    text.model.save(path)
    runner = load_artifact(path)
    assert set(runner.input_names) == set(text.samples)
    np.testing.assert_allclose(runner(text.samples), keras_predict(text.model, text.samples),
                               atol=1e-6)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    with pytest.raises(ExportError, match="don't know how to run"):
        load_artifact(tmp_path / "weights.bin")
    with pytest.raises(ExportError, match="no artifact"):
        load_artifact(tmp_path / "missing.onnx")


def test_runner_rejects_wrong_inputs(text):
    runner = runner_from_keras(text.model)
    with pytest.raises(ExportError, match="missing"):
        runner({"token_ids": text.samples["token_ids"]})
    with pytest.raises(ExportError, match="different batch sizes"):
        runner({k: v[: 3 + i] for i, (k, v) in enumerate(text.samples.items())})


def _brute_force_top1(reference, produced):
    """Every (i, j) pair spelled out: how much the artifact moved sample i's margin of its Keras top class
    over the strongest other class, applied to sample j's Keras margin."""
    ref, out = np.log(np.clip(reference, 1e-7, 1)), np.log(np.clip(produced, 1e-7, 1))
    margins, shifts = [], []
    for r, q in zip(ref, out):
        top = int(np.argmax(r))
        margins.append(r[top] - np.sort(r)[-2])
        shifts.append((q[top] - max(q[c] for c in range(len(q)) if c != top)) - margins[-1])
    return 1.0 - float(np.mean([[m + d < 0 for m in margins] for d in shifts]))


def test_pairwise_estimates_match_every_pair_spelled_out():
    from zoo_export.verify import pairwise_threshold_agreement, pairwise_top1_agreement

    rng = np.random.default_rng(0)
    reference = rng.dirichlet(np.ones(4), 60)
    produced = np.clip(reference + rng.normal(0, 0.03, reference.shape), 0, 1)
    assert pairwise_top1_agreement(reference, produced) == pytest.approx(_brute_force_top1(reference, produced))
    assert pairwise_top1_agreement(reference, reference) == 1.0

    scores = rng.uniform(0, 1, 80)
    moved = np.clip(scores + rng.normal(0.02, 0.05, 80), 0, 1)
    z, z_moved, cut = (np.log(v) - np.log1p(-v) for v in (np.clip(scores, 1e-7, 1 - 1e-7),
                                                           np.clip(moved, 1e-7, 1 - 1e-7), np.float64(0.3)))
    spelled = np.mean([[(z[j] + (z_moved[i] - z[i]) >= cut) != (z[j] >= cut) for j in range(80)] for i in range(80)])
    assert pairwise_threshold_agreement(scores, moved, 0.3) == pytest.approx(1.0 - spelled)
    assert pairwise_threshold_agreement(scores, scores, 0.3) == 1.0


def test_pairwise_estimates_of_one_sample_are_its_own_decision_ties_included():
    """A pair of a sample with itself is that sample's real decision, also where a quantised output
    (a 1/256 grid) ties the top two classes or lands on the cut: argmax takes the lower index, `>=` keeps."""
    from zoo_export.verify import pairwise_threshold_agreement, pairwise_top1_agreement

    rng = np.random.default_rng(1)
    reference = rng.integers(1, 12, size=(400, 3)) / 256  # outputs on the int8 grid, ties in both
    produced = np.clip(reference + rng.integers(-2, 3, size=reference.shape) / 256, 0, 1)
    ties = 0
    for r, q in zip(reference, produced):
        same = float(np.argmax(r) == np.argmax(q))
        ties += int(np.sort(q)[-1] == np.sort(q)[-2])
        assert pairwise_top1_agreement(r[None], q[None]) == same, (r, q)
    assert ties > 20  # the ties were exercised
    cut = 64 / 256
    scores = rng.integers(40, 90, size=300) / 256
    moved = scores + rng.integers(-6, 7, size=300) / 256
    on_cut = 0
    for a, b in zip(scores, moved):
        on_cut += int(a == cut or b == cut)
        assert pairwise_threshold_agreement(np.array([a]), np.array([b]), cut) == float((a >= cut) == (b >= cut))
    assert on_cut > 5
    # one scale for both sides, read from Keras' outputs: 1 + 1e-7 from a runtime is still a probability
    reference = np.array([[1.0, 0.0], [0.2, 0.8]])
    assert pairwise_top1_agreement(reference, reference + 1e-7) == 1.0


def test_the_estimated_agreement_gate_is_refused_where_it_cannot_apply(text):
    with pytest.raises(ExportError, match="--min-estimated-agreement needs --quantize dynamic or int8"):
        ExportOptions(quantize="float16", min_estimated_agreement=0.99)
    tolerance = tolerance_for(ExportOptions(quantize="dynamic", min_estimated_agreement=0.9))
    regression = verify(text.model, runner_from_keras(text.model), text.samples, task_kind="regression",
                        tolerance=tolerance)
    assert not regression.passed and "have no estimated agreement" in regression.reason
    binary = verify(text.model, runner_from_keras(text.model), text.samples, task_kind="binary", tolerance=tolerance)
    assert binary.passed and binary.estimated_agreement == 1.0


def test_verify_estimates_agreement_beyond_the_samples_and_gates_on_it_when_asked(cnn):
    """Every compared decision agrees, but the artifact moves scores far enough to flip close ones: the
    estimate says so, and refuses the artifact when asked to gate."""
    import keras

    reference = cnn.model.predict(cnn.holdout["image"], verbose=0)
    logs = np.log(reference)
    order = np.argsort(-reference, axis=-1)
    rows = np.arange(len(reference))
    margin = logs[rows, order[:, 0]] - logs[rows, order[:, 1]]
    delta = float(np.median(margin))
    runner_up = int(np.argmax(np.bincount(order[:, 1])))
    # the commonest runner-up's bias up by delta: every log-score difference to it moves by exactly delta
    shifted = keras.models.clone_model(cnn.model)
    shifted.set_weights(cnn.model.get_weights())
    bias = shifted.get_layer("probs").bias
    bias.assign(bias.numpy() + np.eye(bias.shape[0])[runner_up] * delta)
    produced = shifted.predict(cnn.holdout["image"], verbose=0)
    kept = np.argmax(produced, -1) == np.argmax(reference, -1)  # the samples compared all agree
    samples = {"image": cnn.holdout["image"][kept]}
    assert (~kept).any() and kept.sum() >= 50

    reported = verify(cnn.model, runner_from_keras(shifted), samples, task_kind="multiclass",
                      tolerance=tolerance_for(ExportOptions(quantize="int8", min_agreement=0.99)))
    assert reported.passed and reported.agreement == 1.0
    assert reported.estimated_agreement == pytest.approx(_brute_force_top1(reference[kept], produced[kept]),
                                                         abs=1e-6)
    assert reported.estimated_agreement < 0.99 and f"estimated {reported.estimated_agreement:.3f}" in reported.reason

    gated = ExportOptions(quantize="int8", min_agreement=0.99, min_estimated_agreement=0.99)
    report = verify(cnn.model, runner_from_keras(shifted), samples, task_kind="multiclass",
                    tolerance=tolerance_for(gated))
    assert report.agreement == 1.0 and not report.passed
    assert "estimated from every pair" in report.reason and "below 0.990" in report.reason

    # the same artifact to float tolerances: no decision gate, so nothing is estimated
    exact = verify(cnn.model, runner_from_keras(shifted), samples, task_kind="multiclass",
                   tolerance=tolerance_for(ExportOptions(quantize="float16")))
    assert exact.estimated_agreement is None and not exact.passed
