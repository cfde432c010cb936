"""vision-detect end to end (small mode): the conformance kit, then fine-tune, export to TFLite and ONNX
(NMS in the graph, verified by box agreement) and predict boxes from the artifacts as from the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ZOO = Path(sys.executable).with_name("zoo")
SMALL = {"demo_scenes": 48, "image_size": 64}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("detect-cache")


def test_conformance_kit(tmp_path, cache, monkeypatch):
    from zoo.testing import check_plugin
    from zoo_vision_detect import plugin

    monkeypatch.setenv("KERAS_ZOO_CACHE", str(cache))
    report = check_plugin(plugin, recipe={"options": SMALL, "batch_size": 8}, backbones=["mobilenet_v2"],
                          workdir=tmp_path)
    assert report["predict"]["rows"] > 0


def _zoo(*args, cwd, cache):
    env = dict(os.environ, KERAS_ZOO_CACHE=str(cache), TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([str(ZOO), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, f"{args} exited {out.returncode}:\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.mark.skipif(not ZOO.exists(), reason="the zoo command is not installed in this environment")
def test_finetune_export_predict(tmp_path, cache):
    options = [a for k, v in SMALL.items() for a in ("-o", f"{k}={v}")]
    _zoo("finetune", "--plugin", "vision-detect", "--epochs", "2", "--min-epochs", "0", *options,
         cwd=tmp_path, cache=cache)
    run = next((tmp_path / "runs").glob("vision-detect-*"))
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["task"]["kind"] == "detection" and meta["strategy"]["neck_layers"] > 0
    assert {"map", "map_50"} <= set(meta["metrics"]["test"])
    # COCO mAP over the whole validation split is logged every epoch and is what the best checkpoint watches
    import csv

    history = list(csv.DictReader((run / "history.csv").open()))
    assert len(history) == 2 and all(0.0 <= float(row["val_map"]) <= 1.0 for row in history)
    from zoo_vision_detect import plugin

    assert plugin.task.resolved_monitor() == ("val_map", "max")
    assert (run / "plots" / "pr_per_class.png").stat().st_size > 0
    assert "plots/pr_per_class.png" in (run / "MODEL_CARD.md").read_text()
    from types import SimpleNamespace

    files = plugin.data.write_examples(tmp_path / "examples", None,
                                       plugin.options_for(SimpleNamespace(options=SMALL)))
    rows = {}
    for fmt in ("tflite", "onnx"):
        _zoo("export", str(run), "--format", fmt, cwd=tmp_path, cache=cache)
        sidecar = json.loads(next((run / "exports").glob(f"*.{fmt}.zoo.json")).read_text())
        assert sidecar["verification"]["passed"], sidecar["verification"]
        artifact = next((run / "exports").glob(f"*.{fmt}"))
        rows[fmt] = json.loads(_zoo("predict", str(artifact), *files, "--json", "--threshold", "0.05",
                                    cwd=tmp_path, cache=cache))
    drawn = tmp_path / "drawn"
    rows["keras"] = json.loads(_zoo("predict", str(run), *files, "--json", "--threshold", "0.05", "--draw",
                                    str(drawn), cwd=tmp_path, cache=cache))
    # --draw: each input image with its boxes, at the input's own size; boxes also in its pixels
    from PIL import Image
    import numpy as np

    assert sorted(p.name for p in drawn.iterdir()) == sorted(Path(f).stem + ".png" for f in files)
    assert any(row["boxes"] for row in rows["keras"])
    for row in rows["keras"]:
        original = np.asarray(Image.open(row["input"]).convert("RGB"), dtype=np.int16)
        picture = np.asarray(Image.open(row["drawn"]), dtype=np.int16)
        assert picture.shape == original.shape
        assert (np.abs(picture - original).max() > 100) == bool(row["boxes"])  # boxes drawn, none when empty
        height, width = original.shape[:2]
        for box in row["boxes"]:
            x1, y1, x2, y2 = box["box_pixels"]
            assert (x1, y1, x2, y2) == tuple(round(min(max(v, 0.0), 1.0) * s)
                                             for v, s in zip(box["box"], (width, height, width, height)))
    text = _zoo("predict", str(run), files[0], "--threshold", "0.05", cwd=tmp_path, cache=cache)
    assert text.startswith(f"{files[0]}: {len(rows['keras'][0]['boxes'])} box(es) above 0.05"), text
    for fmt in ("tflite", "onnx"):
        assert len(rows[fmt]) == len(rows["keras"])
        for a, b in zip(rows["keras"], rows[fmt]):
            assert [x["class"] for x in a["boxes"]] == [x["class"] for x in b["boxes"]], fmt
            for x, y in zip(a["boxes"], b["boxes"]):
                assert max(abs(p - q) for p, q in zip(x["box"], y["box"])) < 1e-3
