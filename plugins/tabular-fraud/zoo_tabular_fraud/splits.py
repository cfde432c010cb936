"""The splits keras-zoo does not ship: by time, and the demo's labelled subset of training rows.

(The stratified split is `zoo.data.split_indices`: each class shuffled with the seed and
cut in the same proportions, so a 1% fraud rate stays 1% in every split.)

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
