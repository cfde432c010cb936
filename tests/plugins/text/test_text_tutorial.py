"""tutorials/text_classification.md runs as written: every ```bash block, in order, in a fresh folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutorial_runner import run_tutorial, tutorial_blocks

TUTORIAL = Path(__file__).resolve().parents[3] / "tutorials" / "text_classification.md"



def test_tutorial_names_the_commands():
    blocks = "\n".join(tutorial_blocks(TUTORIAL))
    for command in ("zoo finetune --plugin text --data tickets.csv", "--strategy lora", "zoo export --format onnx",
                    "zoo predict runs/text-*/exports/model.onnx"):
        assert command in blocks


@pytest.mark.slow
def test_tutorial_runs(tmp_path):
    run_tutorial(TUTORIAL, tmp_path, timeout=600)
    run = next((tmp_path / "runs").glob("text-*"))
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["recipe"]["strategy"] == "lora" and meta["samples"] == {"train": 32, "validation": 8}
    assert (run / "exports" / "model.onnx").is_file()
    onnx_rows = json.loads((tmp_path / "predictions.json").read_text())
    keras_rows = json.loads((tmp_path / "predictions_keras.json").read_text())
    assert [r["label"] for r in onnx_rows] == [r["label"] for r in keras_rows]
    labels = [r["label"] for r in onnx_rows]
    assert sum(a == b for a, b in zip(labels, ["billing", "delivery", "account", "product"])) >= 3, onnx_rows
