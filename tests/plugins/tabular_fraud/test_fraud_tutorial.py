"""tutorials/fraud_detection.md runs: every ```bash block, in order, in a fresh folder (small mode).

Small mode replaces the data size and pretraining epochs written in the tutorial
(`--rows 40000` -> 12000, `pretrain_epochs=20` -> 3); every command is otherwise as written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[3] / "tutorials" / "fraud_detection.md"
SMALL = {"--rows 40000": "--rows 12000", "pretrain_epochs=20": "pretrain_epochs=3"}


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)


def test_tutorial_names_the_commands():
    blocks = "\n".join(bash_blocks(TUTORIAL.read_text()))
    for command in ("zoo pretrain --plugin tabular-fraud --data", "zoo finetune --plugin tabular-fraud --data",
                    "--weights", "python -m zoo_tabular_fraud.threshold", "zoo export", "--format onnx",
                    "--format tflite", "zoo predict"):
        assert command in blocks
    for key in SMALL:
        assert key in blocks


@pytest.mark.slow
def test_tutorial_runs(tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    for block in bash_blocks(TUTORIAL.read_text()):
        for old, new in SMALL.items():
            block = block.replace(old, new)
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=900)
        assert out.returncode == 0, f"{block}\n--- stdout\n{out.stdout[-3000:]}\n--- stderr\n{out.stderr[-3000:]}"
    run = next(p for p in (tmp_path / "runs").glob("tabular-fraud-2*"))
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["weights"].startswith(str(tmp_path / "runs" / "tabular-fraud-pretrain-")) or \
        "tabular-fraud-pretrain-" in meta["weights"]
    assert meta["analysis"]["threshold"]["cost_fn"] == 200          # chosen again in step 4
    sidecar = json.loads((run / "exports" / "model.onnx.zoo.json").read_text())
    assert sidecar["decision_threshold"] == meta["decision_threshold"]
    assert (run / "exports" / "model.tflite").is_file()
    rows = json.loads((tmp_path / "predictions.json").read_text())
    assert len(rows) == 200 and {r["label"] for r in rows} <= {"legit", "fraud"}
    assert all(r["threshold"] == meta["decision_threshold"] for r in rows)
    assert rows[0]["input"].startswith("new_transactions.csv:T")
