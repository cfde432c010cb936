"""The data adapter: conformance, labels CSVs, patient-level splits, bad input (real files)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.errors import ConfigError, DataError
from zoo.testing import check_plugin
from zoo_medical_ct import plugin
from zoo_medical_ct.io import write_dicom_series
from zoo_medical_ct.splits import split_patients

from ct_testing import phantom, recipe_for, write_csv

ZOO = Path(sys.executable).with_name("zoo")


def assert_no_leakage(cohort):
    """Every patient in exactly one split, and every sample of a split from that split's patients."""
    splits = cohort.splits
    seen = {}
    for name, patients in splits.items():
        for p in patients:
            assert p not in seen, f"patient {p} is in {seen[p]} and {name}"
            seen[p] = name
    assert set(seen) == {s.patient_id for s in cohort.studies}
    patient_of = {s.study_id: s.patient_id for s in cohort.studies}
    for name in splits:
        _, _, ids = cohort.arrays(name)
        assert {patient_of[i] for i in ids} <= set(splits[name])
    assert cohort.metadata()["patients"] == splits


def test_conformance(ct_cache):
    report = check_plugin(plugin, options={"options": {"demo_patients": 8, "image_size": 32}},
                          backbones=["mobilenet_v2"])
    assert report["backbones"]["mobilenet_v2"]["blocks"] >= 5
    assert report["demo_train"] > report["demo_validation"] > 0


def test_demo_cohort_is_real_dicom_read_back_and_split_by_patient(ct_cache):
    import pydicom

    cohort = plugin.data.cohort(None, recipe_for())
    assert_no_leakage(cohort)
    folder = ct_cache / "medical-ct-demo-v1"
    assert len({s.patient_id for s in cohort.studies}) == 120
    assert len(cohort.studies) > 120                      # some patients have a follow-up study
    assert cohort.class_names == ["normal", "nodule"]
    for split in ("validation", "test"):                  # stratified: both classes in the held-out splits
        assert {s.label for s in cohort.split(split)} == {0, 1}
    ds = pydicom.dcmread(next((folder / cohort.studies[0].study_id).iterdir()))
    assert ds.Modality == "CT" and ds.PatientID == cohort.studies[0].patient_id
    slopes = set()
    for study in cohort.studies[:40]:
        ds = pydicom.dcmread(next((folder / study.study_id).iterdir()), stop_before_pixels=True)
        slopes.add((float(ds.RescaleSlope), float(ds.RescaleIntercept)))
    assert len(slopes) > 1 and (1.0, -1024.0) != min(slopes)   # several encodings, not only the trivial one
    x, y, _ = cohort.arrays("train")
    assert x.shape[1:] == (96, 96, 1) and x.dtype == np.float32
    assert -1100 < np.percentile(x, 1) < -900 and 500 < x.max() < 1500     # air .. bone in HU
    assert 0.2 < y.mean() < 0.6


def test_demo_is_deterministic_and_splits_follow_the_seed(ct_cache):
    small = recipe_for(demo_patients=10)
    first = plugin.data.cohort(None, small)
    again = plugin.data.cohort(None, small)
    assert first.splits == again.splits
    np.testing.assert_array_equal(first.arrays("train")[0], again.arrays("train")[0])
    reseeded = plugin.data.cohort(None, recipe_for({"seed": 7}, demo_patients=10))
    assert reseeded.splits != first.splits
    assert_no_leakage(reseeded)


def test_several_studies_per_patient_stay_together(cohort_csv):
    cohort = plugin.data.cohort(str(cohort_csv), recipe_for(image_size=32))
    assert_no_leakage(cohort)
    assert len(cohort.studies) == 24
    for name, patients in cohort.splits.items():
        studies = [s for s in cohort.studies if s.patient_id in patients]
        assert len(studies) == 2 * len(patients)
    assert all(cohort.splits[name] for name in ("train", "validation", "test"))
    bundle = cohort.to_bundle()
    assert bundle.metadata["patients"] == cohort.splits
    x, y = next(iter(bundle.train.take(1)))
    assert tuple(x["hu"].shape) == (32, 32, 1) and tuple(y.shape) == (1,)


def test_slice_level_labels_select_and_label_slices(tmp_path):
    rows = []
    for p in range(6):
        write_dicom_series(tmp_path / f"s{p}", phantom(4, seed=p), patient_id=f"P{p}")
        rows += [[f"P{p}", f"s{p}", 1, "yes" if p % 2 else "no"], [f"P{p}", f"s{p}", 3, "no"]]
    csv = write_csv(tmp_path / "slices.csv", ["patient_id", "path", "slice_index", "label"], rows)
    cohort = plugin.data.cohort(str(csv), recipe_for({"test_fraction": 0.0}, image_size=32))
    assert cohort.class_names == ["no", "yes"]
    study = next(s for s in cohort.studies if s.patient_id == "P1")
    assert study.slice_index.tolist() == [1, 3] and study.y.tolist() == [1, 0] and study.label == 1
    assert next(s for s in cohort.studies if s.patient_id == "P2").label == 0


def test_two_and_a_half_d_stacks_neighbours(cohort_csv):
    cohort = plugin.data.cohort(str(cohort_csv), recipe_for(image_size=32, slices=3, windows=["lung"]))
    x, _, _ = cohort.arrays("train")
    assert x.shape[1:] == (32, 32, 3)
    prep = plugin.backbone().preprocessing(cohort.to_bundle().input_signature)
    assert prep.layers[0].get_config()["windows"][0]["name"] == "lung"
    with pytest.raises(ConfigError, match="make 9 channels"):
        plugin.data.cohort(str(cohort_csv), recipe_for(image_size=32, slices=3))   # 3 default windows


def test_read_inputs_reads_a_series_and_a_nifti_for_predict(tmp_path):
    import nibabel as nib

    from zoo.api import TensorSpec

    write_dicom_series(tmp_path / "series", phantom(3, size=64), patient_id="X")
    nib.save(nib.Nifti1Image(phantom(2, size=64).transpose(2, 1, 0), np.diag([-1.0, -1.0, 1.0, 1.0])),
             tmp_path / "v.nii.gz")
    out = plugin.data.read_inputs([str(tmp_path / "series"), str(tmp_path / "v.nii.gz")],
                                  {"hu": TensorSpec((32, 32, 1))})
    assert out["hu"].shape == (5, 32, 32, 1) and out["hu"].dtype == np.float32
    json_signature = {"hu": {"shape": [32, 32, 3], "dtype": "float32"}}     # as zoo.json stores it
    assert plugin.data.read_inputs([str(tmp_path / "series")], json_signature)["hu"].shape == (3, 32, 32, 3)


# --------------------------------------------------------------------------- splits

def test_split_patients_is_grouped_stratified_and_seeded():
    labels = {f"p{i:02d}": int(i < 8) for i in range(20)}
    a = split_patients(labels, 0.2, 0.2, seed=1)
    assert a == split_patients(labels, 0.2, 0.2, seed=1)
    assert a != split_patients(labels, 0.2, 0.2, seed=2)
    assert sorted(sum(a.values(), [])) == sorted(labels)
    for name in ("validation", "test"):
        assert {labels[p] for p in a[name]} == {0, 1}
    assert len(a["validation"]) == len(a["test"]) == 4


# --------------------------------------------------------------------------- bad input

@pytest.fixture
def good_series(tmp_path) -> Path:
    write_dicom_series(tmp_path / "good", phantom(2), patient_id="P0")
    write_dicom_series(tmp_path / "good2", phantom(2), patient_id="P1")
    return tmp_path


@pytest.mark.parametrize("header, row, message", [
    (["pid", "path", "label"], ["P0", "good", "a"], r"bad\.csv: missing column 'patient_id'"),
    (["patient_id", "where", "label"], ["P0", "good", "a"], r"bad\.csv: missing column 'path'"),
    (["patient_id", "path", "class"], ["P0", "good", "a"], r"bad\.csv: missing column 'label'"),
    (["patient_id", "path", "label"], ["P0", "missing_series", "a"], r"bad\.csv line 2 \(missing_series\).*no such"),
    (["patient_id", "path", "label"], ["", "good", "a"], r"bad\.csv line 2: empty 'patient_id'"),
])
def test_bad_csvs_name_file_and_column(good_series, header, row, message):
    csv = write_csv(good_series / "bad.csv", header, [row, ["P1", "good2", "b"]])
    with pytest.raises(DataError, match=message):
        plugin.data.load(str(csv), recipe_for({}, classes=["a", "b"]))


def test_labels_not_in_the_data_are_refused(good_series):
    csv = write_csv(good_series / "labels.csv", ["patient_id", "path", "label"],
                    [["P0", "good", "normal"], ["P1", "good2", "normal"]])
    with pytest.raises(DataError, match=r"labels\.csv: class 'nodule' \(option classes\) does not occur"):
        plugin.data.load(str(csv), recipe_for(classes=["normal", "nodule"]))
    csv = write_csv(good_series / "labels.csv", ["patient_id", "path", "label"],
                    [["P0", "good", "normal"], ["P1", "good2", "tumour"]])
    with pytest.raises(DataError, match=r"labels\.csv line 3: label 'tumour' is not one of the classes"):
        plugin.data.load(str(csv), recipe_for(classes=["normal", "nodule"]))
    with pytest.raises(DataError, match="cannot tell which of the labels"):
        plugin.data.load(str(write_csv(good_series / "l.csv", ["patient_id", "path", "label"],
                                       [["P0", "good", "x"], ["P1", "good2", "y"]])), recipe_for())


def test_slice_index_past_the_series_is_refused(good_series):
    csv = write_csv(good_series / "labels.csv", ["patient_id", "path", "slice_index", "label"],
                    [["P0", "good", 0, "0"], ["P1", "good2", 5, "1"]])
    with pytest.raises(DataError, match=r"labels\.csv line 3: slice_index 5 but good2 has 2 slices"):
        plugin.data.load(str(csv), recipe_for())


def test_one_study_for_two_patients_is_refused(good_series):
    csv = write_csv(good_series / "labels.csv", ["patient_id", "path", "label"],
                    [["P0", "good", "0"], ["P1", "good", "1"]])
    with pytest.raises(DataError, match="belongs to patient 'P0' on line 2 and to 'P1' here"):
        plugin.data.load(str(csv), recipe_for())


def test_one_series_copied_under_two_patients_is_refused(good_series):
    import shutil

    shutil.copytree(good_series / "good", good_series / "copy")
    csv = write_csv(good_series / "labels.csv", ["patient_id", "path", "label"],
                    [["P0", "good", "0"], ["P1", "good2", "1"], ["P2", "copy", "1"]])
    with pytest.raises(DataError, match=r"line 4: copy holds the same DICOM series .* as line 2 \(good\)"):
        plugin.data.load(str(csv), recipe_for())


def _zoo(*args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([str(ZOO), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.skipif(not ZOO.exists(), reason="the zoo command is not installed in this environment")
@pytest.mark.parametrize("case", ["missing-column", "not-dicom", "mixed-shapes", "unknown-label"])
def test_cli_bad_data_exits_2_naming_the_problem(tmp_path, case):
    write_dicom_series(tmp_path / "good", phantom(2), patient_id="P0")
    rows = [["P0", "good", "normal"], ["P1", "other", "nodule"]]
    header = ["patient_id", "path", "label"]
    other = tmp_path / "other"
    if case == "missing-column":
        header = ["patient", "path", "label"]
        write_dicom_series(other, phantom(2), patient_id="P1")
        expected = "missing column 'patient_id'"
    elif case == "not-dicom":
        write_dicom_series(other, phantom(2), patient_id="P1")
        (other / "scan.jpg").write_bytes(b"\xff\xd8\xff\xe0 a jpeg, not DICOM")
        expected = "scan.jpg: not a DICOM file"
    elif case == "mixed-shapes":
        write_dicom_series(other, phantom(2, size=16), patient_id="P1", series_uid="1.2.3.99",
                           file_names=["a.dcm", "b.dcm"])
        write_dicom_series(tmp_path / "tmp", phantom(1, size=12), patient_id="P1", series_uid="1.2.3.99",
                           file_names=["c.dcm"])
        (tmp_path / "tmp" / "c.dcm").rename(other / "c.dcm")
        expected = "c.dcm: slice of 12x12 pixels"
    else:
        write_dicom_series(other, phantom(2), patient_id="P1")
        rows[1][2] = "tumour"
        expected = "label 'tumour' is not one of the classes"
    write_csv(tmp_path / "bad.csv", header, rows)
    result = _zoo("finetune", "--plugin", "medical-ct", "--data", "bad.csv", "--runs-dir", "runs",
                  "-o", "classes=[normal,nodule]", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and expected in last, last
    assert not list(tmp_path.glob("runs/*/model.keras"))
