"""tutorials/medical_ct.md runs as written: every ```bash block, in order, in a fresh folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[3] / "tutorials" / "medical_ct.md"


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)


def test_tutorial_names_the_commands():
    blocks = "\n".join(bash_blocks(TUTORIAL.read_text()))
    for command in ("zoo finetune --plugin medical-ct --data studies/labels.csv", "zoo export --format tflite",
                    "zoo predict"):
        assert command in blocks


@pytest.mark.slow
def test_tutorial_runs(tmp_path, ct_cache):
    env = dict(os.environ, KERAS_ZOO_CACHE=str(ct_cache), TF_CPP_MIN_LOG_LEVEL="3",
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    for block in bash_blocks(TUTORIAL.read_text()):
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=900)
        assert out.returncode == 0, f"{block}\n--- stdout\n{out.stdout[-3000:]}\n--- stderr\n{out.stderr[-3000:]}"
    run = next((tmp_path / "runs").glob("medical-ct-*"))
    assert (run / "clinical_metrics.json").is_file() and (run / "plots" / "clinical_roc_pr.png").is_file()
    assert (run / "exports" / "model.tflite").is_file()
    rows = json.loads((tmp_path / "predictions.json").read_text())
    assert len(rows) == 1 and rows[0]["input"] == "studies/CT-DEMO-004/study1"
    assert rows[0]["label"] in ("normal", "nodule")
