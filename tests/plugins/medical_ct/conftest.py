"""Fixtures of the medical-ct tests: real DICOM and NIfTI files written into temporary folders.

The demo cohort goes to a session-wide cache folder (`KERAS_ZOO_CACHE`), so it is
generated once per test session and never touches the user's `~/.cache`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path

import numpy as np
import pytest

from ct_testing import phantom, write_csv


@pytest.fixture(scope="session")
def ct_cache(tmp_path_factory) -> Path:
    """A session cache folder for the demo cohort, exported as `KERAS_ZOO_CACHE`."""
    path = tmp_path_factory.mktemp("keras-zoo-cache")
    old = os.environ.get("KERAS_ZOO_CACHE")
    os.environ["KERAS_ZOO_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("KERAS_ZOO_CACHE", None)
    else:
        os.environ["KERAS_ZOO_CACHE"] = old


@pytest.fixture
def cohort_csv(tmp_path) -> Path:
    """12 patients, each with 2 studies (DICOM series and NIfTI volumes), study-level labels."""
    import nibabel as nib

    from zoo_medical_ct.io import write_dicom_series

    rows = []
    for p in range(12):
        positive = p % 2 == 0
        label = "nodule" if positive else "normal"
        pid = f"P{p:02d}"
        write_dicom_series(tmp_path / pid / "baseline", phantom(3, positive=positive, seed=p), patient_id=pid,
                           slope=0.5, intercept=-1024.0, bits_stored=16)
        rows.append([pid, f"{pid}/baseline", label])
        volume = phantom(2, positive=positive, seed=100 + p).transpose(2, 1, 0)   # (i, j, k) LPS voxels
        nib.save(nib.Nifti1Image(volume, np.diag([-1.0, -1.0, 1.0, 1.0])), tmp_path / pid / "followup.nii.gz")
        rows.append([pid, f"{pid}/followup.nii.gz", label])
    return write_csv(tmp_path / "labels.csv", ["patient_id", "path", "label"], rows)
