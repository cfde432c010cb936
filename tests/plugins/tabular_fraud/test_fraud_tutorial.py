"""tutorials/fraud_detection.md runs: every ```bash block, in order, in a fresh folder (small mode).

Small mode replaces the data size and pretraining epochs written in the tutorial
(`--rows 40000` -> 12000, `--epochs 20` -> 3) and fine-tunes for 4 epochs; every command is otherwise
as written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutorial_runner import run_tutorial, tutorial_blocks

TUTORIAL = Path(__file__).resolve().parents[3] / "tutorials" / "fraud_detection.md"
SMALL = {"--rows 40000": "--rows 12000", "unlabelled.csv --epochs 20": "unlabelled.csv --epochs 3",
         '--weights "$PRETRAINED"\n': '--weights "$PRETRAINED" --epochs 4\n'}



def test_tutorial_names_the_commands():
    blocks = "\n".join(tutorial_blocks(TUTORIAL))
    for command in ("zoo pretrain --plugin tabular-fraud --data", "zoo finetune --plugin tabular-fraud --data",
                    "--weights", "python -m zoo_tabular_fraud.threshold", "zoo export", "--format onnx",
                    "--format tflite", "zoo predict"):
        assert command in blocks
    for key in SMALL:
        assert key in blocks


@pytest.mark.slow
def test_tutorial_runs(tmp_path):
    run_tutorial(TUTORIAL, tmp_path, replace=SMALL)
    run = next(p for p in (tmp_path / "runs").glob("tabular-fraud-2*"))
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["recipe"]["epochs"] == 4                              # small mode ran
    assert meta["weights"].startswith(str(tmp_path / "runs" / "tabular-fraud-pretrain-")) or \
        "tabular-fraud-pretrain-" in meta["weights"]
    assert meta["analysis"]["threshold"]["cost_fn"] == 200          # chosen again in step 4
    sidecar = json.loads((run / "exports" / "model.onnx.zoo.json").read_text())
    assert sidecar["decision_threshold"] == meta["decision_threshold"]
    assert (run / "exports" / "model.tflite").is_file()
    rows = json.loads((tmp_path / "predictions.json").read_text())
    assert len(rows) == 200 and {r["label"] for r in rows} <= {"legit", "fraud"}
    assert all(r["threshold"] == meta["decision_threshold"] for r in rows)
    assert rows[0]["input"].startswith("data/new_transactions.csv:2 transaction_id=T")
