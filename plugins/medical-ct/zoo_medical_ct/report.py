"""Study-level clinical metrics of a medical-ct run.

The engine scores slices with generic Keras metrics. This module groups the
slice scores of the validation and test splits by study, aggregates them
(option `aggregate`: mean or max), chooses the threshold on the validation
studies (`zoo_medical_ct.metrics.operating_threshold`: for the target
sensitivity, option `target_sensitivity`, when there are at least
`min_positives` positive validation studies, else by Youden's J), applies it
unchanged to the test studies, and writes into the run folder:

- `clinical_metrics.json`: ROC-AUC, PR-AUC, sensitivity and specificity with
  95% Wilson intervals, PPV, NPV and the confusion counts per split, the
  threshold, the rule that chose it and why, and slice-level AUCs;
- `plots/clinical_roc_pr.png`: study-level ROC and precision-recall curves
  with the operating point.

`zoo finetune` does this itself through the plugin's `analyze` hook: the
study-level metrics join the run's metrics and model card, and the threshold
becomes the run's `decision_threshold`, which `zoo predict` applies to the
study score of each input. `clinical_report(run)` (or `python -m
zoo_medical_ct.report`) recomputes it from the saved model, on the run's data
or another labels CSV, and also writes the clinical section of `MODEL_CARD.md`
(intended use, data hygiene), which the core's model card does not render.

```
python -m zoo_medical_ct.report                      # the newest run under ./runs
python -m zoo_medical_ct.report runs/medical-ct-20250101-120000 --data other/labels.csv
```

Example:

```python
from zoo_medical_ct.report import clinical_report
report = clinical_report("runs/medical-ct-20250101-120000")
report["test"]["sensitivity"], report["threshold"]
```
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zoo.errors import RunError, ZooError

from zoo_medical_ct.metrics import MIN_POSITIVES, aggregate, clinical_metrics, operating_threshold

REPORT_FILE = "clinical_metrics.json"
PLOT_FILE = "clinical_roc_pr.png"
CARD_MARKER = "<!-- medical-ct clinical report -->"

log = logging.getLogger(__name__)


def _split_results(labels, scores, studies: Sequence[Sequence], how: str) -> dict[str, Any] | None:
    """Group one split's slice labels and scores (in dataset order) by study.

    `studies` is `[[study_id, patient_id, n_slices, label], ...]` in the same
    order (what the plugin records in `DataBundle.metadata["studies"]`). A
    truncated split (`--max-samples`) ends inside a study: the part seen counts.
    """
    labels = np.asarray(labels).reshape(-1).astype(int)
    scores = np.asarray(scores, "float64").reshape(-1)
    if not labels.size:
        return None
    ids, study_labels, start = [], [], 0
    for study_id, _patient, n, _label in studies:
        if start >= labels.size:
            break
        part = labels[start:start + int(n)]
        ids += [study_id] * len(part)
        study_labels.append(int(part.max()))
        start += int(n)
    if len(ids) != labels.size:
        raise RunError(f"{labels.size} samples but the recorded studies hold {len(ids)}; the data changed")
    keys, study_scores = aggregate(scores, ids, how)
    return {"studies": keys, "labels": np.asarray(study_labels), "scores": study_scores,
            "slice_labels": labels, "slice_scores": scores}


def summarize(parts: dict[str, dict | None], aggregate_how: str, target_sensitivity: float,
              min_positives: int = MIN_POSITIVES) -> dict[str, Any]:
    """Threshold on validation studies (`operating_threshold`), then clinical metrics of every split at it.

    Example: `summarize(parts, "mean", 0.9, 20)["threshold_rule"]` -> `"youden"` with 9 positive validation studies.
    """
    val = parts.get("validation")
    if val is None:
        raise RunError("no validation studies to choose a threshold on")
    choice = operating_threshold(val["labels"], val["scores"], target_sensitivity, min_positives)
    if choice["rule"] != "target_sensitivity":
        log.warning("study-level threshold: %s", choice["description"])
    report: dict[str, Any] = {
        "level": "study",
        "aggregate": aggregate_how,
        "target_sensitivity": target_sensitivity,
        "min_positives": int(min_positives),
        "threshold": choice["threshold"],
        "threshold_rule": choice["rule"],
        "threshold_chosen_on": f"validation studies: {choice['description']}",
        "threshold_choice": {k: choice[k] for k in ("positives", "negatives", "missed_allowed")},
        "intervals": "95% Wilson score intervals (sensitivity_ci95, specificity_ci95)",
    }
    for split in ("validation", "test"):
        part = parts.get(split)
        if part is None:
            report[split] = None
            continue
        report[split] = clinical_metrics(part["labels"], part["scores"], choice["threshold"])
        report[split]["studies"] = len(part["studies"])
        slices = clinical_metrics(part["slice_labels"], part["slice_scores"], 0.5)
        report.setdefault("slice_level", {})[split] = {
            "roc_auc": slices["roc_auc"], "pr_auc": slices["pr_auc"], "slices": slices["n"]}
    return report


def analyze(run_dir, recipe, options, validation, test) -> dict[str, Any]:
    """The `Plugin.analyze` hook: `zoo finetune` calls it with slice `(labels, scores)` of each split.

    Writes `clinical_metrics.json` and `plots/clinical_roc_pr.png`, and returns
    the study-level threshold (`zoo predict` applies it to study scores), the
    study-level metrics (into `zoo.json` and the model card) and the model-card
    section (kept under `analysis.model_card` in `zoo.json`).
    """
    from zoo.runs import read_run

    from zoo_medical_ct.data import CTOptions

    run_dir = Path(run_dir)
    meta = read_run(run_dir, require_complete=False)     # the hook runs before the run is complete
    data = meta.get("data_metadata") or {}
    opts = CTOptions.from_options(options)
    studies = data.get("studies") or {}
    parts = {"validation": _split_results(*validation, studies.get("validation", []), opts.aggregate),
             "test": None if test is None else _split_results(*test, studies.get("test", []), opts.aggregate)}
    report = summarize(parts, opts.aggregate, opts.target_sensitivity, opts.min_positives)
    report["positive_class"] = data.get("positive_class")
    report["data"] = meta.get("data") or "the plugin demo data"
    _write(run_dir, parts, report)
    metrics = {}
    for split in ("validation", "test"):
        if report.get(split):
            metrics[split] = {f"study_{k}": report[split][k] for k in
                              ("roc_auc", "pr_auc", "sensitivity", "specificity") if report[split][k] is not None}
    return {
        "decision_threshold": report["threshold"],
        "metrics": metrics,
        "clinical": {key: report[key] for key in ("level", "aggregate", "target_sensitivity", "min_positives",
                                                  "threshold_rule", "threshold_chosen_on", "threshold_choice")}
        | {"operating_point": _operating_point(report), "file": REPORT_FILE, "plot": f"plots/{PLOT_FILE}"},
        "model_card": card_section(report, data, meta["recipe"]["seed"]),
    }


def _operating_point(report: dict) -> dict[str, Any]:
    """Sensitivity and specificity of each split at the threshold, with their 95% intervals."""
    keys = ("sensitivity", "sensitivity_ci95", "specificity", "specificity_ci95", "positives", "n")
    return {split: {k: report[split][k] for k in keys} for split in ("validation", "test") if report.get(split)}


def clinical_report(run: str | Path, data: str | None = None) -> dict[str, Any]:
    """Recompute and save the study-level clinical metrics of a finished `run` from its saved model.

    Writes `clinical_metrics.json`, the plot, and the clinical section of
    `MODEL_CARD.md` (replacing an earlier one). `data` evaluates another labels
    CSV instead of the run's own data (its patient splits are then recomputed
    with the run's seed and fractions).
    """
    from zoo.runs import open_run

    from zoo_medical_ct import plugin
    from zoo_medical_ct.data import check_no_leakage

    run = open_run(run)
    meta = run.meta
    if meta.get("plugin") != plugin.name:
        raise RunError(f"run {run.path} is a {meta.get('plugin')!r} run, not a {plugin.name} run")
    recipe = run.recipe
    source = data if data is not None else meta.get("data")
    cohort = plugin.data.cohort(source, recipe, run.options)
    recorded = (meta.get("data_metadata") or {}).get("patients")
    if data is None and recorded and recorded != cohort.splits:
        raise RunError(f"the data of run {run.path} no longer splits into the patients recorded in its zoo.json "
                       "(the labels CSV, the studies or the split rule changed); pass the data explicitly to "
                       "report on it")
    check_no_leakage(cohort.splits)
    model = run.model()
    opts = cohort.options
    metadata = cohort.metadata()
    parts = {}
    for split in ("validation", "test"):
        x, y, _ = cohort.arrays(split)
        scores = model.predict({"hu": x}, batch_size=recipe.batch_size, verbose=0) if len(y) else np.zeros((0,))
        parts[split] = _split_results(y, scores, metadata["studies"].get(split, []), opts.aggregate)
    report = summarize(parts, opts.aggregate, opts.target_sensitivity, opts.min_positives)
    report["positive_class"] = cohort.class_names[1]
    report["data"] = source or "the plugin demo data"
    _write(run.path, parts, report)
    from zoo.runs import atomic_write_text

    card = run.path / "MODEL_CARD.md"
    text = card.read_text() if card.is_file() else f"# Model card: {meta.get('plugin')}\n"
    text = text.split(CARD_MARKER)[0].rstrip() + "\n\n" + card_section(report, metadata, meta["recipe"]["seed"])
    atomic_write_text(card, text)
    return report


def _write(run: Path, parts: dict, report: dict) -> None:
    from zoo.runs import write_json

    write_json(run / REPORT_FILE, report)
    _plot(run, parts, report)


def _plot(run: Path, parts: dict, report: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.metrics import binary_curves

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for split, part in parts.items():
        if part is None or report[split]["roc_auc"] is None:
            continue
        curves = binary_curves(part["labels"], part["scores"])
        m = report[split]
        axes[0].plot(curves["fpr"], curves["tpr"], label=f"{split} (AUC {m['roc_auc']:.3f})")
        axes[0].plot([1 - m["specificity"]], [m["sensitivity"]], "o", color=axes[0].lines[-1].get_color())
        axes[1].plot(curves["recall"], curves["precision"], label=f"{split} (AP {m['pr_auc']:.3f})")
        if m["ppv"] is not None:
            axes[1].plot([m["sensitivity"]], [m["ppv"]], "o", color=axes[1].lines[-1].get_color())
    axes[0].plot([0, 1], [0, 1], "--", color="grey")
    axes[0].set_xlabel("1 - specificity")
    axes[0].set_ylabel("sensitivity")
    axes[0].set_title(f"study-level ROC ({report['aggregate']} of slices)")
    axes[1].set_xlabel("recall (sensitivity)")
    axes[1].set_ylabel("precision (PPV)")
    axes[1].set_title(f"threshold {report['threshold']:.3f} (dots)")
    for ax in axes:
        if ax.lines:
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
    fig.tight_layout()
    (run / "plots").mkdir(exist_ok=True)
    fig.savefig(run / "plots" / PLOT_FILE, dpi=90)
    plt.close(fig)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _with_ci(m: dict, key: str) -> str:
    """`0.889 (0.565-0.980)`: a rate and its 95% interval."""
    ci = m.get(f"{key}_ci95")
    return _fmt(m[key]) if m[key] is None or ci is None else f"{m[key]:.3f} ({ci[0]:.3f}-{ci[1]:.3f})"


def card_section(report: dict, data: dict, seed: int) -> str:
    """The model-card section: clinical metrics, what the model is and is not, data hygiene.

    `data` is the run's data metadata (`DataBundle.metadata`).
    """
    rows = ["| split | studies | ROC-AUC | PR-AUC | sensitivity (95% CI) | specificity (95% CI) | PPV | NPV |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for split in ("validation", "test"):
        m = report.get(split)
        if m:
            rows.append(f"| {split} | {m['studies']} ({m['positives']} positive) | {_fmt(m['roc_auc'])} | "
                        f"{_fmt(m['pr_auc'])} | {_with_ci(m, 'sensitivity')} | {_with_ci(m, 'specificity')} | "
                        f"{_fmt(m['ppv'])} | {_fmt(m['npv'])} |")
    counts = data.get("counts", {})
    prep = data.get("preprocessing", {})
    windows = ", ".join(w["name"] if isinstance(w, dict) else str(w) for w in prep.get("windows", []))
    if data.get("demo"):
        what = ("This model was trained on **synthetic** chest CT generated by the plugin (a demo of the "
                "pipeline). It has never seen a real patient and says nothing about real nodules.")
    else:
        what = f"This model scores CT studies of {data.get('source')} for `{report.get('positive_class')}`."
    patients = {name: counts.get(name, {}).get("patients", 0) for name in ("train", "validation", "test")}
    return f"""{CARD_MARKER}
## Clinical metrics (study level)

Study score = {report['aggregate']} of the slice scores; positive class `{report.get('positive_class')}`.
Operating threshold {report['threshold']:.4f} (rule `{report['threshold_rule']}`), chosen on the
{report['threshold_chosen_on']}. It is applied unchanged to the test studies, and `zoo predict` applies it
to the study score of each input. Sensitivity and specificity come with 95% Wilson score intervals: with
few studies they are wide.

{chr(10).join(rows)}

![study-level ROC and PR](plots/{PLOT_FILE})

## What this model is and is not

{what} It is **not a medical device and not for clinical use**: no clinical validation, no
regulatory clearance, metrics from a small held-out set of one data source. Inputs are raw
Hounsfield units of single axial slices ({prep.get('image_size')} x {prep.get('image_size')} px,
{prep.get('slices')} adjacent slice(s); windows {windows} computed inside the model).

## Data hygiene

- Split by `patient_id`: {patients['train']} training, {patients['validation']} validation, {patients['test']}
  test patients; no patient is in two splits, so no patient's anatomy is trained on and scored again.
  Stratified by patient label (positive if any study is), seed {seed}; the patients and studies of each
  split are listed in `zoo.json` (`data_metadata`).
- All slices of a study go with their study, all studies of a patient with their patient.
- The threshold is chosen on validation only; the test row is measured once, at that threshold.
- Early stopping watched the validation slices, so validation metrics are optimistic: quote the test row.
"""


#: studies listed per split and kind of error in the report section
MAX_LISTED = 12


def report_sections(run_dir, meta) -> list:
    """`Plugin.report_sections`: the study-level results and the studies the threshold gets wrong.

    Reads the run's saved slice scores (`zoo.runs.saved_scores`) and its recorded studies, so the page
    can be drawn again without TensorFlow; the ROC/PR plot of `analyze` goes with it.
    """
    from zoo.api import ReportSection
    from zoo.runs import saved_scores

    run_dir = Path(run_dir)
    analysis = meta.get("analysis") or {}
    clinical = analysis.get("clinical") or {}
    threshold = meta.get("decision_threshold", analysis.get("decision_threshold"))
    studies = (meta.get("data_metadata") or {}).get("studies") or {}
    if threshold is None or not clinical:
        return []
    threshold = float(threshold)
    how = clinical.get("aggregate", "mean")
    text = [f"Study score = {how} of its slice scores; a study is called positive when its score is at or above "
            f"the operating threshold **{threshold:.4f}** (rule `{clinical.get('threshold_rule')}`, chosen on the "
            f"{clinical.get('threshold_chosen_on')})."]
    point = clinical.get("operating_point") or {}
    if point:
        text.append("| split | studies (positive) | sensitivity (95% CI) | specificity (95% CI) |\n"
                    "| --- | --- | --- | --- |\n" + "\n".join(
                        f"| {split} | {m['n']} ({m['positives']}) | {_with_ci(m, 'sensitivity')} | "
                        f"{_with_ci(m, 'specificity')} |" for split, m in point.items()))
    for split in ("validation", "test"):
        pair = saved_scores(run_dir, split)
        if pair is None or not studies.get(split):
            continue
        try:
            part = _split_results(*pair, studies[split], how)
        except RunError as exc:
            text.append(f"The saved {split} scores do not match the recorded studies ({exc}).")
            continue
        if part is None:
            continue
        text.append(_errors_table(split, part, studies[split], threshold))
    images = []
    plot = run_dir / "plots" / PLOT_FILE
    if plot.is_file():
        images.append(("study-level ROC and precision-recall curves; dots: the operating threshold", plot))
    return [ReportSection("Study-level results", "\n\n".join(text), images=images)]


def _errors_table(split: str, part: dict, studies: Sequence[Sequence], threshold: float) -> str:
    """The missed positive studies and the false alarms of a split, worst first."""
    patients = {str(study[0]): study[1] for study in studies}
    slices = {str(study[0]): int(study[2]) for study in studies}
    labels, scores = part["labels"], part["scores"]
    called = scores >= threshold
    missed = [i for i in np.argsort(scores) if labels[i] == 1 and not called[i]]
    alarms = [i for i in np.argsort(-scores) if labels[i] == 0 and called[i]]
    head = (f"**{split}**: {len(missed)} of {int(labels.sum())} positive studies missed, {len(alarms)} of "
            f"{int((labels == 0).sum())} negative studies flagged.")
    if not missed and not alarms:
        return head
    rows = []
    for kind, picked in (("missed positive", missed), ("false alarm", alarms)):
        for i in picked[:MAX_LISTED]:
            study = str(part["studies"][i])
            rows.append(f"| {kind} | `{study}` | `{patients.get(study, '')}` | {slices.get(study, '')} | "
                        f"{scores[i]:.4f} |")
        if len(picked) > MAX_LISTED:
            rows.append(f"| {kind} | ... {len(picked) - MAX_LISTED} more | | | |")
    return (head + "\n\n| error | study | patient | slices | study score |\n| --- | --- | --- | --- | --- |\n"
            + "\n".join(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zoo_medical_ct.report",
                                     description="Study-level clinical metrics of a medical-ct run.")
    parser.add_argument("run", nargs="?", help="run folder (default: the newest complete run under --runs-dir)")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--data", help="another labels CSV to evaluate on")
    args = parser.parse_args(argv)
    from zoo.runs import newest_run

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        run = Path(args.run) if args.run else newest_run(args.runs_dir)
        report = clinical_report(run, args.data)
    except ZooError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print(f"run: {run}")
    print(f"threshold {report['threshold']:.4f} (rule {report['threshold_rule']}; study score = "
          f"{report['aggregate']} of slices), chosen on the {report['threshold_chosen_on']}")
    for split in ("validation", "test"):
        m = report.get(split)
        if m:
            print(f"{split}: roc_auc={_fmt(m['roc_auc'])}, pr_auc={_fmt(m['pr_auc'])}, "
                  f"sensitivity={_with_ci(m, 'sensitivity')}, specificity={_with_ci(m, 'specificity')} "
                  f"({m['studies']} studies, {m['positives']} positive; 95% Wilson intervals)")
    print(f"written: {run / REPORT_FILE}, {run / 'plots' / PLOT_FILE}, {run / 'MODEL_CARD.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
