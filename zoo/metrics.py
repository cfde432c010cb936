"""Binary metrics and curves on numpy arrays (public: plugins may import this module).

Areas and curves come from scikit-learn (`roc_auc_score`, `average_precision_score`,
`roc_curve`, `precision_recall_curve`), imported inside the functions so that importing
this module stays cheap. Ties are handled as scikit-learn does: constant scores give
ROC-AUC 0.5 and an average precision equal to the positive rate. A value that is
undefined (labels of one class only) is NaN.

Example:

```python
from zoo.metrics import binary_curves, roc_auc
roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])   # 0.75
curves = binary_curves(labels, scores)          # fpr, tpr, precision, recall, thresholds, areas
```
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["roc_auc", "average_precision", "binary_curves", "confusion_matrix"]


def _pair(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).reshape(-1).astype(int)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(y) != len(s):
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    return y, s


def _two_classes(y: np.ndarray) -> bool:
    return len(y) > 0 and 0 < int(y.sum()) < len(y)


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve (tie-aware); NaN when the labels hold one class only."""
    from sklearn.metrics import roc_auc_score

    y, s = _pair(labels, scores)
    return float(roc_auc_score(y, s)) if _two_classes(y) else float("nan")


def average_precision(labels, scores) -> float:
    """Area under the precision-recall curve as average precision (step-wise); NaN without positives."""
    from sklearn.metrics import average_precision_score

    y, s = _pair(labels, scores)
    return float(average_precision_score(y, s)) if y.sum() > 0 else float("nan")


def binary_curves(labels, scores) -> dict[str, Any]:
    """ROC and precision-recall curves with their areas and thresholds.

    Keys: `fpr`, `tpr`, `roc_thresholds`, `precision`, `recall`, `pr_thresholds` (arrays),
    `roc_auc`, `pr_auc` (floats, NaN when undefined).
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    y, s = _pair(labels, scores)
    out: dict[str, Any] = {"roc_auc": roc_auc(y, s), "pr_auc": average_precision(y, s)}
    if _two_classes(y):
        fpr, tpr, roc_t = roc_curve(y, s, drop_intermediate=False)
        precision, recall, pr_t = precision_recall_curve(y, s)
        # scikit-learn gives precision/recall with recall decreasing; plots read better increasing.
        precision, recall = precision[::-1], recall[::-1]
    else:
        fpr = tpr = np.array([0.0, 1.0])
        roc_t = np.array([np.inf, -np.inf])
        precision, recall, pr_t = np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([])
    out.update(fpr=fpr, tpr=tpr, roc_thresholds=roc_t, precision=precision, recall=recall, pr_thresholds=pr_t)
    return out


def confusion_matrix(labels, predicted, n: int) -> np.ndarray:
    """`(n, n)` counts: rows are true classes, columns predicted ones."""
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (np.asarray(labels).reshape(-1).astype(int), np.asarray(predicted).reshape(-1).astype(int)), 1)
    return matrix
