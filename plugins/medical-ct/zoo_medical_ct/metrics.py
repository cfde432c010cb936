"""Study-level aggregation, the operating threshold and clinical metrics with confidence intervals.

A model scores slices; a study's score is the mean or the max of its slice
scores (option `aggregate`). The operating threshold is chosen on the
validation studies and then applied, unchanged, to the test studies:

- with at least `min_positives` positive validation studies (option, default
  20), the highest threshold whose sensitivity reaches `target_sensitivity`.
  With n positives, sensitivity 0.9 means at most floor(0.1 n) missed
  studies: on 9 positives none may be missed, so the threshold would be the
  lowest positive score, one outlier away from flagging most negatives; on 20
  positives two may be missed;
- with fewer positives, the threshold that maximises Youden's J
  (sensitivity + specificity - 1), which uses both classes, and the choice
  says so (`operating_threshold(...)["rule"] == "youden"`).

Sensitivity and specificity come with 95% Wilson score intervals: on a small
split they are wide, and the interval says how wide.

Example:

```python
choice = operating_threshold(val_labels, val_scores, target_sensitivity=0.9, min_positives=20)
choice["threshold"], choice["rule"], choice["description"]
clinical_metrics(test_labels, test_scores, choice["threshold"])
# {'roc_auc': ..., 'sensitivity': ..., 'sensitivity_ci95': [low, high], 'specificity': ..., ...}
```
"""

from __future__ import annotations

from typing import Any, Sequence

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

    With n positives it may miss at most floor((1 - target) n) of them (up to
    float rounding), so the threshold is the score of the positive ranked just
    past those. With no positive case it returns 0.5. `operating_threshold`
    decides whether there are enough positives for this rule.

    Example: `choose_threshold([1, 1, 1, 1, 0], [0.9, 0.8, 0.7, 0.3, 0.75], 0.75)` -> 0.7.
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


def youden_threshold(labels, scores) -> float:
    """The threshold (one of the scores; score >= threshold is positive) that maximises Youden's J.

    J = sensitivity + specificity - 1. Among thresholds of equal J the lowest
    (the most sensitive) is taken. With one class only it returns 0.5.

    Example: `youden_threshold([1, 1, 0, 1, 0], [0.9, 0.8, 0.75, 0.3, 0.1])` -> 0.8
    (sensitivity 2/3, specificity 1: J = 0.667).
    """
    labels = np.asarray(labels).reshape(-1).astype(int)
    scores = np.asarray(scores, "float64").reshape(-1)
    pos, neg = int(np.sum(labels == 1)), int(np.sum(labels == 0))
    if pos == 0 or neg == 0:
        return 0.5
    candidates = np.unique(scores)                     # ascending
    positive_scores, negative_scores = np.sort(scores[labels == 1]), np.sort(scores[labels == 0])
    # scores >= t: counts from the sorted arrays
    tp = pos - np.searchsorted(positive_scores, candidates, side="left")
    fp = neg - np.searchsorted(negative_scores, candidates, side="left")
    j = tp / pos - fp / neg
    best = np.flatnonzero(np.isclose(j, j.max(), rtol=0, atol=1e-12))[0]   # the lowest of the ties
    return float(candidates[best])


#: positive validation studies needed before the threshold is fitted to the target sensitivity
MIN_POSITIVES = 20


def operating_threshold(labels, scores, target_sensitivity: float = 0.9,
                        min_positives: int = MIN_POSITIVES) -> dict[str, Any]:
    """The operating threshold of validation `labels`/`scores`, and the rule that chose it.

    `rule` is `"target_sensitivity"` (`choose_threshold`) when there are at
    least `min_positives` positives (or no negative to weigh them against),
    `"youden"` (`youden_threshold`) when there are fewer, and `"none"` (0.5)
    without any positive. `missed_allowed` is floor((1 - target) n) under the
    target rule. `description` says
    which in one sentence, with the counts, for reports and model cards.

    Example:

    ```python
    operating_threshold([1] * 9 + [0] * 12, scores, 0.9, min_positives=20)
    # {'threshold': 0.07, 'rule': 'youden', 'positives': 9, 'negatives': 12, 'missed_allowed': None,
    #  'target_sensitivity': 0.9, 'min_positives': 20, 'description': "Youden's J (...) ..."}
    ```
    """
    if not 0 < target_sensitivity <= 1:
        raise ConfigError(f"target_sensitivity must be in (0, 1], got {target_sensitivity}")
    if int(min_positives) < 1:
        raise ConfigError(f"min_positives must be at least 1, got {min_positives}")
    labels = np.asarray(labels).reshape(-1).astype(int)
    pos, neg = int(np.sum(labels == 1)), int(np.sum(labels == 0))
    out: dict[str, Any] = {"positives": pos, "negatives": neg, "target_sensitivity": float(target_sensitivity),
                           "min_positives": int(min_positives), "missed_allowed": None}
    if pos == 0:
        return out | {"threshold": 0.5, "rule": "none",
                      "description": "no positive validation study, so no threshold can be fitted: 0.5"}
    missed = _missed(pos, target_sensitivity)
    if pos >= min_positives or neg == 0:
        caveat = "" if pos >= min_positives else \
            f"; fewer than the {min_positives} positives wanted (option min_positives), but no negative study to " \
            "balance them against"
        return out | {"threshold": choose_threshold(labels, scores, target_sensitivity),
                      "rule": "target_sensitivity", "missed_allowed": missed,
                      "description": f"the highest threshold reaching sensitivity {target_sensitivity:g} on the "
                                     f"{pos} positive validation studies (at most {missed} missed){caveat}"}
    return out | {"threshold": youden_threshold(labels, scores), "rule": "youden",
                  "description": f"Youden's J (sensitivity + specificity - 1) maximised on the {pos} positive and "
                                 f"{neg} negative validation studies: {pos} positives are fewer than the "
                                 f"{min_positives} needed (option min_positives) to aim at sensitivity "
                                 f"{target_sensitivity:g}, which on {pos} positives allows {missed} missed and "
                                 f"would put the threshold at the score of the {_ordinal(missed + 1)}-scoring "
                                 "positive alone"}


def _missed(pos: int, target: float) -> int:
    """Positives a threshold may miss and still reach sensitivity `target`: floor((1 - target) pos), float-safe."""
    return pos - max(int(np.ceil(target * pos - 1e-9)), 1)


def _ordinal(k: int) -> str:
    """1 -> 'lowest', 2 -> '2nd-lowest', ... (rank from the bottom)."""
    if k <= 1:
        return "lowest"
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}-lowest"


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion `successes / n`; None when `n` is 0.

    Unlike the normal approximation it stays inside [0, 1] and is not empty at
    0 or n successes (9 of 9: 0.701 to 1.0).

    Example: `wilson_interval(9, 9)` -> `(0.7008..., 1.0)`.
    """
    if n <= 0:
        return None
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def clinical_metrics(labels, scores, threshold: float) -> dict[str, float | int | None]:
    """ROC-AUC, PR-AUC, and sensitivity, specificity, PPV, NPV at `threshold` (score >= threshold is positive).

    Areas come from `zoo.metrics` (ROC-AUC, and PR-AUC as average precision, both
    tie-aware); a value that is undefined for these labels (AUC with one class,
    sensitivity with no positive) is None. `sensitivity_ci95` and
    `specificity_ci95` are 95% Wilson score intervals `[low, high]` (None when
    undefined).

    Example: `clinical_metrics([1, 1, 0], [0.9, 0.4, 0.2], 0.5)["sensitivity_ci95"]` -> `[0.094..., 0.905...]`.
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

    def interval(a: int, b: int) -> list[float] | None:
        bounds = wilson_interval(a, b)
        return None if bounds is None else list(bounds)

    return {
        "roc_auc": roc_auc(labels, scores) if both else None,
        "pr_auc": average_precision(labels, scores) if both else None,
        "threshold": float(threshold),
        "sensitivity": ratio(tp, pos),
        "sensitivity_ci95": interval(tp, pos),
        "specificity": ratio(tn, neg),
        "specificity_ci95": interval(tn, neg),
        "ppv": ratio(tp, tp + fp),
        "npv": ratio(tn, tn + fn),
        "tp": tp, "fp": fp, "tn": tn, "fn": fn,
        "n": int(labels.size), "positives": pos,
    }
