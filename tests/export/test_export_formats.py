"""Every format and quantisation mode exports, verifies, and agrees with Keras; real runtimes."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from export_testing_models import keras_predict, top1
from zoo_export import onnx as onnx_format
from zoo_export import savedmodel, tflite
from zoo_export.api import ExportOptions
from zoo_export.export import artifact_digest, export_model
from zoo_export.runtime import load_artifact

EXPORTERS = {"savedmodel": savedmodel.exporter, "onnx": onnx_format.exporter, "tflite": tflite.exporter}

CNN_CASES = [
    ("savedmodel", "none", "float32"),
    ("onnx", "none", "float32"),
    ("tflite", "none", "float32"),
    ("tflite", "float16", "float32"),
    ("tflite", "dynamic", "float32"),
    ("tflite", "int8", "float32"),
    ("tflite", "int8", "int8"),
    ("tflite", "int8", "uint8"),
]
TEXT_CASES = [
    ("savedmodel", "none", "float32"),
    ("onnx", "none", "float32"),
    ("tflite", "none", "float32"),
    ("tflite", "dynamic", "float32"),
    ("tflite", "int8", "float32"),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, cnn, text):
    """Memoised export_model: each (model, format, quantize, io dtype) is exported once."""
    out = tmp_path_factory.mktemp("exports")
    trained = {"cnn": cnn, "text": text}
    cache = {}

    def get(which, fmt, quantize="none", io_dtype="float32"):
        key = (which, fmt, quantize, io_dtype)
        if key not in cache:
            exporter = EXPORTERS[fmt]
            t = trained[which]
            path = out / f"{which}-{quantize}-{io_dtype}{exporter.suffix or '_savedmodel'}"
            cache[key] = export_model(
                t.model, exporter, path,
                samples=t.samples, calibration=t.calibration,
                options=ExportOptions(quantize=quantize, io_dtype=io_dtype),
                task_kind=t.task_kind, sidecar={"source_run": f"runs/{which}", "plugin": "test"},
            )
        return cache[key]

    get.dir = out
    return get


def _check_export(report, trained, quantize):
    assert report.verification is not None and report.verification.passed, report.verification
    assert report.path.exists()
    leftovers = [p.name for p in report.path.parent.iterdir() if ".partial-" in p.name]
    assert leftovers == []

    sidecar = json.loads(report.sidecar_path.read_text())
    assert sidecar["source_run"] == f"runs/{trained.model.name}"
    assert sidecar["format"] == report.format
    assert sidecar["quantization"]["mode"] == quantize
    assert sidecar["verification"]["passed"] is True
    assert sidecar["verification"]["latency_ms"] > 0 and sidecar["verification"]["keras_latency_ms"] > 0
    assert sidecar["sha256"] == artifact_digest(report.path)[0]
    if report.path.is_file():
        assert sidecar["sha256"] == hashlib.sha256(report.path.read_bytes()).hexdigest()
        assert sidecar["size_bytes"] == report.path.stat().st_size
    assert set(sidecar["input_signature"]) == set(trained.samples)
    assert {"tensorflow", "keras"} <= set(sidecar["versions"])

    # The artifact, reloaded by its own runtime, decides like Keras on held-out data.
    runner = load_artifact(report.path)
    assert set(runner.input_names) == set(trained.samples)
    produced = runner(trained.holdout)
    reference = keras_predict(trained.model, trained.holdout)
    assert produced.dtype == np.float32 and produced.shape == reference.shape
    agreement = np.mean(top1(produced) == top1(reference))
    if quantize == "none":
        np.testing.assert_allclose(produced, reference, atol=1e-4)
        assert agreement == 1.0
    elif quantize == "float16":
        np.testing.assert_allclose(produced, reference, atol=1e-2)
        assert agreement >= 0.99
    else:
        assert agreement >= 0.95
    accuracy = np.mean(top1(produced) == trained.holdout_labels)
    assert accuracy > 0.88


@pytest.mark.parametrize("fmt,quantize,io_dtype", CNN_CASES)
def test_cnn_exports_verify_and_agree(exported, cnn, fmt, quantize, io_dtype):
    report = exported("cnn", fmt, quantize, io_dtype)
    _check_export(report, cnn, quantize)
    if quantize == "int8":
        io = report.details["io"]
        assert io["inputs"]["image"]["dtype"] == io_dtype
        assert io["outputs"]["probs"]["dtype"] == io_dtype
        if io_dtype != "float32":
            assert io["inputs"]["image"]["scale"] > 0
        assert report.details["calibration_samples"] == len(cnn.calibration["image"])


@pytest.mark.parametrize("fmt,quantize,io_dtype", TEXT_CASES)
def test_multi_input_exports_verify_and_agree(exported, text, fmt, quantize, io_dtype):
    report = exported("text", fmt, quantize, io_dtype)
    _check_export(report, text, quantize)


def test_quantised_tflite_is_smaller(exported):
    sizes = {q: exported("cnn", "tflite", q).size_bytes for q in ("none", "float16", "dynamic", "int8")}
    assert sizes["float16"] < sizes["none"]
    assert sizes["dynamic"] < sizes["float16"]
    assert sizes["int8"] < sizes["float16"]


def test_int8_io_runner_quantises_inputs(exported, cnn):
    runner = load_artifact(exported("cnn", "tflite", "int8", "int8").path)
    detail = runner.input_details["image"]
    assert np.dtype(detail["dtype"]) == np.int8
    assert runner.signature["image"] == ((32, 32, 3), "float32")  # callers pass raw pixels


@pytest.mark.parametrize("fmt", ["savedmodel", "onnx", "tflite"])
def test_runners_take_any_batch_size_and_input_order(exported, text, fmt):
    runner = load_artifact(exported("text", fmt).path)
    reference = keras_predict(text.model, text.holdout)
    reordered = {k: text.holdout[k] for k in ("segment_ids", "token_ids", "padding_mask")}
    for n in (1, 3, 300):  # 300 > Runner.max_batch: split into chunks
        batch = {k: v[:n] for k, v in reordered.items()}
        np.testing.assert_allclose(runner(batch), reference[:n], atol=1e-5)
    one = {k: v[0] for k, v in reordered.items()}  # an unbatched sample
    np.testing.assert_allclose(runner(one), reference[:1], atol=1e-5)


def test_onnx_keeps_names_and_dynamic_batch(exported):
    import onnx

    report = exported("text", "onnx")
    model = onnx.load(str(report.path))
    inputs = {v.name: v for v in model.graph.input}
    assert set(inputs) == {"token_ids", "padding_mask", "segment_ids"}
    assert [o.name for o in model.graph.output] == ["score"]
    assert inputs["token_ids"].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert report.details["opset"] == report.sidecar["export_details"]["opset"]


def test_savedmodel_signature_names(exported):
    import tensorflow as tf

    report = exported("text", "savedmodel")
    fn = tf.saved_model.load(str(report.path)).signatures["serving_default"]
    assert set(fn.structured_input_signature[1]) == {"token_ids", "padding_mask", "segment_ids"}
    assert list(fn.structured_outputs) == ["score"]


def test_tflite_signature_names(exported):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(exported("cnn", "tflite", "int8").path))
    assert interpreter.get_signature_list() == {
        "serving_default": {"inputs": ["image"], "outputs": ["probs"]}
    }
