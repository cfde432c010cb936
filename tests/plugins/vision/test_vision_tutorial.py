"""tutorials/vision_transfer.md runs as written: every ```bash block, in order, in a fresh folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vision_helpers import demo_cache  # noqa: F401  (fixture)

TUTORIAL = Path(__file__).resolve().parents[3] / "tutorials" / "vision_transfer.md"


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)


def test_tutorial_names_the_commands():
    blocks = "\n".join(bash_blocks(TUTORIAL.read_text()))
    for command in ("zoo finetune --plugin vision --data", "zoo export --format tflite --quantize int8",
                    "zoo predict"):
        assert command in blocks


@pytest.mark.slow
def test_tutorial_runs(tmp_path, demo_cache):
    env = dict(os.environ, KERAS_ZOO_CACHE=str(demo_cache),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    for block in bash_blocks(TUTORIAL.read_text()):
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0, f"{block}\n--- stdout\n{out.stdout[-3000:]}\n--- stderr\n{out.stderr[-3000:]}"
    run = next((tmp_path / "runs").glob("vision-*"))
    assert (run / "plots" / "curves.png").is_file() and (run / "plots" / "confusion_matrix.png").is_file()
    assert (run / "exports" / "model-int8.tflite").is_file()
    rows = json.loads((tmp_path / "predictions.json").read_text())
    assert len(rows) == 60 and all(row["label"] in {"butterfly", "fish", "flower", "fruit", "leaf"} for row in rows)
    assert sum(row["label"] == "flower" for row in rows) >= 40  # the flower folder is mostly called flower
