"""`zoo plugins new`: the plugin it writes installs with pip and runs the whole path unchanged."""

import json
import os
import subprocess
import sys

import pytest

from zoo_cli_helpers import pip_install_target, zoo

NAME = "acme-signals"


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory):
    """`zoo plugins new` in a temp folder, pip-installed into a separate target folder."""
    src, target = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("site")
    out = zoo("plugins", "new", NAME, "--dir", str(src))
    assert out.returncode == 0, out.stderr
    root = src / f"keras-zoo-{NAME}"
    pip_install_target(root, target)
    return root, target


def test_new_plugin_files_and_refusals(scaffold, tmp_path):
    root, target = scaffold
    assert {"pyproject.toml", "zoo_acme_signals", "tests", "README.md"} <= {p.name for p in root.iterdir()}
    assert f'{NAME} = "zoo_acme_signals:plugin"' in (root / "pyproject.toml").read_text()
    again = zoo("plugins", "new", NAME, "--dir", str(root.parent))
    assert again.returncode == 2 and again.stderr.strip() == f"Error: {root} already exists; choose another name or --dir"
    bad = zoo("plugins", "new", "Acme_Signals", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "lowercase words joined by dashes" in bad.stderr
    assert list(tmp_path.iterdir()) == []
    listing = zoo("plugins", "list", "--json", path=target)
    entry = {e["name"]: e for e in json.loads(listing.stdout)["plugins"]}[NAME]
    assert entry["status"] == "ok" and entry["distribution"] == f"keras-zoo-{NAME}"


@pytest.mark.slow
def test_new_plugin_passes_its_own_check_plugin_test(scaffold):
    root, target = scaffold
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
                         capture_output=True, text=True, env=env, cwd=root, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 passed" in out.stdout


@pytest.mark.slow
def test_new_plugin_fine_tunes_exports_three_formats_and_predicts(scaffold, tmp_path):
    root, target = scaffold
    runs = str(tmp_path / "runs")
    out = zoo("finetune", "--plugin", NAME, "--runs-dir", runs, path=target)
    assert out.returncode == 0, out.stderr
    run = next((tmp_path / "runs").iterdir())
    metrics = json.loads((run / "zoo.json").read_text())["metrics"]
    assert metrics["validation"]["accuracy"] > 0.9, out.stdout  # waves are easy: the template must really learn
    examples = tmp_path / "new.csv"
    code = ("import sys; from zoo_acme_signals import generate, write_csv; "
            "x, y = generate(12, 64, 0.3, 5); write_csv(sys.argv[1], x); print(','.join(map(str, y)))")
    env = dict(os.environ, PYTHONPATH=str(target))
    truth = subprocess.run([sys.executable, "-c", code, str(examples)], capture_output=True, text=True, env=env,
                           check=True).stdout.strip().split(",")
    names = ["sine", "square", "sawtooth"]
    for fmt, artifact in (("savedmodel", "model-savedmodel"), ("tflite", "model.tflite"), ("onnx", "model.onnx")):
        exported = zoo("export", str(run), "--format", fmt, path=target)
        assert exported.returncode == 0, exported.stderr
        assert "passed" in exported.stdout
        pred = zoo("predict", str(run / "exports" / artifact), str(examples), "--json", path=target)
        assert pred.returncode == 0, pred.stderr
        rows = json.loads(pred.stdout)
        assert [r["input"] for r in rows] == [f"{examples}:{i}" for i in range(2, 14)]
        hits = sum(r["label"] == names[int(t)] for r, t in zip(rows, truth))
        assert hits >= 10, (fmt, rows)
