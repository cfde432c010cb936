"""`zoo finetune` / `zoo evaluate` end to end through the command, with the toy plugin pip-installed."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from zoo_cli_helpers import zoo


def runs(folder):
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


def test_finetune_then_evaluate(toy_target, tmp_path):
    out = zoo("finetune", "--plugin", "toy", "--strategy", "full", "--epochs", "2", "--runs-dir", str(tmp_path),
              path=toy_target)
    assert out.returncode == 0, out.stderr
    (run,) = runs(tmp_path)
    assert f"run: {run}" in out.stdout and "validation: loss=" in out.stdout
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["status"] == "complete"
    assert meta["recipe"]["strategy"] == "full" and meta["recipe"]["epochs"] == 2
    assert meta["class_names"] == ["red", "green", "blue"]
    for name in ("model.keras", "history.csv", "MODEL_CARD.md", "plots/curves.png", "plots/confusion_matrix.png"):
        assert (run / name).is_file(), name
    out = zoo("evaluate", "--runs-dir", str(tmp_path), path=toy_target)
    assert out.returncode == 0, out.stderr
    saved = json.loads((run / "evaluation.json").read_text())
    assert saved["split"] == "test" and 0 <= saved["metrics"]["accuracy"] <= 1


def test_config_file_and_target_stop(toy_target, tmp_path):
    config = tmp_path / "recipe.yaml"
    config.write_text("strategy: full\nepochs: 30\nlearning_rate: 0.02\n")
    out = zoo("finetune", "-p", "toy", "-c", str(config), "--target", "val_accuracy>=0.8",
              "--runs-dir", str(tmp_path / "runs"), path=toy_target)
    assert out.returncode == 0, out.stderr
    (run,) = runs(tmp_path / "runs")
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["stopped_by"].startswith("target val_accuracy>=0.8 reached")
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert len(rows) < 30 and float(rows[-1]["val_accuracy"]) >= 0.8


@pytest.mark.parametrize("args, message", [
    (["--strategy", "freeze-most"], "Invalid value for '--strategy'"),
    (["--strategy", "partial", "--trainable-blocks", "12"], "--trainable-blocks 12 is more than the backbone's 3 blocks"),
    (["--target", "val_f1>=0.9"], "--target metric 'val_f1' is not logged"),
    (["-o", "colour=red"], "unknown plugin option 'colour'"),
])
def test_bad_options_exit_2_and_write_no_run(toy_target, tmp_path, args, message):
    out = zoo("finetune", "-p", "toy", "--runs-dir", str(tmp_path), *args, path=toy_target)
    assert out.returncode == 2
    assert message in out.stderr
    assert not runs(tmp_path)


def test_labels_that_do_not_match_the_task_exit_2(toy_target, tmp_path):
    from zoo_toy import make_arrays

    x, y = make_arrays(60, 0)
    y[5] = 7  # class 7 of 3
    np.savez(tmp_path / "bad.npz", x=x, y=y)
    out = zoo("finetune", "-p", "toy", "--data", str(tmp_path / "bad.npz"), "--runs-dir", str(tmp_path / "runs"),
              path=toy_target)
    assert out.returncode == 2
    assert "label 7 is outside the 3 classes" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not runs(tmp_path / "runs")


def test_evaluate_without_runs_is_a_clear_error(tmp_path):
    out = zoo("evaluate", "--runs-dir", str(tmp_path))
    assert out.returncode == 2 and "no complete run under" in out.stderr


def test_killed_run_resumes_without_losing_or_repeating_epochs(toy_target, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(toy_target))
    cmd = [sys.executable, "-m", "zoo.cli", "finetune", "-p", "toy", "--strategy", "full", "--epochs", "4",
           "-o", "samples=6000", "--runs-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = None
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            found = runs(tmp_path)
            if found and (found[0] / "history.csv").is_file():
                history = found[0] / "history.csv"
                if len(list(csv.DictReader(open(history)))) >= 2:
                    break
            assert proc.poll() is None, "the run finished before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    run = history.parent
    done_before = len(list(csv.DictReader(open(history))))
    assert 2 <= done_before < 4
    assert json.loads((run / "zoo.json").read_text())["status"] == "running"
    out = zoo("evaluate", str(run))  # an interrupted run is not offered as finished
    assert out.returncode == 2 and "not complete" in out.stderr
    out = zoo("finetune", "--resume", str(run), path=toy_target)
    assert out.returncode == 0, out.stderr
    epochs = [int(r["epoch"]) for r in csv.DictReader(open(run / "history.csv"))]
    assert epochs == [0, 1, 2, 3]
    assert json.loads((run / "zoo.json").read_text())["status"] == "complete"
