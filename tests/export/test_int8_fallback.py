"""Selective int8: operations kept in float when full-integer int8 falls short (zoo_export.int8)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo_export import tflite
from zoo_export.api import ExportOptions
from zoo_export.errors import ExportError
from zoo_export.export import export_model
from zoo_export.int8 import decision_space, islands, list_ops
from zoo_export.runtime import load_artifact

OUTLIER = 5000.0


@pytest.fixture(scope="module")
def outlier_cnn(cnn):
    """The trained test CNN rewritten so that one hidden unit carries a 5000x range, same function.

    ReLU is positively homogeneous: scaling unit 0's incoming weights and bias by 5000 and its
    outgoing weights by 1/5000 leaves every output as it was (to float rounding), but the hidden
    tensor's per-tensor int8 scale now spans 5000x the other units' range, which rounds them to
    a few steps: the kind of outlier channel that breaks full-integer int8 in real networks.
    """
    import keras

    model = keras.models.clone_model(cnn.model)
    model.set_weights(cnn.model.get_weights())
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    hidden, out = dense[-2], dense[-1]
    w, b = hidden.get_weights()
    w[:, 0] *= OUTLIER
    b[0] *= OUTLIER
    hidden.set_weights([w, b])
    w2, b2 = out.get_weights()
    w2[0, :] /= OUTLIER
    out.set_weights([w2, b2])
    before = cnn.model.predict(cnn.samples["image"], verbose=0)
    after = model.predict(cnn.samples["image"], verbose=0)
    np.testing.assert_allclose(after, before, atol=1e-4)
    return model


def _export(model, cnn, out, **options):
    return export_model(model, tflite.exporter, out, samples=cnn.samples, calibration=cnn.calibration,
                        options=ExportOptions(quantize="int8", **options), task_kind="multiclass")


def test_outlier_model_exports_with_float_fallback_and_matches_keras(tmp_path, cnn, outlier_cnn):
    out = tmp_path / "model-int8.tflite"
    report = _export(outlier_cnn, cnn, out)
    fallback = report.details["int8_fallback"]
    full = fallback["full_int8"]
    assert full["agreement"] < 0.95  # full-integer int8 fell short: the fallback had work to do
    assert report.verification.passed and report.verification.agreement >= 0.95
    kept = fallback["float_ops"]
    assert 1 <= len(kept) <= 12 and fallback["passed"] is True
    assert "FULLY_CONNECTED" in {op["op"] for op in kept}  # the ops around the outlier tensor
    assert len(kept) < fallback["ops_in_model"]
    sidecar = json.loads(report.sidecar_path.read_text())
    assert sidecar["quantization"]["float_ops"] == report.details["float_ops"]
    assert len(sidecar["quantization"]["float_ops"]) == len(kept)
    assert sidecar["export_details"]["integer_only"] is False
    assert sidecar["quantization"]["scheme"] == tflite.SCHEME_FLOAT_OPS
    assert [t["float_ops"] for t in fallback["tries"]][0] == 0 and fallback["tries"][-1]["passed"]
    # the artifact is what was verified: it decides like Keras on held-out images
    probs = load_artifact(out)({"image": cnn.holdout["image"]})
    keras_probs = outlier_cnn.predict(cnn.holdout["image"], verbose=0)
    assert np.mean(probs.argmax(-1) == keras_probs.argmax(-1)) >= 0.95
    # most of the model is still integer: the file is far smaller than a float32 one
    assert fallback["size_ratio_to_full_int8"] < 1.5


def test_strict_int8_refuses_with_the_agreement_figure_and_writes_nothing(tmp_path, cnn, outlier_cnn):
    out = tmp_path / "model-int8.tflite"
    with pytest.raises(ExportError) as info:
        _export(outlier_cnn, cnn, out, strict_int8=True)
    message = str(info.value)
    assert "full-integer int8 fell short" in message and "top-1 agreement 0." in message
    assert "--strict-int8" in message
    assert list(tmp_path.iterdir()) == []


def test_with_no_float_ops_allowed_a_whole_model_scheme_passes_and_says_so(tmp_path, cnn, outlier_cnn):
    report = _export(outlier_cnn, cnn, tmp_path / "model-int8.tflite", float_ops=0)
    fallback = report.details["int8_fallback"]
    assert fallback["float_ops"] == [] and report.verification.passed
    assert fallback["scheme"] in (tflite.SCHEME_INT16, tflite.SCHEME_DYNAMIC)
    assert report.sidecar["quantization"]["scheme"] == fallback["scheme"]
    schemes = [t["scheme"] for t in fallback["tries"]]
    assert schemes[0] == tflite.SCHEME_FLOAT_OPS and schemes[-1] == fallback["scheme"]


def test_a_model_that_passes_full_int8_keeps_nothing_in_float(tmp_path, cnn):
    report = _export(cnn.model, cnn, tmp_path / "model.tflite")
    assert "int8_fallback" not in report.details and report.details["integer_only"] is True
    assert report.sidecar["quantization"]["scheme"] == "full-integer int8"
    assert report.sidecar["quantization"]["float_ops"] == []


def test_weight_only_int8_stores_int8_weights_and_computes_in_float(tmp_path, cnn):
    import tensorflow as tf

    float32 = tf.lite.TFLiteConverter.from_keras_model(cnn.model).convert()
    dynamic = tf.lite.TFLiteConverter.from_keras_model(cnn.model)
    dynamic.optimizations = [tf.lite.Optimize.DEFAULT]
    packed = tflite.weight_only_int8(float32)
    # every weighted operation reads its weights through a DEQUANTIZE of an int8 tensor
    ops = list_ops(packed)
    kinds = [op.kind for op in ops]
    assert kinds.count("DEQUANTIZE") == kinds.count("CONV_2D") + kinds.count("FULLY_CONNECTED") > 0
    dtypes = {d["index"]: d["dtype"] for d in tflite._interpreter_class()(model_content=packed).get_tensor_details()}
    assert all(dtypes[op.inputs[0]] == np.int8 for op in ops if op.kind == "DEQUANTIZE")
    assert len(packed) < 0.4 * len(float32)  # int8 weights: about a quarter of the weight bytes
    # float arithmetic on rounded weights: closer to Keras than dynamic range, which quantises
    # every activation as it runs
    x = cnn.holdout["image"]
    keras_probs = cnn.model.predict(x, verbose=0)
    errors = {}
    for name, flatbuffer in (("weight-only", packed), ("dynamic", dynamic.convert())):
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(flatbuffer)
        probs = load_artifact(path)({"image": x})
        assert np.mean(probs.argmax(-1) == keras_probs.argmax(-1)) >= 0.99
        errors[name] = float(np.mean(np.abs(probs - keras_probs)))
    assert errors["weight-only"] < errors["dynamic"], errors


def test_islands_join_a_tensors_producer_and_consumers(cnn):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(cnn.model)
    ops = list_ops(converter.convert())
    kinds = [op.kind for op in ops]
    assert "CONV_2D" in kinds and "FULLY_CONNECTED" in kinds
    groups = islands(ops)
    by_index = {op.index: op for op in ops}
    for group in groups:
        for member in group[1:]:  # every other member reads something the group's ops write
            written = {t for i in group for t in by_index[i].outputs}
            assert set(by_index[member].inputs) & written
    assert all(any(op.index in g for g in groups) for op in ops)


def test_decision_space_weighs_errors_near_a_low_threshold():
    keras = np.array([[0.0030], [0.60]])
    artifact = keras + 0.0006  # the same raw error: it flips the first at a 0.0033 threshold only
    err = np.abs(decision_space(artifact) - decision_space(keras))[:, 0]
    assert err[0] > 50 * err[1]
    logits = np.array([[-3.0, 2.0]])
    np.testing.assert_array_equal(decision_space(logits), logits)  # outside [0, 1]: as they are
