"""Plugin contract v2: task kinds as objects, declared options, Rows, versioning, check_plugin."""

import dataclasses
import json
import warnings

import numpy as np
import pytest

from zoo import tasks
from zoo.api import DataAdapter, Option, Options, Plugin, TaskSpec, ZooDeprecationWarning
from zoo.errors import ConfigError, DataError
from zoo.testing import check_plugin, registered

from zoo_cli_helpers import pip_install_target, write_distribution, zoo


# --------------------------------------------------------------------------- task kinds

def test_taskspec_returns_the_kind_object_and_unknown_kinds_name_the_way_out():
    task = TaskSpec(kind="binary", monitor="val_pr_auc")
    assert isinstance(task, tasks.Binary) and task.resolved_monitor() == ("val_pr_auc", "max")
    assert TaskSpec("token-multiclass").per_position and not TaskSpec("multiclass").per_position
    with pytest.raises(ConfigError, match="own zoo.tasks.Task subclass"):
        TaskSpec(kind="boxes")


def test_constant_scores_give_auc_one_half_and_ties_are_counted_half():
    task = TaskSpec("binary")
    labels = np.array([0, 1, 0, 1, 1, 0])
    assert task.score(labels, np.full((6, 1), 0.3))["auc"] == pytest.approx(0.5)
    # one positive tied with one negative: 8 of 9 pairs ordered, the tie counts half
    scores = np.array([0.1, 0.5, 0.2, 0.8, 0.9, 0.5])
    assert task.score(labels, scores.reshape(-1, 1))["auc"] == pytest.approx(8.5 / 9)


def test_numpy_scoring_matches_keras_losses_and_metrics():
    import keras

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=50).astype("float32")
    labels = rng.integers(0, 4, size=50)
    got = TaskSpec("multiclass").score(labels, probs)
    loss = float(np.mean(keras.losses.sparse_categorical_crossentropy(labels, probs)))
    assert got["loss"] == pytest.approx(loss, rel=1e-5)
    assert got["accuracy"] == pytest.approx(float(np.mean(probs.argmax(-1) == labels)))
    p = rng.uniform(size=(50, 1)).astype("float32")
    y = rng.integers(0, 2, size=50)
    bce = float(np.mean(keras.losses.binary_crossentropy(y.reshape(-1, 1).astype("float32"), p)))
    assert TaskSpec("binary").score(y, p)["loss"] == pytest.approx(bce, rel=1e-5)


def test_label_checks_belong_to_the_kind():
    with pytest.raises(DataError, match="outside the 3 classes"):
        TaskSpec("multiclass").check_labels(np.array([0, 5]), ["a", "b", "c"], "training")
    with pytest.raises(DataError, match="exactly 2 classes"):
        TaskSpec("binary").check_labels(np.array([0, 1]), ["a", "b", "c"], "training")
    with pytest.raises(DataError, match=r"\(N, 2\) multi-hot"):
        TaskSpec("multilabel").check_labels(np.array([0, 1]), ["a", "b"], "validation")
    TaskSpec("token-multiclass").check_labels(np.array([[0, -1, 2]]), ["O", "B", "I"], "training")


def test_binary_agreement_and_decoding_use_the_runs_threshold():
    task = TaskSpec("binary")
    reference, produced = np.array([[0.2], [0.35], [0.9]]), np.array([[0.2], [0.25], [0.9]])
    assert task.agreement(reference, produced, 0.5) == ("decision@0.5", 1.0)
    assert task.agreement(reference, produced, 0.3)[1] == pytest.approx(2 / 3)
    assert task.decode(np.array([0.35]), ["ok", "fraud"], 0.3)["label"] == "fraud"
    assert task.decode(np.array([0.35]), ["ok", "fraud"], None)["label"] == "ok"


# --------------------------------------------------------------------------- options

def test_options_are_converted_checked_and_read_only(toy_plugin):
    recipe = toy_plugin.resolve_recipe(overrides={"options": {"samples": "120"}})
    options = toy_plugin.options_for(recipe)
    assert options.samples == options["samples"] == 120 and isinstance(options, Options)
    with pytest.raises(AttributeError, match="read-only"):
        options.samples = 5
    with pytest.raises(AttributeError, match="declared options: samples"):
        options.size


@pytest.mark.parametrize("value, message", [
    ("abc", "option samples must be an integer, got 'abc'"),
    (4, "option samples must be >= 12, got 4"),
    (True, "option samples must be an integer"),
])
def test_bad_option_values_name_the_option_and_where_they_were_set(toy_plugin, value, message):
    with pytest.raises(ConfigError, match="^command line: " + message):
        toy_plugin.resolve_recipe(overrides={"options": {"samples": value}})


def test_option_kinds():
    assert Option(0.5, min=0, max=1).convert("p", "0.25") == 0.25
    with pytest.raises(ConfigError, match="finite"):
        Option(0.5).convert("p", float("nan"))
    with pytest.raises(ConfigError, match="one of mean, max"):
        Option("mean", choices=("mean", "max")).convert("agg", "median", "recipe.yaml")
    assert Option(["lung"]).convert("windows", "lung, bone") == ["lung", "bone"]
    assert Option(None, type=str).convert("column", None) is None
    with pytest.raises(ConfigError, match="cannot be empty"):
        Option(3).convert("n", None)


def test_cli_bad_option_is_one_line_and_plugins_info_prints_option_help(toy_target):
    out = zoo("finetune", "--plugin", "toy", "-o", "samples=.nan", path=toy_target)
    assert out.returncode == 2
    assert out.stderr.strip() == "Error: command line: option samples must be a finite number, got nan" or \
        out.stderr.strip().startswith("Error: command line: option samples must be an integer")
    assert len(out.stderr.strip().splitlines()) == 1
    info = zoo("plugins", "info", "toy", path=toy_target)
    assert info.returncode == 0, info.stderr
    assert "samples" in info.stdout and "demo images to generate" in info.stdout and ">= 12" in info.stdout


# --------------------------------------------------------------------------- a kind the core does not ship

@pytest.mark.slow
def test_a_plugins_own_task_kind_trains_exports_verifies_and_predicts(tmp_path):
    from zoo_toy import make_levels, ordinal_plugin

    from zoo.deploy import export_run, predict
    from zoo.training.finetune import finetune

    recipe = ordinal_plugin.resolve_recipe()
    with registered(ordinal_plugin):
        result = finetune(ordinal_plugin, recipe, runs_dir=tmp_path / "runs", verbose=0)
        meta = json.loads((result.path / "zoo.json").read_text())
        assert meta["task"]["kind"] == "ordinal" and meta["task"]["class"] == "zoo_toy.ordinal:Ordinal"
        assert result.model.output_shape == (None, 2)  # K-1 cumulative outputs
        assert result.metrics["rank_accuracy"] > 0.9 and result.metrics["rank_mae"] < 0.1
        assert (result.path / "plots" / "confusion_matrix.png").is_file()
        x, y = make_levels(9, 11)
        np.savez(tmp_path / "levels.npz", x=x, y=y)
        for fmt in ("savedmodel", "tflite", "onnx"):
            report = export_run(result.path, fmt)
            assert report.verification.passed and report.verification.agreement_kind == "same rank"
            assert report.verification.agreement == 1.0
            rows = predict(report.path, [str(tmp_path / "levels.npz")])
            assert [r["input"] for r in rows] == [f"{tmp_path / 'levels.npz'}#{i}" for i in range(9)]
            assert np.mean([r["rank"] for r in rows] == y) > 0.8
            assert {r["level"] for r in rows} <= {"low", "mid", "high"}


# --------------------------------------------------------------------------- versions

V1_PLUGIN = '''
from zoo.api import BackboneSpec, DataAdapter, DataBundle, Plugin, TaskSpec, TensorSpec

def build(weights, input_signature):
    import keras
    inputs = keras.Input((8,), name="x")
    return keras.Model(inputs, keras.layers.Dense(4, name="dense")(inputs))

class Data(DataAdapter):
    options = {"rows": 120}

    def demo(self, options):
        import numpy as np, tensorflow as tf
        rng = np.random.default_rng(options.seed)
        x = rng.normal(size=(options.options["rows"], 8)).astype("float32")
        y = (x[:, 0] > 0).astype("int32")
        ds = lambda a, b: tf.data.Dataset.from_tensor_slices(({"x": a}, b))
        return DataBundle(ds(x[:90], y[:90]), ds(x[90:], y[90:]), None, ["neg", "pos"], {"x": TensorSpec((8,))})

    def read_inputs(self, paths, input_signature):
        import numpy as np
        return {"x": np.concatenate([np.load(p) for p in paths])}

plugin = Plugin(name="legacy", domain="testing", summary="written to contract 1",
                backbones={"tiny": BackboneSpec("tiny", build, lambda m: [["dense"]])},
                default_backbone="tiny", task=TaskSpec("binary"), data=Data(), recipe={"epochs": 2})
'''

FUTURE_PLUGIN = V1_PLUGIN.replace('default_backbone="tiny",', 'default_backbone="tiny", contract=3,').replace(
    '"legacy"', '"future"')
MISDECLARED = V1_PLUGIN.replace('default_backbone="tiny",', 'default_backbone="tiny", contract=2,').replace(
    '"legacy"', '"misdeclared"')


@pytest.fixture(scope="module")
def versions_site(tmp_path_factory):
    src, target = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("site")
    for name, body in (("legacy", V1_PLUGIN), ("future", FUTURE_PLUGIN), ("misdeclared", MISDECLARED)):
        pip_install_target(write_distribution(src, f"keras-zoo-{name}", f"zoo_{name}", body,
                                              {"keras_zoo.plugins": {name: f"zoo_{name}:plugin"}}), target)
    return target


def test_newer_and_misdeclared_contracts_are_broken_with_one_line(versions_site):
    out = zoo("plugins", "list", "--json", path=versions_site)
    entries = {e["name"]: e for e in json.loads(out.stdout)["plugins"]}
    assert entries["legacy"]["status"] == "ok"
    assert entries["future"]["status"] == "broken"
    assert entries["future"]["reason"] == ("written for plugin contract 3; this keras-zoo supports up to 2: "
                                           "pip install -U keras-zoo")
    assert entries["misdeclared"]["status"] == "broken"
    assert "declares contract 2 but backbone 'tiny': build(weights, input_signature)" in entries["misdeclared"]["reason"]
    out = zoo("finetune", "--plugin", "future", path=versions_site)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "contract 3" in out.stderr


@pytest.mark.slow
def test_a_contract_1_plugin_still_fine_tunes_and_predicts_with_one_warning(versions_site, tmp_path):
    out = zoo("finetune", "--plugin", "legacy", "--runs-dir", str(tmp_path / "runs"), path=versions_site)
    assert out.returncode == 0, out.stderr
    warned = [line for line in out.stderr.splitlines() if "ZooDeprecationWarning" in line]
    assert len(warned) == 1 and "contract 1" in warned[0] and "declare contract=2" in warned[0]
    run = next((tmp_path / "runs").iterdir())
    np.save(tmp_path / "x.npy", np.eye(8, dtype="float32")[:3])
    pred = zoo("predict", str(run), str(tmp_path / "x.npy"), "--json", path=versions_site)
    assert pred.returncode == 0, pred.stderr
    rows = json.loads(pred.stdout)
    assert len(rows) == 3 and all(r["label"] in ("neg", "pos") for r in rows)


def test_contract_1_plugin_in_process_warns_once(toy_plugin):
    from zoo import contract

    legacy = dataclasses.replace(toy_plugin, name="toy-legacy", contract=None,
                                 backbones={"toy_cnn": dataclasses.replace(
                                     toy_plugin.backbones["toy_cnn"], build=lambda w, s: None)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert contract.version_of(legacy) == 1
        assert contract.version_of(legacy) == 1
    assert [w.category for w in caught] == [ZooDeprecationWarning]


# --------------------------------------------------------------------------- check_plugin

def test_check_plugin_proves_the_whole_path(toy_plugin, tmp_path):
    report = check_plugin(toy_plugin, recipe={"options": {"samples": 120}}, workdir=tmp_path)
    assert report["contract"] == 2 and report["backbones"]["toy_cnn"]["blocks"] == 3
    assert report["export"]["format"] == "savedmodel" and report["export"]["max_abs_diff"] < 1e-4
    assert report["predict"]["rows"] == 12
    assert (tmp_path / "examples" / "examples.npz").is_file()


def test_check_plugin_lists_every_failure_with_its_hook_and_fix(toy_plugin):
    from zoo_toy import ToyData

    class Broken(ToyData):
        def demo(self, recipe, options):
            bundle = super().demo(recipe, options)
            bundle.augment = lambda x, training=False: x["pixels"]  # a tensor, not the dict
            bundle.class_names = ["red", "green"]                    # labels go up to 2
            return bundle

    def bad_blocks(model):
        return [["conv1"]]

    spec = dataclasses.replace(toy_plugin.backbones["toy_cnn"], blocks=bad_blocks)
    plugin = dataclasses.replace(toy_plugin, name="toy-broken", data=Broken(), backbones={"toy_cnn": spec},
                                 preview=lambda inputs, recipe, options, metadata: inputs["pixels"].tobytes())
    with pytest.raises(AssertionError) as caught:
        check_plugin(plugin, recipe={"options": {"samples": 60}}, check_import=False)
    text = str(caught.value)
    assert "Plugin.preview raised ValueError: the bytes returned are neither PNG nor JPEG" in text
    assert "DataAdapter.demo: train labels" in text and "outside the 2 classes" in text
    assert "DataBundle.augment" in text and "same keys" in text
    assert "backbone 'toy_cnn'" in text and "blocks(model)" in text
    assert len([line for line in text.splitlines() if line.startswith("- ")]) >= 5


def test_rows_must_tie_every_row_to_a_source():
    from zoo.api import Rows
    from zoo.errors import PluginError

    with pytest.raises(PluginError, match="one source per row"):
        Rows({"x": np.zeros((3, 2))}, ["a", "b"]).check()


def test_default_adapter_reports_one_row_per_source():
    from zoo.api import Rows

    rows = Rows({"x": np.zeros((2, 1))}, ["a.csv:2", "a.csv:3"])
    assert [name for name, _ in DataAdapter().group_predictions(rows, np.ones((2, 1)), Options())] == \
        ["a.csv:2", "a.csv:3"]


def test_plugin_api_all_names_the_contract():
    import zoo.api

    assert zoo.api.CONTRACT_VERSION == 2
    for name in zoo.api.__all__:
        assert getattr(zoo.api, name) is not None
    assert isinstance(Plugin.__dataclass_fields__["options"].default_factory(), dict)
