"""Patient-level splits: grouped by patient, stratified by the patient's label, seeded.

Every study (and every slice) of a patient goes to the patient's split, so no
patient's anatomy is seen in training and again in validation or test.

Example:

```python
split_patients({"p1": 1, "p2": 0, "p3": 0, "p4": 1}, val_fraction=0.25, test_fraction=0.25, seed=42)
# {'train': [...], 'validation': [...], 'test': [...]}: each patient in exactly one list
```
"""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from zoo.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


def _counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """Validation and test patients taken from a stratum of `n` (at least one each when it can spare them)."""
    n_val = int(round(n * val_fraction))
    n_test = int(round(n * test_fraction))
    if val_fraction > 0 and n_val == 0 and n >= 2:
        n_val = 1
    if test_fraction > 0 and n_test == 0 and n >= 3:
        n_test = 1
    while n_val + n_test > n - 1 and (n_val or n_test):   # keep one patient of the stratum for training
        if n_test >= n_val and n_test:
            n_test -= 1
        else:
            n_val -= 1
    return n_val, n_test


def split_patients(patient_labels: Mapping[str, int], val_fraction: float, test_fraction: float,
                   seed: int) -> dict[str, list[str]]:
    """Assign every patient to train, validation or test; stratified by label where possible."""
    if len(patient_labels) < 2:
        raise DataError(f"{len(patient_labels)} patient(s) in the data; patient-level splits need at least 2 "
                        "(3 with a test split)")
    rng = np.random.default_rng(seed)
    out: dict[str, list[str]] = {name: [] for name in SPLITS}
    for label in sorted(set(patient_labels.values())):
        stratum = sorted(p for p, lab in patient_labels.items() if lab == label)
        stratum = [stratum[i] for i in rng.permutation(len(stratum))]
        n_val, n_test = _counts(len(stratum), val_fraction, test_fraction)
        out["validation"] += stratum[:n_val]
        out["test"] += stratum[n_val:n_val + n_test]
        out["train"] += stratum[n_val + n_test:]
    if val_fraction > 0 and not out["validation"]:
        raise DataError(f"{len(patient_labels)} patients are too few for a validation split; add patients")
    for split in ("validation", "test"):
        labels = {patient_labels[p] for p in out[split]}
        if out[split] and len(labels) < len(set(patient_labels.values())):
            log.warning("the %s split has patients of one class only (too few patients of the other); "
                        "its AUC is undefined", split)
    return {name: sorted(patients) for name, patients in out.items()}
