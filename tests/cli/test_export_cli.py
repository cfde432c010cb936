"""`zoo export` and `zoo predict` through the command, on a trained toy run."""

import json
import shutil

import numpy as np
import pytest

from zoo_cli_helpers import pip_install_target, write_distribution, zoo

KERAS_FILE_EXPORTER = '''
import numpy as np
from zoo_export.api import Exporter, Runner


class KerasFileRunner(Runner):
    format = "kerasfile"

    def __init__(self, path):
        import keras
        self.model = keras.saving.load_model(path, safe_mode=True)
        names = [t.name for t in self.model.inputs]
        super().__init__({n: (tuple(t.shape[1:]), t.dtype) for n, t in zip(names, self.model.inputs)})

    def _run(self, inputs):
        return self.model.predict(inputs, verbose=0)


class KerasFile(Exporter):
    name = "kerasfile"
    suffix = ".keras"
    description = "a bare .keras copy (a third-party test format)"

    def export(self, model, path, *, options, input_signature, calibration):
        model.save(path)
        return {"writer": "keras.Model.save"}

    def load(self, path):
        return KerasFileRunner(path)


exporter = KerasFile()
'''


@pytest.fixture(scope="module")
def trained(toy_target, tmp_path_factory):
    """A toy run trained well enough that its outputs are far from uniform."""
    from zoo_toy import make_arrays

    root = tmp_path_factory.mktemp("export_cli")
    out = zoo("finetune", "-p", "toy", "--strategy", "full", "--epochs", "4", "--runs-dir", str(root / "runs"),
              path=toy_target)
    assert out.returncode == 0, out.stderr
    (run,) = list((root / "runs").iterdir())
    x, y = make_arrays(12, 99)
    np.savez(root / "inputs.npz", x=x, y=y)
    return run, root / "inputs.npz"


def labels(out):
    return [line.split(": ")[1].split(" ")[0] for line in out.stdout.strip().splitlines()]


@pytest.mark.parametrize("fmt, quantize", [("savedmodel", "none"), ("onnx", "none"), ("tflite", "none"),
                                           ("tflite", "float16"), ("tflite", "dynamic"), ("tflite", "int8")])
def test_every_format_exports_verifies_and_predicts_like_keras(toy_target, trained, fmt, quantize):
    run, inputs = trained
    out = zoo("export", str(run), "--format", fmt, "--quantize", quantize, path=toy_target)
    assert out.returncode == 0, out.stderr
    assert "passed" in out.stdout
    artifact = out.stdout.split("artifact: ")[1].split("\n")[0].strip()
    sidecar = json.loads(open(artifact + ".zoo.json").read())
    assert sidecar["format"] == fmt and sidecar["class_names"] == ["red", "green", "blue"]
    assert sidecar["verification"]["passed"] is True
    if quantize == "int8":  # calibrated on training rows drawn class by class, said in the sidecar
        drawn = sidecar["calibration"]
        assert drawn["split"] == "train" and drawn["rule"].startswith("stratified by class")
        assert set(drawn["per_class"]) == {"red", "green", "blue"}
        assert sum(drawn["per_class"].values()) == drawn["samples"] == sidecar["quantization"]["calibration_samples"]
        assert max(drawn["per_class"].values()) - min(drawn["per_class"].values()) <= 1
    else:
        assert "calibration" not in sidecar
    estimated = sidecar["verification"]["estimated_agreement"]
    if quantize in ("dynamic", "int8"):  # reported beside the observed figure, not a gate by default
        assert 0.0 <= estimated <= 1.0 and f"(estimated {estimated:.1%})" in out.stdout
    else:
        assert estimated is None
    keras_out = zoo("predict", str(run), str(inputs), path=toy_target)
    artifact_out = zoo("predict", artifact, str(inputs), path=toy_target)
    assert keras_out.returncode == 0 and artifact_out.returncode == 0, artifact_out.stderr
    assert labels(artifact_out) == labels(keras_out)


def test_int8_fallback_options_are_checked_before_any_work(toy_target, trained, tmp_path):
    out = zoo("export", str(trained[0]), "--format", "tflite", "--quantize", "int8", "--float-ops", "-1",
              "--out", str(tmp_path / "m.tflite"), path=toy_target)
    assert out.returncode == 2 and "--float-ops must be 0 or more, got -1" in out.stderr
    assert list(tmp_path.iterdir()) == []
    assert "--strict-int8" in zoo("export", "--help", path=toy_target).stdout
    out = zoo("export", str(trained[0]), "--format", "tflite", "--quantize", "dynamic", "--min-estimated-agreement",
              "1.5", "--out", str(tmp_path / "m.tflite"), path=toy_target)
    assert out.returncode == 2 and "--min-estimated-agreement must lie in [0, 1], got 1.5" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_lists_installed_formats(toy_target, trained):
    out = zoo("export", str(trained[0]), "--format", "coreml", path=toy_target)
    assert out.returncode == 2
    assert "no export format named 'coreml'" in out.stderr
    assert "onnx, savedmodel, tflite" in out.stderr


def test_impossible_tolerance_fails_and_leaves_no_artifact(toy_target, trained, tmp_path):
    target = tmp_path / "strict.tflite"
    out = zoo("export", str(trained[0]), "--format", "tflite", "--quantize", "float16", "--atol", "1e-12",
              "--out", str(target), path=toy_target)
    assert out.returncode == 2
    assert out.stderr.startswith("Error: ") and "verification" in out.stderr.lower()
    assert list(tmp_path.iterdir()) == []


def test_out_over_an_existing_file_needs_force(toy_target, trained, tmp_path):
    target = tmp_path / "model.onnx"
    target.write_text("keep me")
    out = zoo("export", str(trained[0]), "-f", "onnx", "--out", str(target), path=toy_target)
    assert out.returncode == 2 and "--force" in out.stderr
    assert target.read_text() == "keep me"
    out = zoo("export", str(trained[0]), "-f", "onnx", "--out", str(target), "--force", path=toy_target)
    assert out.returncode == 0, out.stderr
    assert target.read_bytes()[:2] != b"ke"


def test_run_without_model_is_a_clear_error(toy_target, trained, tmp_path):
    broken = tmp_path / "run"
    shutil.copytree(trained[0], broken)
    (broken / "model.keras").unlink()
    out = zoo("export", str(broken), "-f", "onnx", path=toy_target)
    assert out.returncode == 2 and "has no model.keras" in out.stderr


def test_third_party_exporter_installed_with_pip_shows_and_runs(toy_target, trained, tmp_path):
    dist = write_distribution(tmp_path / "src", "keras-zoo-kerasfile", "zoo_kerasfile", KERAS_FILE_EXPORTER,
                              {"keras_zoo.exporters": {"kerasfile": "zoo_kerasfile:exporter"}})
    site = tmp_path / "site"
    pip_install_target(dist, site)
    paths = [site, toy_target]
    assert "kerasfile" in zoo("export", "--help", path=paths).stdout
    out = zoo("export", str(trained[0]), "-f", "kerasfile", "--out", str(tmp_path / "copy.keras"), path=paths)
    assert out.returncode == 0, out.stderr
    assert "passed" in out.stdout
    predicted = zoo("predict", str(tmp_path / "copy.keras"), str(trained[1]), path=paths)
    assert predicted.returncode == 0, predicted.stderr
    assert labels(predicted) == labels(zoo("predict", str(trained[0]), str(trained[1]), path=toy_target))


def test_calibration_is_drawn_class_by_class_from_the_training_split():
    """A rare class is in the int8 calibration set, not left to the first N rows (which hold none of it)."""
    import tensorflow as tf

    from zoo.deploy import calibration_rows, calibration_set

    labels = np.array([0] * 90 + [1] * 10)  # the rare class last: the first 20 rows hold none of it
    dataset = tf.data.Dataset.from_tensor_slices(({"x": np.arange(100, dtype="float32")[:, None]}, labels))
    inputs, drawn = calibration_set(dataset, 20, seed=7, class_names=["normal", "nodule"])
    rows = inputs["x"][:, 0].astype(int)
    assert len(rows) == 20 and np.all(np.diff(rows) > 0)  # distinct rows, in split order
    assert np.bincount(labels[rows]).tolist() == [10, 10]
    assert drawn == {"split": "train", "samples": 20, "of": 100, "rule": "stratified by class (the classes in turn, "
                     "seed 7)", "per_class": {"normal": 10, "nodule": 10}}
    assert np.array_equal(calibration_set(dataset, 20, seed=7)[0]["x"][:, 0].astype(int), np.linspace(0, 99, 20)
                          .round().astype(int))  # no class names: evenly spaced rows
    assert calibration_rows(labels, 5, seed=7, classes=2)[0].tolist() != calibration_rows(labels, 5, 8, 2)[0].tolist()
    few = np.array([0] * 97 + [1] * 3)
    assert np.bincount(few[calibration_rows(few, 30, seed=0, classes=2)[0]]).tolist() == [27, 3]  # all it has
    assert calibration_rows(labels, 500, seed=0, classes=2)[1] == "every row of the training split"
