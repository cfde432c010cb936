"""Stratified and time-based splits into training, validation and test rows.

- `stratified_split`: each class shuffled (seeded) and cut in the same proportions,
  so a 1% fraud rate stays 1% in every split.
- `time_split`: rows ordered by time; training is the past, validation what follows,
  test the most recent. A cut never falls between two rows with the same time, so
  every validation row is strictly later than every training row (and every test
  row strictly later than every validation row): nothing from the future leaks into training.

Example:

```python
train, val, test = time_split(times, val_fraction=0.15, test_fraction=0.15, column="ts")
assert times[val].min() > times[train].max()
```
"""

from __future__ import annotations

import numpy as np

from zoo.errors import DataError


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int):
    """(train, validation, test) row indices, each sorted, with the class ratio kept."""
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n = len(idx)
        n_val = int(round(n * val_fraction))
        n_test = int(round(n * test_fraction))
        if val_fraction > 0 and n_val == 0 and n >= 2:
            n_val = 1
        if test_fraction > 0 and n_test == 0 and n - n_val >= 2:
            n_test = 1
        parts[1].append(idx[:n_val])
        parts[2].append(idx[n_val:n_val + n_test])
        parts[0].append(idx[n_val + n_test:])
    return tuple(np.sort(np.concatenate(p)) if p else np.zeros(0, int) for p in parts)


def time_split(times: np.ndarray, val_fraction: float, test_fraction: float, column: str):
    """(train, validation, test) row indices by time; `DataError` for missing times or empty splits."""
    times = np.asarray(times, "float64")
    missing = np.isnan(times)
    if missing.any():
        raise DataError(f"time column {column!r} is missing in {int(missing.sum())} row(s) (first: row "
                        f"{int(np.argmax(missing)) + 1}); a time split needs a time for every row")
    n = len(times)
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    n_val = int(round(n * val_fraction))
    n_test = int(round(n * test_fraction))
    n_train = n - n_val - n_test
    if n_train <= 0 or n_train >= n:
        raise DataError(f"a time split of {n} rows leaves no training or no validation rows")
    # Cut at a time value, never between equal times: train < t1 <= validation < t2 <= test.
    t1 = ordered[n_train]
    t2 = ordered[n_train + n_val] if n_test else np.inf
    train = np.flatnonzero(times < t1)
    val = np.flatnonzero((times >= t1) & (times < t2))
    test = np.flatnonzero(times >= t2)
    if len(train) == 0 or len(val) == 0:
        raise DataError(f"time column {column!r} has too few distinct times to split into training and "
                        f"validation ({len(np.unique(times))} distinct)")
    return train, val, test


def labelled_subset(train: np.ndarray, labels: np.ndarray, fraction: float, seed: int):
    """(labelled, unlabelled) parts of the training rows: a stratified `fraction` keeps its labels."""
    if fraction >= 1:
        return train, np.zeros(0, int)
    rng = np.random.default_rng(seed + 7919)
    keep = []
    for cls in np.unique(labels[train]):
        idx = train[labels[train] == cls]
        idx = idx[rng.permutation(len(idx))]
        keep.append(idx[: max(1, int(round(len(idx) * fraction)))])
    labelled = np.sort(np.concatenate(keep))
    return labelled, np.setdiff1d(train, labelled)
