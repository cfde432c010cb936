"""tutorials/medical_ct.md runs as written: every ```bash block, in order, in a fresh folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutorial_runner import run_tutorial, tutorial_blocks

TUTORIAL = Path(__file__).resolve().parents[3] / "tutorials" / "medical_ct.md"
#: small mode: the tutorial's command with 2 epochs of 64-pixel slices (the default recipe on the same
#: cohort is `zoo finetune --plugin medical-ct`, run whole by test_ct_e2e.py)
COMMAND = "zoo finetune --plugin medical-ct --data studies/labels.csv"
SMALL = COMMAND + " --epochs 2 --min-epochs 0 -o image_size=64"



def test_tutorial_names_the_commands():
    blocks = "\n".join(tutorial_blocks(TUTORIAL))
    for command in (COMMAND + "\n", "zoo export --format tflite",
                    "zoo predict"):
        assert command in blocks


@pytest.mark.slow
def test_tutorial_runs(tmp_path, ct_cache):
    run_tutorial(TUTORIAL, tmp_path, env={"KERAS_ZOO_CACHE": str(ct_cache), "TF_CPP_MIN_LOG_LEVEL": "3"},
                 replace={COMMAND + "\n": SMALL + "\n"})
    run = next((tmp_path / "runs").glob("medical-ct-*"))
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["recipe"]["epochs"] == 2 and meta["recipe"]["options"]["image_size"] == 64  # small mode ran
    assert (run / "clinical_metrics.json").is_file() and (run / "plots" / "clinical_roc_pr.png").is_file()
    assert (run / "exports" / "model.tflite").is_file()
    rows = json.loads((tmp_path / "predictions.json").read_text())
    assert len(rows) == 1 and rows[0]["input"] == "studies/CT-DEMO-004/study1"
    assert rows[0]["label"] in ("normal", "nodule")
