"""Study-level aggregation and clinical metrics.

A model scores slices; a study's score is the mean or the max of its slice
scores (option `aggregate`). The operating threshold is chosen on the
validation studies for a target sensitivity (option `target_sensitivity`) and
then applied, unchanged, to the test studies.

Example:

```python
threshold = choose_threshold(val_labels, val_scores, target_sensitivity=0.9)
clinical_metrics(test_labels, test_scores, threshold)
# {'roc_auc': ..., 'pr_auc': ..., 'sensitivity': ..., 'specificity': ..., 'threshold': ..., ...}
```
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from zoo.errors import ConfigError

AGGREGATES = ("mean", "max")


def aggregate(scores: np.ndarray, groups: Sequence, how: str = "mean") -> tuple[list, np.ndarray]:
    """Per-group (study) score from per-slice `scores`; groups in order of first appearance."""
    if how not in AGGREGATES:
        raise ConfigError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {how!r}")
    scores = np.asarray(scores, "float64").reshape(-1)
    keys: list = []
    index: dict = {}
    for g in groups:
        if g not in index:
            index[g] = len(keys)
            keys.append(g)
    ids = np.asarray([index[g] for g in groups])
    out = np.empty(len(keys))
    for i in range(len(keys)):
        member = scores[ids == i]
        out[i] = member.max() if how == "max" else member.mean()
    return keys, out


def choose_threshold(labels, scores, target_sensitivity: float = 0.9) -> float:
    """The highest threshold whose sensitivity (score >= threshold) reaches `target_sensitivity`.

    With no positive case it returns 0.5.
    """
    if not 0 < target_sensitivity <= 1:
        raise ConfigError(f"target_sensitivity must be in (0, 1], got {target_sensitivity}")
    labels = np.asarray(labels).reshape(-1).astype(int)
    scores = np.asarray(scores, "float64").reshape(-1)
    positives = np.sort(scores[labels == 1])[::-1]
    if positives.size == 0:
        return 0.5
    needed = int(np.ceil(target_sensitivity * positives.size - 1e-9))
    return float(positives[max(needed, 1) - 1])


def clinical_metrics(labels, scores, threshold: float) -> dict[str, float | int | None]:
    """ROC-AUC, PR-AUC, and sensitivity, specificity, PPV, NPV at `threshold` (score >= threshold is positive).

    Areas come from `zoo.metrics` (ROC-AUC, and PR-AUC as average precision, both
    tie-aware); a value that is undefined for these labels (AUC with one class,
    sensitivity with no positive) is None.
    """
    from zoo.metrics import average_precision, roc_auc

    labels = np.asarray(labels).reshape(-1).astype(int)
    scores = np.asarray(scores, "float64").reshape(-1)
    predicted = scores >= threshold
    tp = int(np.sum(predicted & (labels == 1)))
    fp = int(np.sum(predicted & (labels == 0)))
    tn = int(np.sum(~predicted & (labels == 0)))
    fn = int(np.sum(~predicted & (labels == 1)))
    pos, neg = tp + fn, tn + fp
    both = pos > 0 and neg > 0

    def ratio(a: int, b: int) -> float | None:
        return float(a / b) if b else None

    return {
        "roc_auc": roc_auc(labels, scores) if both else None,
        "pr_auc": average_precision(labels, scores) if both else None,
        "threshold": float(threshold),
        "sensitivity": ratio(tp, pos),
        "specificity": ratio(tn, neg),
        "ppv": ratio(tp, tp + fp),
        "npv": ratio(tn, tn + fn),
        "tp": tp, "fp": fp, "tn": tn, "fn": fn,
        "n": int(labels.size), "positives": pos,
    }
