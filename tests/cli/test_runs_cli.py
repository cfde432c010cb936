"""`zoo runs list`, `zoo runs compare` and `zoo finetune --track mlflow` on real toy runs."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zoo_cli_helpers import zoo

QUICK = ("--epochs", "2", "-o", "samples=90")


def _imported(stderr: str) -> set[str]:
    """Top-level module names listed by `python -X importtime`."""
    return {m.group(1).split(".")[0] for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", stderr, re.M)}


def _zoo_importtime(*args, path, cwd, env=None):
    import os

    environ = dict(os.environ, **(env or {}))
    environ["PYTHONPATH"] = os.pathsep.join([str(path), environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "zoo.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=environ, timeout=600)


@pytest.fixture(scope="module")
def two_runs(toy_target, tmp_path_factory):
    """A tracked linear-probe run and an untracked full fine-tuning run of the toy plugin."""
    work = tmp_path_factory.mktemp("runs_cli")
    store = (work / "store").resolve().as_uri()
    tracked = zoo("finetune", "--plugin", "toy", *QUICK, "--runs-dir", "runs", "--track", "mlflow",
                  path=toy_target, cwd=work, env={"MLFLOW_TRACKING_URI": store})
    assert tracked.returncode == 0, tracked.stderr[-3000:]
    plain = _zoo_importtime("finetune", "--plugin", "toy", *QUICK, "--strategy", "full", "--lr", "0.003",
                            "--runs-dir", "runs", path=toy_target, cwd=work)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert "mlflow" not in _imported(plain.stderr)  # not imported unless --track mlflow
    runs = [Path(work / re.search(r"^run: (.+)$", out.stdout, re.M).group(1)) for out in (tracked, plain)]
    return work, store, runs, tracked


def test_runs_list_shows_both_runs_without_tensorflow(two_runs, toy_target):
    work, _, runs, _ = two_runs
    out = _zoo_importtime("runs", "list", "--json", path=toy_target, cwd=work)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not {"tensorflow", "keras", "mlflow"} & _imported(out.stderr)
    rows = {r["run"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {r.name for r in runs}
    for run in runs:
        row = rows[run.name]
        meta = json.loads((run / "zoo.json").read_text())
        assert row["plugin"] == "toy" and row["backbone"] == "toy_cnn" and row["status"] == "complete"
        assert row["monitor"] == "val_accuracy"
        assert row["metric"] == pytest.approx(meta["metrics"]["validation"]["accuracy"])
        assert row["date"] == meta["started"]
    assert rows[runs[0].name]["strategy"] == "linear-probe" and rows[runs[1].name]["strategy"] == "full"
    table = zoo("runs", "list", path=toy_target, cwd=work)
    assert table.returncode == 0 and all(r.name in table.stdout for r in runs)
    assert "val_accuracy=" in table.stdout


def test_runs_compare_writes_one_self_contained_page(two_runs, toy_target):
    from PIL import Image

    work, _, runs, _ = two_runs
    out = _zoo_importtime("runs", "compare", *map(str, runs), "--out", "cmp.html", path=toy_target, cwd=work)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not {"tensorflow", "keras"} & _imported(out.stderr)
    page = (work / "cmp.html").read_text()
    recipe = page.split('<section id="recipe">', 1)[1].split("</section>", 1)[0]
    differing = recipe.split("<details>", 1)[0]
    assert "strategy" in differing and "learning_rate" in differing and "seed" not in differing
    assert "linear-probe" in differing and "full" in differing
    metrics = page.split('<section id="metrics">', 1)[1].split("</section>", 1)[0]
    assert "validation accuracy" in metrics and "test loss" in metrics
    images = re.findall(r'<img\b[^>]*\bsrc="data:image/png;base64,([^"]+)"', page)
    assert images and not re.search(r"(src|href)=\"(https?:|//|file:)", page)
    for data in images:
        Image.open(io.BytesIO(base64.b64decode(data))).load()
    one = zoo("runs", "compare", str(runs[0]), path=toy_target, cwd=work)
    assert one.returncode == 2 and one.stderr.startswith("Error: give at least two RUN")


def test_track_mlflow_logs_params_metrics_per_epoch_and_artifacts(two_runs, toy_target, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for it to read a file store

    work, store, runs, tracked = two_runs
    run = runs[0]
    meta = json.loads((run / "zoo.json").read_text())
    info = meta["tracking"]["mlflow"]
    assert info["tracking_uri"] == store and f"mlflow run: {info['run_id']}" in tracked.stdout
    client = MlflowClient(tracking_uri=store)
    record = client.get_run(info["run_id"])
    assert record.info.status == "FINISHED" and record.info.run_name == run.name
    params = record.data.params
    assert params["plugin"] == "toy" and params["strategy"] == "linear-probe" and params["epochs"] == "2"
    assert params["options.samples"] == "90"
    history = [r.split(",") for r in (run / "history.csv").read_text().splitlines()]
    column = history[0].index("val_loss")
    logged = sorted(client.get_metric_history(info["run_id"], "val_loss"), key=lambda m: m.step)
    assert [m.step for m in logged] == [0, 1]
    assert [m.value for m in logged] == pytest.approx([float(r[column]) for r in history[1:]])
    assert record.data.metrics["validation/accuracy"] == pytest.approx(meta["metrics"]["validation"]["accuracy"])
    names = {a.path for a in client.list_artifacts(info["run_id"])}
    assert {"report.html", "MODEL_CARD.md", "model.keras", "zoo.json", "history.csv", "plots"} <= names
    assert info["run_id"] in (run / "report.html").read_text()

    export = zoo("export", str(run), "--format", "tflite", "--samples", "16", path=toy_target, cwd=work)
    assert export.returncode == 0, export.stderr[-3000:]
    exported = {a.path for a in client.list_artifacts(info["run_id"], "exports")}
    assert exported == {"exports/model.tflite", "exports/model.tflite.zoo.json"}
    assert "model.tflite" in (run / "report.html").read_text().split('<section id="exports">', 1)[1]


def test_track_mlflow_without_mlflow_is_one_line_before_training(toy_target, tmp_path):
    code = ("import sys; sys.modules['mlflow'] = None; from zoo.cli import main; "
            "sys.argv = ['zoo', 'finetune', '--plugin', 'toy', '--track', 'mlflow', '--runs-dir', 'runs']; main()")
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(toy_target), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=300)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == ("Error: --track mlflow needs MLflow, which is not installed: "
                                                   "pip install 'keras-zoo[mlflow]'")
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_evaluate_refreshes_the_report(two_runs, toy_target):
    work, _, runs, _ = two_runs
    run = runs[1]
    before = (run / "report.html").read_text()
    assert "zoo evaluate (" not in before
    out = zoo("evaluate", str(run), path=toy_target, cwd=work)
    assert out.returncode == 0, out.stderr[-2000:]
    metrics = (run / "report.html").read_text().split('<section id="metrics">', 1)[1].split("</section>", 1)[0]
    assert "zoo evaluate (test of the run data)" in metrics
