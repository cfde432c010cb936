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
from zoo_medical_ct.data import DEMO_PATIENTS, Study, check_no_leakage, split_patients
from zoo_medical_ct.io import write_dicom_series

from ct_testing import options_for, phantom, recipe_for, write_csv

ZOO = Path(sys.executable).with_name("zoo")


def _load(source, recipe):
    return plugin.data.load(source, recipe, options_for(recipe))


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


def test_conformance(ct_cache, tmp_path):
    report = check_plugin(plugin, recipe={"options": {"demo_patients": 8, "image_size": 32}},
                          backbones=["mobilenet_v2"], workdir=tmp_path)
    assert report["backbones"]["mobilenet_v2"]["blocks"] >= 5 and report["preview"] == "image"
    assert report["demo_train"] > report["demo_validation"] > 0
    # write_examples -> read_inputs -> predict: one row per written series (a study), not per slice
    assert report["predict"]["rows"] == len(report["predict"]["examples"]) == 2


def test_plugin_is_written_to_contract_2_and_keeps_no_state():
    assert plugin.contract == 2 and plugin.validate() == []
    assert set(plugin.options) == {"image_size", "windows", "slices", "classes", "aggregate",
                                   "target_sensitivity", "min_positives", "demo_patients", "augment"}
    assert all(spec.help for spec in plugin.options.values())
    assert vars(plugin.data) == {}                    # nothing remembered between calls


def test_demo_cohort_is_real_dicom_read_back_and_split_by_patient(ct_cache):
    import pydicom

    cohort = plugin.data.cohort(None, recipe_for())
    assert_no_leakage(cohort)
    folder = ct_cache / "medical-ct-demo-v1"
    assert len({s.patient_id for s in cohort.studies}) == DEMO_PATIENTS == 240
    assert len(cohort.studies) > 240                      # some patients have a follow-up study
    assert cohort.class_names == ["normal", "nodule"]
    for split in ("validation", "test"):                  # stratified: both classes in the held-out splits
        assert {s.label for s in cohort.split(split)} == {0, 1}
    # enough positive validation studies for the threshold to aim at the target sensitivity (not a fallback)
    from zoo_medical_ct.metrics import MIN_POSITIVES

    assert sum(s.label for s in cohort.split("validation")) >= MIN_POSITIVES == plugin.options["min_positives"].default
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
    recipe = recipe_for(image_size=32, slices=3, windows=["lung"])
    cohort = plugin.data.cohort(str(cohort_csv), recipe)
    x, _, _ = cohort.arrays("train")
    assert x.shape[1:] == (32, 32, 3)
    # the preprocessing reads the windows from the options it is handed, nothing remembered from a read
    signature = cohort.to_bundle().input_signature
    prep = plugin.backbone().preprocessing(signature, options_for(recipe))
    assert [w["name"] for w in prep.layers[0].get_config()["windows"]] == ["lung"]
    brain = options_for(recipe_for(image_size=32, slices=3, windows=["brain"]))
    assert plugin.backbone().preprocessing(signature, brain).layers[0].get_config()["windows"][0]["name"] == "brain"
    with pytest.raises(ConfigError, match="make 9 channels"):
        plugin.data.cohort(str(cohort_csv), recipe_for(image_size=32, slices=3))   # 3 default windows
    with pytest.raises(ConfigError, match="has 3 adjacent slice.* but option slices is 1"):
        plugin.backbone().preprocessing(signature, options_for(recipe_for()))


@pytest.mark.parametrize("options, message", [
    ({"image_size": 16}, "option image_size must be >= 32"),
    ({"image_size": 100000}, "option image_size must be <= 1024"),
    ({"image_size": "big"}, "option image_size must be an integer"),
    ({"aggregate": "median"}, "option aggregate must be one of mean, max"),
    ({"target_sensitivity": 1.5}, "option target_sensitivity must be <= 1"),
    ({"demo_patients": 3}, "option demo_patients must be >= 4"),
    ({"slices": 0}, "option slices must be >= 1"),
    ({"augment": "maybe"}, "option augment must be true or false"),
    ({"windows": {"width": 400}}, "option windows must be a list"),
])
def test_declared_options_are_checked_by_the_core(options, message):
    with pytest.raises(ConfigError, match=message):
        recipe_for(**options)


@pytest.mark.parametrize("options, message", [
    ({"slices": 2, "windows": ["lung"]}, "option slices must be an odd number"),
    ({"target_sensitivity": 0}, r"option target_sensitivity must be in \(0, 1\]"),
    ({"classes": ["a", "b", "c"]}, "option classes must list two labels"),
    ({"classes": ["a", "a"]}, "option classes must list two labels"),
    ({"windows": ["liver"]}, "unknown CT window 'liver'"),
])
def test_cross_field_and_value_checks_stay_in_the_plugin(cohort_csv, options, message):
    with pytest.raises(ConfigError, match=message):
        plugin.data.cohort(str(cohort_csv), recipe_for(**options))


def test_options_from_text_are_converted(cohort_csv):
    # what `-o slices=3 -o windows=lung -o augment=no -o classes=normal,nodule` hands the plugin
    recipe = recipe_for(image_size="32", slices="3", windows="lung", augment="no", classes="normal,nodule")
    cohort = plugin.data.cohort(str(cohort_csv), recipe)
    assert (cohort.options.image_size, cohort.options.slices, cohort.options.augment) == (32, 3, False)
    assert cohort.class_names == ["normal", "nodule"] and cohort.to_bundle().augment is None


def test_read_inputs_reads_a_series_and_a_nifti_for_predict(tmp_path):
    import nibabel as nib

    from zoo.api import Rows, TensorSpec

    write_dicom_series(tmp_path / "series", phantom(3, size=64), patient_id="X")
    nib.save(nib.Nifti1Image(phantom(2, size=64).transpose(2, 1, 0), np.diag([-1.0, -1.0, 1.0, 1.0])),
             tmp_path / "v.nii.gz")
    series, nifti = str(tmp_path / "series"), str(tmp_path / "v.nii.gz")
    options = options_for(recipe_for())
    rows = plugin.data.read_inputs([series, nifti], {"hu": TensorSpec((32, 32, 1))}, options, {})
    assert isinstance(rows, Rows)
    rows.check()
    assert rows.inputs["hu"].shape == (5, 32, 32, 1) and rows.inputs["hu"].dtype == np.float32
    assert rows.sources == [series] * 3 + [nifti] * 2              # each slice names its study
    assert rows.context == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    json_signature = {"hu": {"shape": [32, 32, 3], "dtype": "float32"}}     # as zoo.json stores it
    assert plugin.data.read_inputs([series], json_signature, options, {}).inputs["hu"].shape == (3, 32, 32, 3)
    with pytest.raises(DataError, match="no 'hu' input"):
        plugin.data.read_inputs([series], {"image": TensorSpec((32, 32, 3))}, options, {})


def test_group_predictions_scores_each_input_once_with_the_options_aggregate(tmp_path):
    from zoo.api import TensorSpec

    write_dicom_series(tmp_path / "a", phantom(3, size=16), patient_id="A")
    write_dicom_series(tmp_path / "b", phantom(2, size=16), patient_id="B")
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    signature = {"hu": TensorSpec((16, 16, 1))}
    rows = plugin.data.read_inputs([a, b, a], signature, options_for(recipe_for()), {})   # a given twice
    scores = np.array([[0.1], [0.2], [0.6], [0.9], [0.5], [0.3], [0.3], [0.3]])
    mean = plugin.data.group_predictions(rows, scores, options_for(recipe_for()))
    assert [name for name, _ in mean] == [a, b, a]
    np.testing.assert_allclose([s for _, s in mean], [[0.3], [0.7], [0.3]])
    top = plugin.data.group_predictions(rows, scores, options_for(recipe_for(aggregate="max")))
    np.testing.assert_allclose([s for _, s in top], [[0.6], [0.9], [0.3]])
    # two calls in a row do not mix: each reads only the rows it is handed
    other = plugin.data.read_inputs([b], signature, options_for(recipe_for()), {})
    assert plugin.data.group_predictions(other, np.array([[0.2], [0.4]]), options_for(recipe_for()))[0][0] == b
    np.testing.assert_allclose(plugin.data.group_predictions(rows, scores, options_for(recipe_for()))[1][1], [0.7])


def test_write_examples_are_held_out_series_that_read_back(ct_cache, tmp_path):
    import pydicom

    from zoo.api import TensorSpec

    recipe = recipe_for(demo_patients=10)
    paths = plugin.data.write_examples(tmp_path / "examples", recipe, options_for(recipe))
    assert len(paths) == 2 and all(Path(p).is_dir() for p in paths)
    patients = {pydicom.dcmread(next(Path(p).iterdir()), stop_before_pixels=True).PatientID for p in paths}
    assert len(patients) == 2 and not any(p.startswith("CT-DEMO-") for p in patients)   # in no demo cohort
    rows = plugin.data.read_inputs(paths, {"hu": TensorSpec((32, 32, 1))}, options_for(recipe), {})
    assert rows.inputs["hu"].shape == (16, 32, 32, 1) and rows.sources == [paths[0]] * 8 + [paths[1]] * 8
    assert -1100 < rows.inputs["hu"].min() < -900 and rows.inputs["hu"].max() > 300      # air .. bone in HU
    again = plugin.data.write_examples(tmp_path / "again", recipe, options_for(recipe))
    for first, second in zip(paths, again):                                # deterministic
        names = sorted(f.name for f in Path(first).iterdir())
        assert names == sorted(f.name for f in Path(second).iterdir())
        assert (Path(first) / names[0]).read_bytes() == (Path(second) / names[0]).read_bytes()


# --------------------------------------------------------------------------- splits

def _studies(labels: dict[str, list[int]]) -> list[Study]:
    """Studies of one slice each: patient -> the labels of their studies."""
    out = []
    for patient, study_labels in labels.items():
        for k, label in enumerate(study_labels):
            out.append(Study(f"{patient}/s{k}", patient, "", np.zeros((1, 2, 2, 1), "float32"),
                             np.array([label], "int32"), np.array([0]), label))
    return out


def test_split_patients_is_grouped_stratified_and_seeded():
    # 20 patients, 8 positive; p00 and p01 have a negative and a positive study (positive patients)
    labels = {f"p{i:02d}": ([0, 1] if i < 2 else [1]) if i < 8 else [0, 0] for i in range(20)}
    studies = _studies(labels)
    a = split_patients(studies, 0.2, 0.2, seed=1)
    assert a == split_patients(studies, 0.2, 0.2, seed=1)
    assert a != split_patients(studies, 0.2, 0.2, seed=2)
    assert sorted(sum(a.values(), [])) == sorted(labels)
    for name in ("validation", "test"):
        assert {max(labels[p]) for p in a[name]} == {0, 1}
    # per stratum, half up: 8 positive -> 1.6 -> 2 each; 12 negative -> 2.4 -> 2 each
    assert len(a["validation"]) == len(a["test"]) == 4


def test_split_rounds_half_up_per_stratum():
    # 10 negative patients at 0.25: 2.5 -> 3 (half up) for validation and for test
    studies = _studies({f"n{i}": [0] for i in range(10)} | {f"p{i}": [1] for i in range(2)})
    splits = split_patients(studies, 0.25, 0.25, seed=0)
    assert sum(p.startswith("n") for p in splits["validation"]) == 3
    assert sum(p.startswith("n") for p in splits["test"]) == 3
    # a stratum of 2 gives one to validation and keeps one for training
    assert sum(p.startswith("p") for p in splits["train"]) == 1


def test_too_few_patients_and_leakage_are_refused():
    with pytest.raises(DataError, match="1 patient.*need at least 2"):
        split_patients(_studies({"p0": [0, 1]}), 0.15, 0.15, seed=0)
    with pytest.raises(DataError, match=r"patients \['p1'\] are in both the train and the test split"):
        check_no_leakage({"train": ["p0", "p1"], "validation": ["p2"], "test": ["p1"]})


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
        _load(str(csv), recipe_for({}, classes=["a", "b"]))


def test_labels_not_in_the_data_are_refused(good_series):
    csv = write_csv(good_series / "labels.csv", ["patient_id", "path", "label"],
                    [["P0", "good", "normal"], ["P1", "good2", "normal"]])
    with pytest.raises(DataError, match=r"labels\.csv: class 'nodule' \(option classes\) does not occur"):
        _load(str(csv), recipe_for(classes=["normal", "nodule"]))
    csv = write_csv(good_series / "labels.csv", ["patient_id", "path", "label"],
                    [["P0", "good", "normal"], ["P1", "good2", "tumour"]])
    with pytest.raises(DataError, match=r"labels\.csv line 3: label 'tumour' is not one of the classes"):
        _load(str(csv), recipe_for(classes=["normal", "nodule"]))
    with pytest.raises(DataError, match="cannot tell which of the labels"):
        _load(str(write_csv(good_series / "l.csv", ["patient_id", "path", "label"],
                                       [["P0", "good", "x"], ["P1", "good2", "y"]])), recipe_for())


def test_slice_index_past_the_series_is_refused(good_series):
    csv = write_csv(good_series / "labels.csv", ["patient_id", "path", "slice_index", "label"],
                    [["P0", "good", 0, "0"], ["P1", "good2", 5, "1"]])
    with pytest.raises(DataError, match=r"labels\.csv line 3: slice_index 5 but good2 has 2 slices"):
        _load(str(csv), recipe_for())


def test_one_study_for_two_patients_is_refused(good_series):
    csv = write_csv(good_series / "labels.csv", ["patient_id", "path", "label"],
                    [["P0", "good", "0"], ["P1", "good", "1"]])
    with pytest.raises(DataError, match="belongs to patient 'P0' on line 2 and to 'P1' here"):
        _load(str(csv), recipe_for())


def test_one_series_copied_under_two_patients_is_refused(good_series):
    import shutil

    shutil.copytree(good_series / "good", good_series / "copy")
    csv = write_csv(good_series / "labels.csv", ["patient_id", "path", "label"],
                    [["P0", "good", "0"], ["P1", "good2", "1"], ["P2", "copy", "1"]])
    with pytest.raises(DataError, match=r"line 4: copy holds the same DICOM series .* as line 2 \(good\)"):
        _load(str(csv), recipe_for())


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
