"""Fraud metrics and the decision threshold, chosen on validation by cost or target precision.

- `choose_threshold(labels, scores, cost_fn=50, cost_fp=1)`: the cut with the lowest
  expected cost `cost_fn * missed frauds + cost_fp * false alarms` on validation;
  `target_precision=0.9` instead takes the lowest cut (most fraud caught) whose precision
  reaches 0.9. The threshold lies halfway between two neighbouring scores, so the
  reported precision and recall are exactly what `score >= threshold` gives on those rows,
  and an export that moves scores by less than half the gap decides the same.
- `fraud_metrics(labels, scores)`: average precision (PR-AUC) and ROC-AUC (from
  `zoo.metrics`), recall at a fixed precision, precision at a fixed recall.
- `analyze(...)`: keras-zoo's `Plugin.analyze` hook; `zoo finetune` calls it at the end
  of a run with the validation and test scores, and saves `decision_threshold` (applied
  by `zoo predict`, copied into export sidecars), the threshold choice (`analysis.threshold`)
  and these metrics in the run's `zoo.json`, with the run's options `cost_fn`, `cost_fp`,
  `target_precision`.
- `calibrate_run(run, cost_fn=..., cost_fp=...)`: choose again on a finished run (other
  costs, a target precision) and rewrite those entries.

```
python -m zoo_tabular_fraud.threshold runs/tabular-fraud-20260101-120000 --cost-fn 200 --cost-fp 1
python -m zoo_tabular_fraud.threshold --target-precision 0.9        # newest run under ./runs
```
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from zoo.metrics import average_precision, roc_auc

log = logging.getLogger(__name__)


@dataclass
class ThresholdChoice:
    """A decision threshold and what it does on the rows it was chosen on."""

    threshold: float
    objective: str
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    expected_cost: float
    cost_per_1000: float
    cost_fn: float
    cost_fp: float
    target_precision: float | None = None
    target_reached: bool | None = None

    def to_json(self) -> dict:
        return asdict(self)


def _curve(labels, scores):
    """Distinct score cuts, high to low, with TP and FP counts of `score >= cut`."""
    labels = np.asarray(labels).reshape(-1).astype(int)
    scores = np.asarray(scores, "float64").reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"{labels.shape[0]} labels but {scores.shape[0]} scores")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = np.cumsum(1 - y)[last]
    cuts = s[last]
    return cuts, tp, fp, int(y.sum()), int(len(y) - y.sum())


def choose_threshold(labels, scores, cost_fn: float = 50.0, cost_fp: float = 1.0,
                     target_precision: float | None = None) -> ThresholdChoice:
    """The threshold minimising expected cost on (labels, scores), or reaching `target_precision`.

    Example:

    ```python
    choice = choose_threshold(y_val, p_val, cost_fn=50, cost_fp=1)
    flagged = p_val >= choice.threshold      # choice.precision, choice.recall on these rows
    ```
    """
    cuts, tp, fp, pos, neg = _curve(labels, scores)
    if pos == 0:
        raise ValueError("no positive row: a threshold cannot be chosen without fraud examples")
    # candidate k flags the rows scoring >= cuts[k]; candidate -1 flags none
    tp_all = np.r_[0, tp]
    fp_all = np.r_[0, fp]
    cost = cost_fn * (pos - tp_all) + cost_fp * fp_all
    precision_all = np.where(tp_all + fp_all > 0, tp_all / np.maximum(tp_all + fp_all, 1), 1.0)
    reached = None
    if target_precision is None:
        k = int(np.argmin(cost))  # first minimum: the highest cut among equal costs
        objective = f"minimum expected cost (cost_fn={cost_fn:g}, cost_fp={cost_fp:g})"
    else:
        ok = np.flatnonzero((precision_all >= target_precision) & (tp_all > 0))
        reached = bool(ok.size)
        k = int(ok[-1]) if ok.size else 0
        objective = f"highest recall with precision >= {target_precision:g}"
    scores_all = np.r_[np.inf, cuts]
    if k == 0:  # flag nothing: just above the highest score
        threshold = float(cuts[0]) + 1e-6
    else:
        upper = scores_all[k]
        lower = cuts[k] if k < len(cuts) else None
        threshold = float(upper if lower is None else (upper + lower) / 2.0)
    n = pos + neg
    t, f = int(tp_all[k]), int(fp_all[k])
    return ThresholdChoice(
        threshold=threshold, objective=objective,
        precision=float(t / (t + f)) if t + f else 1.0, recall=float(t / pos),
        true_positives=t, false_positives=f, false_negatives=pos - t, true_negatives=neg - f,
        expected_cost=float(cost[k]), cost_per_1000=float(1000.0 * cost[k] / n),
        cost_fn=float(cost_fn), cost_fp=float(cost_fp), target_precision=target_precision, target_reached=reached)


def precision_recall_at(labels, scores, threshold: float) -> tuple[float, float]:
    """(precision, recall) of `score >= threshold`."""
    labels = np.asarray(labels).reshape(-1).astype(int)
    flagged = np.asarray(scores, "float64").reshape(-1) >= threshold
    tp = int(np.sum(flagged & (labels == 1)))
    fp = int(np.sum(flagged & (labels == 0)))
    pos = int(labels.sum())
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / pos if pos else 0.0)


def recall_at_precision(labels, scores, precision: float) -> float:
    """The highest recall of any cut whose precision is at least `precision` (0 if none)."""
    cuts, tp, fp, pos, _ = _curve(labels, scores)
    ok = tp / (tp + fp) >= precision
    return float(tp[ok].max() / pos) if ok.any() and pos else 0.0


def precision_at_recall(labels, scores, recall: float) -> float:
    """The highest precision of any cut whose recall is at least `recall`."""
    cuts, tp, fp, pos, _ = _curve(labels, scores)
    ok = tp / max(pos, 1) >= recall
    return float((tp[ok] / (tp[ok] + fp[ok])).max()) if ok.any() else 0.0


def fraud_metrics(labels, scores, fixed_precision: float = 0.8, fixed_recall: float = 0.5) -> dict:
    """PR-AUC (average precision), ROC-AUC, recall@precision and precision@recall, plus counts."""
    labels = np.asarray(labels).reshape(-1)
    return {
        "pr_auc": average_precision(labels, scores),
        "roc_auc": roc_auc(labels, scores),
        f"recall_at_precision_{fixed_precision:g}": recall_at_precision(labels, scores, fixed_precision),
        f"precision_at_recall_{fixed_recall:g}": precision_at_recall(labels, scores, fixed_recall),
        "rows": int(len(labels)),
        "fraud": int(labels.sum()),
    }


# --------------------------------------------------------------------------- runs

def split_report(labels, scores, choice: ThresholdChoice, fixed_precision: float = 0.8,
                 fixed_recall: float = 0.5) -> dict[str, float]:
    """Metrics of one split, the threshold's precision/recall/cost included (flat floats, for `zoo.json`)."""
    labels = np.asarray(labels).reshape(-1).astype(int)
    scores = np.asarray(scores, "float64").reshape(-1)
    p, r = precision_recall_at(labels, scores, choice.threshold)
    flagged = scores >= choice.threshold
    cost = choice.cost_fn * np.sum(~flagged & (labels == 1)) + choice.cost_fp * np.sum(flagged & (labels == 0))
    return {
        "average_precision": average_precision(labels, scores),
        "roc_auc": roc_auc(labels, scores),
        f"recall_at_precision_{fixed_precision:g}": recall_at_precision(labels, scores, fixed_precision),
        f"precision_at_recall_{fixed_recall:g}": precision_at_recall(labels, scores, fixed_recall),
        "threshold_precision": float(p),
        "threshold_recall": float(r),
        "threshold_cost_per_1000": float(1000.0 * cost / max(len(labels), 1)),
    }


def analysis(validation, test, cost_fn: float = 50.0, cost_fp: float = 1.0, target_precision: float | None = None,
             fixed_precision: float = 0.8, fixed_recall: float = 0.5) -> dict:
    """What a run records: the threshold chosen on `validation` = (labels, scores), metrics of both splits.

    The result has the keys of keras-zoo's `Plugin.analyze` hook: `decision_threshold`,
    `metrics` ({"validation": ..., "test": ...}), `deployment`, and `threshold` (the choice).
    """
    y_val, s_val = validation
    choice = choose_threshold(np.asarray(y_val).reshape(-1), np.asarray(s_val).reshape(-1), cost_fn, cost_fp,
                              target_precision)
    metrics = {"validation": split_report(y_val, s_val, choice, fixed_precision, fixed_recall)}
    if test is not None and len(test[0]):
        metrics["test"] = split_report(test[0], test[1], choice, fixed_precision, fixed_recall)
    return {"decision_threshold": choice.threshold, "metrics": metrics, "threshold": choice.to_json(),
            "deployment": {"decision_threshold": choice.threshold, "threshold_objective": choice.objective}}


def analyze(run_dir, recipe, options, validation, test) -> dict:
    """`Plugin.analyze`: `zoo finetune` calls it with the validation and test (labels, scores).

    The threshold and metrics follow the run's options `cost_fn`, `cost_fp`,
    `target_precision`, `fixed_precision` and `fixed_recall`.
    """
    from zoo_tabular_fraud.options import FraudOptions

    opts = FraudOptions.of(options)
    return analysis(validation, test, opts.cost_fn, opts.cost_fp, opts.target_precision, opts.fixed_precision,
                    opts.fixed_recall)


def run_scores(run, split: str = "validation"):
    """(labels, scores, meta) of a finished run's model on one of its splits, re-read as the run read it.

    `run` is a run folder or a `zoo.runs.Run`; labels and scores are flat arrays (None, None
    when the run has no such split).

    Example: `y, s, meta = run_scores("runs/tabular-fraud-20260101-120000", "test")`.
    """
    from zoo.runs import Run, open_run

    run = run if isinstance(run, Run) else open_run(run)
    labels, scores = run.scores(split)
    if labels is None:
        return None, None, run.meta
    return np.asarray(labels).reshape(-1).astype(int), np.asarray(scores).reshape(-1), run.meta


def calibrate_run(run: str | Path, cost_fn: float | None = None, cost_fp: float | None = None,
                  target_precision: float | None = None) -> dict:
    """Choose a finished run's decision threshold again (other costs, a target precision); write it.

    `zoo finetune` already chose one with the run's options (`Plugin.analyze`); this
    re-scores the run's validation and test splits from `model.keras` and replaces
    `decision_threshold`, `deployment.decision_threshold` (export sidecars, `zoo predict`),
    `analysis.threshold` and the threshold metrics in `zoo.json`. Costs default to the run's
    options. Returns what `analysis()` returns.

    Example:

    ```python
    report = calibrate_run("runs/tabular-fraud-20260101-120000", cost_fn=100, cost_fp=1)
    report["threshold"]["threshold"], report["threshold"]["precision"]
    ```
    """
    from zoo.runs import RUN_FILE, open_run, read_run, write_json
    from zoo_tabular_fraud.options import FraudOptions

    opened = open_run(run)
    y_val, s_val, _ = run_scores(opened, "validation")
    y_test, s_test, _ = run_scores(opened, "test")
    given = {"cost_fn": cost_fn, "cost_fp": cost_fp, "target_precision": target_precision}
    if all(v is None for v in given.values()):
        given = {}  # the run's own choice
    else:  # new costs or a new target replace the run's; what is not given keeps the run's value
        given = {k: v for k, v in given.items() if v is not None or k == "target_precision"}
    opts = FraudOptions.of({**opened.options, **given})
    report = analysis((y_val, s_val), None if y_test is None else (y_test, s_test), opts.cost_fn, opts.cost_fp,
                      opts.target_precision, opts.fixed_precision, opts.fixed_recall)
    meta = read_run(opened.path)  # re-read: keep everything the engine wrote
    meta["decision_threshold"] = report["decision_threshold"]
    meta["deployment"] = {**(meta.get("deployment") or {}), **report["deployment"]}
    meta["analysis"] = {**(meta.get("analysis") or {}), "threshold": report["threshold"]}
    metrics = meta.setdefault("metrics", {})
    for split, values in report["metrics"].items():
        metrics[split] = {**(metrics.get(split) or {}), **values}
    write_json(opened.path / RUN_FILE, meta)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zoo_tabular_fraud.threshold",
        description="Choose a finished tabular-fraud run's decision threshold again on its validation "
                    "split and save it in the run (zoo predict and zoo export use it).")
    parser.add_argument("run", nargs="?", help="run folder (default: the newest complete run under --runs-dir)")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--cost-fn", type=float, help="cost of a missed fraud (default: the run's option, 50)")
    parser.add_argument("--cost-fp", type=float, help="cost of a false alarm (default: the run's option, 1)")
    parser.add_argument("--target-precision", type=float, help="reach this precision instead of the lowest cost")
    args = parser.parse_args(argv)
    import os
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo.errors import ZooError
    from zoo.runs import newest_run

    try:
        run = Path(args.run) if args.run else newest_run(args.runs_dir)
        report = calibrate_run(run, args.cost_fn, args.cost_fp, args.target_precision)
    except ZooError as exc:
        print(f"Error: {exc}", file=sys.stderr)  # noqa: T201 (a command-line tool)
        return 2
    t = report["threshold"]
    lines = [f"run: {run}",
             f"threshold: {t['threshold']:.6f} ({t['objective']})",
             f"validation: precision {t['precision']:.3f}, recall {t['recall']:.3f}, "
             f"{t['true_positives']} of {t['true_positives'] + t['false_negatives']} frauds caught, "
             f"{t['false_positives']} false alarms, cost per 1000 rows {t['cost_per_1000']:.2f}"]
    for split, values in report["metrics"].items():
        lines.append(f"{split}: " + ", ".join(f"{k}={v:.4f}" for k, v in values.items()))
    print("\n".join(lines))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
