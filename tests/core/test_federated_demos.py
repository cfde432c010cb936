"""`zoo federate --demo-sites N` on the built-in plugins: sites that differ as hospitals and banks do.

medical-ct writes one cohort per hospital, each of its own patients and from its own scanner;
tabular-fraud one labelled CSV per bank, each with its own customers and fraud rate. Both run
end to end in Flower's simulation engine in small mode.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from zoo_cli_helpers import zoo

pytest.importorskip("flwr")
pytest.importorskip("ray")


def federate(tmp_path: Path, *args: str) -> tuple[Path, dict]:
    runs = tmp_path / "runs"
    out = zoo("federate", "--runs-dir", str(runs), *args, env={"KERAS_ZOO_CACHE": str(tmp_path / "cache")},
              timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run, json.loads((run / "zoo.json").read_text())


def test_fraud_banks_differ_in_fraud_rate_and_federate(tmp_path):
    run, meta = federate(tmp_path, "--plugin", "tabular-fraud", "--demo-sites", "3", "--rounds", "1",
                         "-o", "demo_rows=3000")
    fed = meta["federated"]
    rates = []
    for site in fed["sites"]:
        path = Path(site["data"])
        assert path.is_file() and path.is_relative_to(tmp_path / "cache" / "federated-sites")
        with open(path, newline="") as fh:
            labels = [int(row["is_fraud"]) for row in csv.DictReader(fh)]
        assert len(labels) == 1000
        rates.append(np.mean(labels))
        assert f"fraud rate {rates[-1]:.1%}" in site["demo"]
    assert rates[0] < rates[1] < rates[2]  # 0.5% (at least 10 frauds), 1.5%, 4%
    assert sorted(fed["samples_per_site"]) == ["site1", "site2", "site3"]
    assert [sorted(r["train"]["sites"]) for r in fed["rounds_log"]] == [["site1", "site2", "site3"]]
    assert meta["status"] == "complete" and 0.0 <= meta["metrics"]["test"]["auc"] <= 1.0
    assert "demo site: 1000 transactions, fraud rate 4.0%" in (run / "MODEL_CARD.md").read_text()


def test_ct_hospitals_have_their_own_patients_and_scanners_and_federate(tmp_path):
    run, meta = federate(tmp_path, "--plugin", "medical-ct", "--demo-sites", "3", "--rounds", "1",
                         "--strategy", "linear-probe", "-o", "demo_patients=36")
    fed = meta["federated"]
    patients = []
    for i, site in enumerate(fed["sites"]):
        labels = Path(site["data"])
        with open(labels, newline="") as fh:
            ids = {row["patient_id"] for row in csv.DictReader(fh)}
        assert len(ids) == 12 and all(p.startswith(f"CT-SITE{i + 1}-") for p in ids)
        patients.append(ids)
        assert "scanner" in site["demo"]
    assert "noise +30 HU" in fed["sites"][1]["demo"] and "HU shift -40" in fed["sites"][2]["demo"]
    # the coordinator's held-out patients are the demo cohort's: none of them trains at a site
    held_out = set(meta["data_metadata"]["patients"]["test"]) | set(meta["data_metadata"]["patients"]["validation"])
    assert held_out and not held_out & set().union(*patients)
    assert meta["status"] == "complete" and "auc" in meta["metrics"]["test"]


def test_scanners_change_the_images_as_described():
    from zoo_medical_ct.demo import Scanner

    rng = np.random.default_rng(0)
    flat = np.full((2, 32, 32), -1000.0)
    assert np.allclose(Scanner(shift=-40.0).apply(flat, rng), -1040.0)
    noisy = Scanner(noise=30.0).apply(flat, rng)
    assert 25.0 < noisy.std() < 35.0 and abs(noisy.mean() + 1000.0) < 5.0
    edges = np.where(np.indices((2, 32, 32))[2] % 2 == 0, 0.0, 100.0)  # one-pixel stripes
    soft = Scanner(blur=1.0).apply(edges, rng)
    assert soft.std() < 0.2 * edges.std() and abs(soft.mean() - edges.mean()) < 1e-6
    assert Scanner().describe() == "the demo's scanner"
