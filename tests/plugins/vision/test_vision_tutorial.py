"""tutorials/vision_transfer.md runs as written: every ```bash block, in order, in a fresh folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutorial_runner import run_tutorial, tutorial_blocks

from vision_helpers import demo_cache  # noqa: F401  (fixture)

TUTORIAL = Path(__file__).resolve().parents[3] / "tutorials" / "vision_transfer.md"



def test_tutorial_names_the_commands():
    blocks = "\n".join(tutorial_blocks(TUTORIAL))
    for command in ("zoo finetune --plugin vision --data", "zoo export --format tflite --quantize int8",
                    "zoo predict"):
        assert command in blocks


@pytest.mark.slow
def test_tutorial_runs(tmp_path, demo_cache):
    run_tutorial(TUTORIAL, tmp_path, env={"KERAS_ZOO_CACHE": str(demo_cache)}, timeout=600)
    run = next((tmp_path / "runs").glob("vision-*"))
    assert (run / "plots" / "curves.png").is_file() and (run / "plots" / "confusion_matrix.png").is_file()
    assert (run / "exports" / "model-int8.tflite").is_file()
    rows = json.loads((tmp_path / "predictions.json").read_text())
    assert len(rows) == 60 and all(row["label"] in {"butterfly", "fish", "flower", "fruit", "leaf"} for row in rows)
    assert sum(row["label"] == "flower" for row in rows) >= 40  # the flower folder is mostly called flower
