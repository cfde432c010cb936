"""export_model: atomic placement, failures that leave nothing behind, --force, the sidecar."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo_export import onnx as onnx_format
from zoo_export import savedmodel, tflite
from zoo_export.api import ExportOptions
from zoo_export.errors import ExportError, MissingDependencyError
from zoo_export.export import SKIPPED, artifact_digest, export_model, sidecar_path_for


class CorruptingONNXExporter(onnx_format.ONNXExporter):
    """Converts correctly, then damages the artifact's largest weight tensor on disk: the kind
    of fault only running the artifact can catch."""

    def export(self, model, path, **kwargs):
        import onnx
        from onnx import numpy_helper

        details = super().export(model, path, **kwargs)
        proto = onnx.load(path)
        largest = max(proto.graph.initializer, key=lambda t: np.prod(t.dims))
        weights = numpy_helper.to_array(largest)
        largest.CopyFrom(numpy_helper.from_array(-weights, largest.name))
        onnx.save(proto, path)
        return details


def _assert_nothing_left(directory, out_path):
    assert not out_path.exists()
    assert not sidecar_path_for(out_path).exists()
    assert [p.name for p in directory.iterdir()] == []


def test_corrupted_artifact_fails_verification_and_leaves_nothing(tmp_path, cnn):
    out = tmp_path / "model.onnx"
    with pytest.raises(ExportError) as info:
        export_model(cnn.model, CorruptingONNXExporter(), out, samples=cnn.samples,
                     task_kind="multiclass")
    message = str(info.value)
    assert "failed verification" in message and "max |diff|" in message
    _assert_nothing_left(tmp_path, out)


def test_float16_with_tiny_atol_fails_with_reason(tmp_path, cnn):
    out = tmp_path / "model.tflite"
    with pytest.raises(ExportError, match=r"exceeds atol 1\.0e-12"):
        export_model(cnn.model, tflite.exporter, out, samples=cnn.samples,
                     options=ExportOptions(quantize="float16", atol=1e-12), task_kind="multiclass")
    _assert_nothing_left(tmp_path, out)


def test_badly_calibrated_int8_fails_and_says_what_to_try(tmp_path, cnn):
    out = tmp_path / "model.tflite"
    # Calibrating on black images fixes the input range near zero: real pixels saturate.
    dark = {"image": np.zeros((8, 32, 32, 3), "float32")}
    with pytest.raises(ExportError) as info:
        export_model(cnn.model, tflite.exporter, out, samples=cnn.samples, calibration=dark,
                     options=ExportOptions(quantize="int8", strict_int8=True), task_kind="multiclass")
    message = str(info.value)
    assert "top-1 agreement" in message and "--strict-int8" in message
    assert "--calibration-samples (used 8)" in message
    assert "--quantize float16" in message and "--quantize dynamic" in message
    _assert_nothing_left(tmp_path, out)
    # Without --strict-int8 the fallback ends at a scheme that needs no activation ranges, and says so.
    report = export_model(cnn.model, tflite.exporter, out, samples=cnn.samples, calibration=dark,
                          options=ExportOptions(quantize="int8"), task_kind="multiclass")
    assert report.verification.passed
    assert report.sidecar["quantization"]["scheme"] == tflite.SCHEME_DYNAMIC


def test_existing_output_needs_force_and_sidecar_hash_matches(tmp_path, text):
    out = tmp_path / "model.onnx"
    first = export_model(text.model, onnx_format.exporter, out, samples=text.samples,
                         task_kind="binary", sidecar={"class_names": ["neg", "pos"]})
    before = out.read_bytes()
    with pytest.raises(ExportError, match="--force"):
        export_model(text.model, onnx_format.exporter, out, samples=text.samples, task_kind="binary")
    assert out.read_bytes() == before

    second = export_model(text.model, onnx_format.exporter, out, samples=text.samples,
                          task_kind="binary", options=ExportOptions(opset=13), force=True,
                          sidecar={"class_names": ["neg", "pos"]})
    sidecar = json.loads(sidecar_path_for(out).read_text())
    assert sidecar["sha256"] == artifact_digest(out)[0] == second.sha256
    assert sidecar["class_names"] == ["neg", "pos"]
    assert sidecar["export_details"]["opset"] == 13
    assert first.details["opset"] != 13
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.zoo.json"]


def test_savedmodel_force_replaces_directory_and_hashes_its_files(tmp_path, text):
    out = tmp_path / "model_savedmodel"
    export_model(text.model, savedmodel.exporter, out, samples=text.samples, task_kind="binary")
    (out / "stale.txt").write_text("from the previous export")
    with pytest.raises(ExportError, match="--force"):
        export_model(text.model, savedmodel.exporter, out, samples=text.samples)
    report = export_model(text.model, savedmodel.exporter, out, samples=text.samples,
                          task_kind="binary", force=True)
    assert not (out / "stale.txt").exists()
    assert (out / "saved_model.pb").is_file()
    assert report.sidecar["sha256"] == artifact_digest(out)[0]
    assert report.size_bytes == sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_savedmodel", "model_savedmodel.zoo.json"]


def test_no_verify_is_recorded(tmp_path, text):
    report = export_model(text.model, tflite.exporter, tmp_path / "m.tflite", samples=None,
                          options=ExportOptions(quantize="dynamic"), verify=False)
    assert report.verification is None
    assert json.loads(report.sidecar_path.read_text())["verification"] == SKIPPED


def test_mixed_precision_model_is_exported_from_float32_weights(tmp_path, cnn):
    import keras

    from export_testing_models import build_cnn, keras_predict

    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = build_cnn()
    finally:
        keras.config.set_dtype_policy(previous)
    mixed.set_weights(cnn.model.get_weights())
    assert mixed.layers[1].dtype_policy.name == "mixed_float16"

    report = export_model(mixed, tflite.exporter, tmp_path / "m.tflite", samples=cnn.samples,
                          task_kind="multiclass")
    assert report.details["rebuilt_float32_from"] == "mixed_float16"
    assert report.verification.max_abs_diff < 1e-4
    produced = tflite.exporter.load(str(report.path))(cnn.samples)
    np.testing.assert_allclose(produced, keras_predict(cnn.model, cnn.samples), atol=1e-4)
    assert keras.config.dtype_policy().name == previous


def test_missing_converter_names_the_pip_install(tmp_path, text, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match="pip install tf2onnx onnxruntime"):
        export_model(text.model, onnx_format.exporter, tmp_path / "m.onnx", samples=text.samples)
    assert list(tmp_path.iterdir()) == []


def test_samples_must_cover_every_input(tmp_path, text):
    partial = {"token_ids": text.samples["token_ids"]}
    with pytest.raises(ExportError, match="padding_mask"):
        export_model(text.model, onnx_format.exporter, tmp_path / "m.onnx", samples=partial)
    assert list(tmp_path.iterdir()) == []
