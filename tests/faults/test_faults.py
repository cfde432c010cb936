"""Fault injection: kills at each phase of finetune and export, corrupt run files, bad input.

Every fault must end in one of two ways: the work survives (a resume finishes the run, the
next export cleans up), or one `Error:` line and exit code 2, with nothing written that looks
finished. The toy plugin (pip-installed, seconds per run) stands in for a real one.
"""

import json
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from zoo_cli_helpers import zoo

KILLER = textwrap.dedent("""\
    import os, signal, sys, importlib
    module, name, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    target = importlib.import_module(module)
    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    setattr(target, name, die)
    from zoo.cli import main
    sys.argv = ["zoo"] + argv
    main()
    """)


def killed(toy_target, tmp_path, module, function, *argv):
    """Run `zoo ARGV` in a process that SIGKILLs itself when `module.function` is called."""
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(toy_target), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(script), module, function, *argv], capture_output=True, text=True,
                          env=env, timeout=600)


def one_line_error(out, *needles):
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), out.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def finished(toy_target, tmp_path_factory):
    """One complete toy run and its ONNX export (copied by tests that corrupt files)."""
    root = tmp_path_factory.mktemp("finished")
    out = zoo("finetune", "-p", "toy", "--strategy", "full", "--epochs", "2", "--runs-dir", str(root / "runs"),
              "-o", "samples=90", path=toy_target)
    assert out.returncode == 0, out.stderr
    run = next((root / "runs").iterdir())
    out = zoo("export", str(run), "--format", "onnx", path=toy_target)
    assert out.returncode == 0, out.stderr
    from zoo_toy import make_arrays

    x, y = make_arrays(4, 3)
    np.savez(root / "in.npz", x=x, y=y)
    return run, root / "in.npz"


def copy_run(run, tmp_path):
    import shutil

    target = tmp_path / "runs" / run.name
    shutil.copytree(run, target)
    return target


# --------------------------------------------------------------------------- kills

def test_kill_after_the_last_epoch_resumes_without_training_again(toy_target, tmp_path):
    runs = tmp_path / "runs"
    out = killed(toy_target, tmp_path, "zoo.reports", "write_model_card", "finetune", "-p", "toy", "--strategy",
                 "full", "--epochs", "3", "--patience", "2", "--runs-dir", str(runs), "-o", "samples=90")
    assert out.returncode == -9, out.stderr[-2000:]
    run = next(runs.iterdir())
    assert json.loads((run / "zoo.json").read_text())["status"] == "running"
    assert (run / "checkpoints" / "backup" / "state.json").is_file()  # kept until the run is complete
    history = (run / "history.csv").read_text()
    stamp = (run / "history.csv").stat().st_mtime_ns
    out = zoo("finetune", "--resume", str(run), path=toy_target)
    assert out.returncode == 0, out.stderr
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["status"] == "complete" and meta["epochs_run"] == 3
    assert (run / "history.csv").read_text() == history and (run / "history.csv").stat().st_mtime_ns == stamp
    assert not (run / "checkpoints" / "backup").exists()


def test_kill_between_sidecar_and_artifact_leaves_no_orphan_artifact(toy_target, finished, tmp_path):
    run = copy_run(finished[0], tmp_path)
    out = killed(toy_target, tmp_path, "zoo_export.export", "_place", "export", str(run), "--format", "tflite")
    assert out.returncode == -9
    exports = run / "exports"
    assert not (exports / "model.tflite").exists()
    assert [p.name for p in exports.glob(".model.partial-*")], "the killed export left its temporary file"
    out = zoo("predict", str(exports / "model.tflite"), str(finished[1]), path=toy_target)
    one_line_error(out, "does not exist")
    out = zoo("export", str(run), "--format", "tflite", path=toy_target)
    assert out.returncode == 0, out.stderr
    assert (exports / "model.tflite").is_file() and (exports / "model.tflite.zoo.json").is_file()
    assert not [p for p in exports.iterdir() if ".partial" in p.name], sorted(p.name for p in exports.iterdir())


def test_two_resumes_of_one_run_cannot_run_at_once(toy_target, finished, tmp_path):
    from zoo.training import rundir

    run = copy_run(finished[0], tmp_path)
    meta = json.loads((run / "zoo.json").read_text())
    meta["status"] = "running"
    (run / "zoo.json").write_text(json.dumps(meta))
    with rundir.locked(run):
        out = zoo("finetune", "--resume", str(run), path=toy_target)
    one_line_error(out, "is in use by process")


def test_resume_refuses_options_it_cannot_apply_and_applies_more_epochs(toy_target, tmp_path):
    runs = tmp_path / "runs"
    out = killed(toy_target, tmp_path, "zoo.reports", "write_model_card", "finetune", "-p", "toy", "--strategy",
                 "full", "--epochs", "2", "--runs-dir", str(runs), "-o", "samples=90")
    run = next(runs.iterdir())
    one_line_error(zoo("finetune", "--resume", str(run), "--epochs", "3", "--lr", "0.5", path=toy_target),
                   "drop --learning-rate", "only --epochs may change")
    one_line_error(zoo("finetune", "--resume", str(run), "-o", "samples=30", path=toy_target), "drop -o")
    out = zoo("finetune", "--resume", str(run), "--epochs", "3", path=toy_target)
    assert out.returncode == 0, out.stderr
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["epochs_run"] == 3 and meta["recipe"]["epochs"] == 3
    assert meta["resumes"][-1]["epochs"] == 3


# --------------------------------------------------------------------------- corrupt files

@pytest.mark.parametrize("damage, needle", [
    ("truncate-npz", "backup"), ("garbage-state", "backup"),
])
def test_corrupt_backup_on_resume_is_one_line(toy_target, tmp_path, damage, needle):
    runs = tmp_path / "runs"
    killed(toy_target, tmp_path, "zoo.reports", "write_model_card", "finetune", "-p", "toy", "--strategy", "full",
           "--epochs", "2", "--runs-dir", str(runs), "-o", "samples=90")
    run = next(runs.iterdir())
    backup = run / "checkpoints" / "backup"
    if damage == "truncate-npz":
        npz = next(backup.glob("epoch-*.npz"))
        npz.write_bytes(npz.read_bytes()[:100])
    else:
        (backup / "state.json").write_text("{not json")
    one_line_error(zoo("finetune", "--resume", str(run), path=toy_target), needle, "remove")
    assert json.loads((run / "zoo.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("damage, needle", [
    ("model-truncated", "not a complete .keras file"),
    ("json-not-object", "not the run's record"),
    ("json-missing-keys", "lacks 'class_names'"),
])
def test_corrupt_run_files_are_one_line_errors(toy_target, finished, tmp_path, damage, needle):
    run = copy_run(finished[0], tmp_path)
    if damage == "model-truncated":
        model = run / "model.keras"
        model.write_bytes(model.read_bytes()[:2000])
    elif damage == "json-not-object":
        (run / "zoo.json").write_text("[1, 2, 3]")
    else:
        meta = json.loads((run / "zoo.json").read_text())
        del meta["class_names"]
        (run / "zoo.json").write_text(json.dumps(meta))
    for args in (("export", str(run), "--format", "savedmodel"), ("evaluate", str(run)),
                 ("predict", str(run), str(finished[1]))):
        one_line_error(zoo(*args, path=toy_target), needle)


def test_broken_sidecar_and_lambda_model_are_one_line_errors(toy_target, finished, tmp_path):
    run = copy_run(finished[0], tmp_path)
    (run / "exports" / "model.onnx.zoo.json").write_text("{\"plugin\": ")
    one_line_error(zoo("predict", str(run / "exports" / "model.onnx"), str(finished[1]), path=toy_target),
                   "model.onnx.zoo.json")
    code = ("import keras\n"
            "def double(x):\n    return x * 2\n"
            "i = keras.Input((3,))\n"
            f"keras.Model(i, keras.layers.Lambda(double)(i)).save({str(run / 'model.keras')!r})\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    one_line_error(zoo("export", str(run), "--format", "onnx", "--force", path=toy_target), "Lambda")


# --------------------------------------------------------------------------- bad input on the command line

@pytest.mark.parametrize("args, needle", [
    (["--lr", "nan"], "learning_rate must be a finite number"),
    (["--lr", "inf"], "learning_rate must be a finite number"),
    (["--reg-weight", "nan"], "reg_weight must be a finite number"),
    (["--weight-decay", "-5"], "weight_decay must be >= 0"),
    (["--seed", "-1"], "seed must be in [0, 2**32)"),
    (["--epochs", "1e23"], "'1e23' is not a valid integer"),
    (["--epochs", "100000000000000000000000"], "epochs must be at most 100,000"),
    (["--strategy", "nope"], "'nope' is not one of"),
    (["-o", "samples=[1,"], "not valid YAML"),
    (["-o", "samples=.nan"], "option samples must be an integer"),
])
def test_bad_values_are_refused_before_anything_is_written(toy_target, tmp_path, args, needle):
    runs = tmp_path / "runs"
    one_line_error(zoo("finetune", "-p", "toy", "--runs-dir", str(runs), *args, path=toy_target), needle)
    assert not runs.exists() or not list(runs.iterdir())


def test_binary_config_and_runs_dir_that_is_a_file(toy_target, tmp_path):
    config = tmp_path / "recipe.yaml"
    config.write_bytes(bytes(range(256)) * 4)
    one_line_error(zoo("finetune", "-p", "toy", "--config", str(config), "--runs-dir", str(tmp_path / "r"),
                       path=toy_target), "is not text")
    afile = tmp_path / "not-a-folder"
    afile.write_text("x")
    one_line_error(zoo("finetune", "-p", "toy", "--runs-dir", str(afile), path=toy_target), "is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_runs_dir_and_out_are_one_line(toy_target, finished, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        one_line_error(zoo("finetune", "-p", "toy", "--runs-dir", str(locked / "runs"), path=toy_target),
                       "permission denied")
        one_line_error(zoo("export", str(finished[0]), "--format", "onnx", "--out", str(locked / "m.onnx"),
                           path=toy_target), "not writable")
    finally:
        locked.chmod(0o700)


def test_runs_dir_and_out_where_nothing_can_be_written_are_one_line(toy_target, finished):
    """/proc refuses new folders even to root, so this runs wherever the tests run."""
    one_line_error(zoo("finetune", "-p", "toy", "--runs-dir", "/proc/zoo-runs", path=toy_target),
                   "--runs-dir /proc/zoo-runs cannot be created")
    one_line_error(zoo("export", str(finished[0]), "--format", "onnx", "--out", "/proc/zoo-exports/m.onnx",
                       path=toy_target), "cannot write to /proc/zoo-exports")


def test_atol_nan_is_refused(toy_target, finished):
    one_line_error(zoo("export", str(finished[0]), "--format", "onnx", "--atol", "nan", "--force",
                       path=toy_target), "--atol must be a finite number")


# --------------------------------------------------------------------------- silently wrong

def test_a_run_whose_loss_becomes_nan_fails_and_says_to_lower_the_learning_rate(toy_target, tmp_path):
    runs = tmp_path / "runs"
    out = zoo("finetune", "-p", "toy", "--strategy", "full", "--optimizer", "sgd", "--lr", "1e12", "--epochs", "2",
              "--runs-dir", str(runs), "-o", "samples=90", path=toy_target)
    one_line_error(out, "loss became", "lower the learning rate")
    meta = json.loads((next(runs.iterdir()) / "zoo.json").read_text())
    assert meta["status"] == "failed"


def test_files_a_run_and_an_export_write_follow_the_umask(toy_target, finished):
    run = finished[0]
    for path in (run / "zoo.json", run / "MODEL_CARD.md", run / "model.keras", run / "exports" / "model.onnx",
                 run / "exports" / "model.onnx.zoo.json"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o044 == 0o044, (path.name, oct(mode))  # the test runs under the default umask 022


def test_commands_without_a_run_pick_the_newest_fine_tuning_run_not_a_pretraining_one(finished, tmp_path):
    from zoo.training import rundir

    run = copy_run(finished[0], tmp_path)
    pre = tmp_path / "runs" / "toy-pretrain-29990101-000000"
    pre.mkdir()
    (pre / "zoo.json").write_text(json.dumps({"kind": "pretrain", "status": "complete", "plugin": "toy",
                                              "backbone": "toy_cnn", "finished": "2999-01-01T00:00:00"}))
    assert rundir.newest_run(tmp_path / "runs") == run
    assert rundir.newest_run(tmp_path / "runs", kind="pretrain") == pre


@pytest.mark.slow
def test_deterministic_runs_give_identical_histories(toy_target, tmp_path):
    histories = []
    for i in range(2):
        runs = tmp_path / f"runs{i}"
        out = zoo("finetune", "-p", "toy", "--strategy", "full", "--epochs", "2", "--deterministic", "--seed", "3",
                  "--runs-dir", str(runs), "-o", "samples=120", path=toy_target)
        assert out.returncode == 0, out.stderr
        histories.append((next(runs.iterdir()) / "history.csv").read_text())
    assert histories[0] == histories[1]


def test_early_stopping_breaks_ties_by_validation_loss():
    import keras

    from zoo.training.callbacks import EarlyStopping

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    stop = EarlyStopping(monitor="val_accuracy", mode="max", patience=5, restore_best_weights=True)
    stop.set_model(model)
    stop.on_train_begin()
    for epoch, (accuracy, loss) in enumerate([(0.5, 0.9), (1.0, 0.4), (1.0, 0.01), (1.0, 0.2)]):
        model.layers[0].kernel.assign([[float(epoch)]])
        stop.on_epoch_end(epoch, {"val_accuracy": accuracy, "val_loss": loss})
    stop.on_train_end()
    assert stop.best_epoch == 2 and float(model.layers[0].kernel.numpy()[0, 0]) == 2.0


def test_min_epochs_keeps_an_early_spike_from_being_the_best():
    """recipe min_epochs -> start_from_epoch: a lucky epoch 0 is not restored, and does not start the patience."""
    import keras

    from zoo.training.callbacks import EarlyStopping
    from zoo.training.recipe import Recipe

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    recipe = Recipe(min_epochs=3, patience=2)
    stop = EarlyStopping(monitor="val_auc", mode="max", patience=recipe.patience, restore_best_weights=True,
                         start_from_epoch=recipe.min_epochs)
    stop.set_model(model)
    model.stop_training = False
    stop.on_train_begin()
    for epoch, auc in enumerate([0.95, 0.80, 0.82, 0.85, 0.88, 0.86, 0.87]):
        model.layers[0].kernel.assign([[float(epoch)]])
        stop.on_epoch_end(epoch, {"val_auc": auc, "val_loss": 1.0 - auc})
        if model.stop_training:
            break
    stop.on_train_end()
    assert stop.best_epoch == 4 and float(model.layers[0].kernel.numpy()[0, 0]) == 4.0
    assert stop.stopped_epoch == 6  # patience counted from epoch 3 on
    with pytest.raises(Exception, match="min_epochs must be >= 0"):
        Recipe(min_epochs=-1).validate()


# --------------------------------------------------------------------------- predict at scale

def test_predict_reports_an_unreadable_input_on_its_line_and_predicts_the_rest(toy_target, finished, tmp_path):
    good = finished[1]
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a numpy archive")
    inputs = [str(good), str(bad), str(good)]
    out = zoo("predict", str(finished[0]), *inputs, path=toy_target)
    assert out.returncode == 1, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 9 and lines[4].startswith(f"{bad}: ERROR ") and "not a toy .npz" in lines[4]
    assert sum(line.startswith(f"{good}#") for line in lines) == 8
    assert "1 input(s) could not be read" in out.stderr
    out = zoo("predict", str(finished[0]), *inputs, "--json", path=toy_target)
    rows = json.loads(out.stdout)
    assert out.returncode == 1 and [r for r in rows if "error" in r][0]["input"] == str(bad)
    one_line_error(zoo("predict", str(finished[0]), *inputs, "--strict", path=toy_target), "not a toy .npz")
    drawing = zoo("predict", str(finished[0]), str(good), "--json", "--draw", str(tmp_path / "drawn"), path=toy_target)
    one_line_error(drawing, "predicts none; drop --draw")
    assert drawing.stdout == "" and not (tmp_path / "drawn").exists()  # no half-written JSON, no folder


def test_predict_reads_inputs_a_chunk_at_a_time(toy_plugin, finished, tmp_path, monkeypatch):
    from zoo.deploy import iter_predict
    from zoo.testing import registered
    from zoo_toy import ToyData

    seen = []
    original = ToyData.read_inputs

    def spy(self, paths, *args):
        seen.append(len(paths))
        return original(self, paths, *args)

    monkeypatch.setattr(ToyData, "read_inputs", spy)
    with registered(toy_plugin):
        rows = list(iter_predict(finished[0], [str(finished[1])] * 10, chunk=4))
    assert seen == [4, 4, 2] and len(rows) == 40


def test_int8_export_prints_no_native_converter_lines(toy_target, finished, tmp_path):
    run = copy_run(finished[0], tmp_path)
    out = zoo("export", str(run), "--format", "tflite", "--quantize", "int8", "--min-agreement", "0",
              path=toy_target)
    assert out.returncode == 0, out.stderr
    assert "fully_quantize" not in out.stderr and "inference_type" not in out.stderr, out.stderr


def test_quantised_exports_are_verified_at_the_runs_decision_threshold(toy_plugin, tmp_path):
    """Deployments decide at the run's threshold; verification must count agreement there, not at 0.5."""
    import dataclasses

    from zoo.api import TaskSpec
    from zoo.deploy import export_run
    from zoo.testing import registered
    from zoo.training.finetune import finetune
    from zoo_toy import ToyData, make_arrays

    def two_classes(n, seed):
        x, y = make_arrays(n, seed)
        return x, (y == 0).astype("int32")

    plugin = dataclasses.replace(toy_plugin, name="toy-binary", task=TaskSpec("binary"),
                                 data=ToyData(two_classes, ["other", "red"]),
                                 analyze=lambda run, recipe, options, validation, test: {"decision_threshold": 0.3})
    recipe = plugin.resolve_recipe(overrides={"strategy": "full", "epochs": 2, "options": {"samples": 120}})
    with registered(plugin):
        result = finetune(plugin, recipe, runs_dir=tmp_path, verbose=0)
        report = export_run(result.path, "tflite", quantize="dynamic")
    assert report.verification.agreement_kind == "decision@0.3"
    assert json.loads(report.sidecar_path.read_text())["verification"]["agreement_kind"] == "decision@0.3"


def test_predict_on_an_onnx_artifact_does_not_start_tensorflow(toy_target, finished):
    """Start-up: a .onnx / .tflite artifact with a reader that needs no TensorFlow skips importing it."""
    code = ("import sys; from zoo.cli import cli\n"
            "try:\n    cli(sys.argv[1:], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "print('TF' if 'tensorflow' in sys.modules else 'NO-TF')")
    env = dict(os.environ, PYTHONPATH=str(toy_target))
    out = subprocess.run([sys.executable, "-c", code, "predict", str(finished[0] / "exports" / "model.onnx"),
                          str(finished[1])], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "NO-TF" and len(lines) == 5
