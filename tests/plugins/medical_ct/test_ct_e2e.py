"""End to end: fine-tune, clinical report, export (TFLite, ONNX) and predict on a DICOM series."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo_medical_ct.data import DEMO_PATIENTS
from zoo_medical_ct.demo import held_out_studies

from ct_testing import recipe_for
from report_testing import chromium_checked, decode_all, needs_chromium, section

ZOO = Path(sys.executable).with_name("zoo")


def _run(args, cwd, timeout=1500):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


def test_a_run_gets_study_level_metrics_and_the_report_recomputes_them(ct_cache, tmp_path):
    from zoo.training.finetune import finetune
    from zoo_medical_ct import plugin
    from zoo_medical_ct.report import clinical_report

    recipe = recipe_for({"epochs": 1, "strategy": "linear-probe", "weights": "none", "val_fraction": 0.25,
                         "test_fraction": 0.25}, demo_patients=12, image_size=32, min_positives=1)
    result = finetune(plugin, recipe, runs_dir=tmp_path, verbose=0)
    meta = json.loads((result.path / "zoo.json").read_text())
    assert meta["custom_objects_module"] == "zoo_medical_ct.layers"
    patients = meta["data_metadata"]["patients"]
    assert not set(patients["train"]) & set(patients["validation"])
    # the analyze hook ran inside `finetune`
    saved = json.loads((result.path / "clinical_metrics.json").read_text())
    assert meta["decision_threshold"] == pytest.approx(saved["threshold"])
    assert saved["validation"]["studies"] >= 2 and saved["test"]["studies"] >= 2
    assert saved["validation"]["sensitivity"] >= 0.9                 # the target, on the studies it was chosen on
    # min_positives=1 (below) lets the target rule run on 3 validation patients; the run records the rule
    assert saved["threshold_rule"] == "target_sensitivity" and saved["threshold_choice"]["missed_allowed"] == 0
    assert "(at most 0 missed)" in saved["threshold_chosen_on"]
    clinical = meta["analysis"]["clinical"]
    assert clinical["threshold_rule"] == "target_sensitivity" and clinical["min_positives"] == 1
    assert clinical["threshold_chosen_on"] == saved["threshold_chosen_on"]
    point = clinical["operating_point"]["validation"]
    assert point["sensitivity"] == saved["validation"]["sensitivity"]
    low, high = point["sensitivity_ci95"]
    assert 0 <= low <= point["sensitivity"] <= high <= 1 and high - low > 0.3      # 95% Wilson, few studies: wide
    assert "study_roc_auc" in meta["metrics"]["validation"]
    assert meta["deployment"]["aggregate"] == "mean"
    assert "Data hygiene" in meta["analysis"]["model_card"]
    assert "rule `target_sensitivity`" in (result.path / "MODEL_CARD.md").read_text()
    assert (result.path / "plots" / "clinical_roc_pr.png").stat().st_size > 1000
    assert "clinical_roc_pr.png" in (result.path / "MODEL_CARD.md").read_text()
    # recomputed from the saved model: the same numbers, and the clinical section in the model card
    report = clinical_report(result.path)
    assert report["threshold"] == pytest.approx(saved["threshold"], abs=1e-5)
    assert report["validation"]["roc_auc"] == pytest.approx(saved["validation"]["roc_auc"], abs=1e-6)
    card = (result.path / "MODEL_CARD.md").read_text()
    assert "## Clinical metrics (study level)" in card and "not for clinical use" in card
    clinical_report(result.path)                                        # again: the section is replaced
    assert (result.path / "MODEL_CARD.md").read_text().count("## Clinical metrics") == 1
    _study_section_holds_the_errors_at_the_threshold(result.path, meta, saved)


def _study_section_holds_the_errors_at_the_threshold(run: Path, meta: dict, saved: dict) -> None:
    """report.html: the plugin's study-level section lists exactly the studies the threshold gets wrong."""
    import re

    from zoo.report_html import render_report
    from zoo.runs import saved_scores
    from zoo_medical_ct.metrics import aggregate

    page = render_report(run)
    body = section(page, "plugin-0-study-level-results")
    assert f"{meta['decision_threshold']:.4f}" in body
    studies = meta["data_metadata"]["studies"]["validation"]
    labels, scores = saved_scores(run, "validation")
    ids = [s[0] for s in studies for _ in range(int(s[2]))]
    keys, study_scores = aggregate(scores, ids, "mean")
    truth = {s[0]: int(s[3]) for s in studies}
    called = {k: v >= meta["decision_threshold"] for k, v in zip(keys, study_scores)}
    missed = sorted(k for k in keys if truth[k] == 1 and not called[k])
    alarms = sorted(k for k in keys if truth[k] == 0 and called[k])
    validation = body.split("<strong>validation</strong>", 1)[1].split("<strong>test</strong>", 1)[0]
    listed = re.findall(r"<tr><td>(missed positive|false alarm)</td><td><code>([^<]+)</code>", validation)
    assert sorted(k for kind, k in listed if kind == "missed positive") == missed
    assert sorted(k for kind, k in listed if kind == "false alarm") == alarms
    assert f"{len(missed)} of {saved['validation']['positives']} positive studies missed" in body
    assert f"{len(alarms)} of {saved['validation']['n'] - saved['validation']['positives']} negative" in body
    assert decode_all(body) == 1  # the ROC/PR plot, in this section ...
    assert "clinical_roc_pr.png" not in page.split('id="plugin-0')[0]  # ... and not again under "Plots"
    # the worst-scored slices, each with its thumbnail (centre slice, lung window)
    worst = section(page, "worst-samples")
    thumbs = sorted((run / "samples").glob("validation-*.png"))
    assert thumbs and worst.count('class="thumb"') == len(thumbs) == decode_all(worst)
    from PIL import Image

    with Image.open(thumbs[0]) as image:
        assert image.mode == "L" and image.size == (32, 32)


@needs_chromium
def test_the_report_page_renders_the_study_section(ct_cache, tmp_path):
    from zoo.report_html import write_report
    from zoo.training.finetune import finetune
    from zoo_medical_ct import plugin

    recipe = recipe_for({"epochs": 1, "strategy": "linear-probe", "weights": "none", "val_fraction": 0.25,
                         "test_fraction": 0.25}, demo_patients=12, image_size=32, min_positives=1)
    run = finetune(plugin, recipe, runs_dir=tmp_path / "runs", verbose=0).path
    dom = chromium_checked(write_report(run), tmp_path, ("summary", "metrics", "roc-pr", "worst-samples",
                                                         "plugin-0-study-level-results", "exports", "model-card"))
    assert "Study-level results" in dom and "positive studies missed" in dom


@pytest.mark.slow
@pytest.mark.full  # `make demo` itself, 7-10 min; test_ct_tutorial.py runs the same commands in small mode
@pytest.mark.skipif(not ZOO.exists(), reason="the zoo command is not installed in this environment")
def test_demo_finetune_export_predict_through_the_cli(ct_cache, tmp_path):
    # `zoo finetune --plugin medical-ct` with no other argument (the run folder aside)
    out = _run([str(ZOO), "finetune", "--plugin", "medical-ct", "--runs-dir", "runs"], cwd=tmp_path).stdout
    run = next((tmp_path / "runs").iterdir())
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["status"] == "complete" and meta["recipe"]["strategy"] == "partial"
    validation = meta["metrics"]["validation"]
    assert validation["auc"] > 0.75 and validation["study_roc_auc"] > 0.8, out
    splits = meta["data_metadata"]["patients"]
    assert sum(len(p) for p in splits.values()) == len(set().union(*map(set, splits.values()))) == DEMO_PATIENTS
    clinical = json.loads((run / "clinical_metrics.json").read_text())
    assert clinical["threshold"] == pytest.approx(meta["decision_threshold"])
    assert clinical["validation"]["sensitivity"] >= 0.9
    # enough positive validation studies to aim at the target: the threshold is not the lowest positive score
    assert clinical["threshold_rule"] == "target_sensitivity", clinical["threshold_chosen_on"]
    assert clinical["threshold_choice"]["positives"] >= 20 and clinical["threshold_choice"]["missed_allowed"] >= 2
    # with 120 patients (9 positive validation studies) test specificity was 0.18-0.27
    test = clinical["test"]
    assert test["specificity"] >= 0.6, test
    assert test["specificity_ci95"][0] <= test["specificity"] <= test["specificity_ci95"][1]

    report = _run([sys.executable, "-m", "zoo_medical_ct.report", str(run)], cwd=tmp_path).stdout
    assert "validation: roc_auc=" in report and "Data hygiene" in (run / "MODEL_CARD.md").read_text()

    for fmt in ("tflite", "onnx"):               # verified against Keras on raw-HU validation slices
        text = _run([str(ZOO), "export", str(run), "--format", fmt], cwd=tmp_path).stdout
        assert "passed" in text, text
    folder = ct_cache / "medical-ct-demo-v1" / "CT-DEMO-004"
    series, one_file = folder / "study1", sorted((folder / "study1").iterdir())[0]
    predicted = _run([str(ZOO), "predict", "--json", str(run / "exports" / "model.tflite"), str(series),
                      str(one_file)], cwd=tmp_path).stdout
    rows = json.loads(predicted)
    assert [row["input"] for row in rows] == [str(series), str(one_file)]    # one row per study / file
    assert all(0.0 <= row["score"] <= 1.0 and row["threshold"] == pytest.approx(meta["decision_threshold"])
               for row in rows)

    # the story `make demo` tells: the held-out nodule study flagged, the held-out normal study cleared
    pair = _run([sys.executable, "-m", "zoo_medical_ct.demo", str(run)], cwd=tmp_path).stdout.split()
    labels = dict(held_out_studies(run))
    assert len(pair) == 2 and [labels[p] for p in pair] == ["nodule", "normal"]
    rows = json.loads(_run([str(ZOO), "predict", "--json", str(run / "exports" / "model.tflite"), *pair],
                           cwd=tmp_path).stdout)
    assert [(row["input"], row["label"]) for row in rows] == [(pair[0], "nodule"), (pair[1], "normal")], rows
