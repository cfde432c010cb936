"""tutorials/text_classification.md runs as written: every ```bash block, in order, in a fresh folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[3] / "tutorials" / "text_classification.md"


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)


def test_tutorial_names_the_commands():
    blocks = "\n".join(bash_blocks(TUTORIAL.read_text()))
    for command in ("zoo finetune --plugin text --data tickets.csv", "--strategy lora", "zoo export --format onnx",
                    "zoo predict runs/text-*/exports/model.onnx"):
        assert command in blocks


@pytest.mark.slow
def test_tutorial_runs(tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    for block in bash_blocks(TUTORIAL.read_text()):
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0, f"{block}\n--- stdout\n{out.stdout[-3000:]}\n--- stderr\n{out.stderr[-3000:]}"
    run = next((tmp_path / "runs").glob("text-*"))
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["recipe"]["strategy"] == "lora" and meta["samples"] == {"train": 32, "validation": 8}
    assert (run / "exports" / "model.onnx").is_file()
    onnx_rows = json.loads((tmp_path / "predictions.json").read_text())
    keras_rows = json.loads((tmp_path / "predictions_keras.json").read_text())
    assert [r["label"] for r in onnx_rows] == [r["label"] for r in keras_rows]
    labels = [r["label"] for r in onnx_rows]
    assert sum(a == b for a, b in zip(labels, ["billing", "delivery", "account", "product"])) >= 3, onnx_rows
