"""The medical-ct `DataAdapter`: labels CSV -> CT studies in HU -> patient-level splits -> slices.

Every slice of a study becomes one sample `({"hu": float32 (S, S, k)}, label)`:
HU resized to the plugin option `image_size` (padded to a square with air
first), with `k = slices` adjacent slices as channels (2.5D; 1 by default).
Windowing happens inside the model (`zoo_medical_ct.layers.CTWindow`), so
samples, exports and `zoo predict` all take raw HU.

Example:

```python
from zoo.training.recipe import Recipe
from zoo_medical_ct import plugin

recipe = Recipe.resolve(plugin.recipe, option_defaults=plugin.data.options)
cohort = load_cohort("studies/labels.csv", recipe)
cohort.splits["validation"]          # the validation patients
bundle = cohort.to_bundle()          # tf.data datasets for the engine
```
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from zoo.api import DataAdapter, DataBundle, TensorSpec
from zoo.errors import ConfigError, DataError

from zoo_medical_ct import io
from zoo_medical_ct.labels import StudyRow, read_labels_csv, resolve_classes
from zoo_medical_ct.metrics import AGGREGATES
from zoo_medical_ct.splits import split_patients
from zoo_medical_ct.windows import DEFAULT_WINDOWS, resolve_windows

log = logging.getLogger(__name__)

INPUT = "hu"

#: plugin options (`-o KEY=VALUE`) and their defaults
OPTIONS: dict[str, Any] = {
    "image_size": 96,
    "windows": list(DEFAULT_WINDOWS),
    "slices": 1,
    "classes": None,
    "aggregate": "mean",
    "target_sensitivity": 0.9,
    "demo_patients": 120,
    "augment": True,
}


@dataclass(frozen=True)
class CTOptions:
    """The plugin options of a recipe, validated."""

    image_size: int
    windows: list[dict[str, Any]]
    slices: int
    classes: list[str] | None
    aggregate: str
    target_sensitivity: float
    demo_patients: int
    augment: bool

    @classmethod
    def from_recipe(cls, recipe) -> "CTOptions":
        values = dict(OPTIONS)
        values.update(getattr(recipe, "options", None) or {})
        try:
            size = int(values["image_size"])
            slices = int(values["slices"])
            patients = int(values["demo_patients"])
            target = float(values["target_sensitivity"])
        except (TypeError, ValueError):
            raise ConfigError("plugin options image_size, slices, demo_patients must be integers and "
                              "target_sensitivity a number") from None
        if size < 32:
            raise ConfigError(f"option image_size must be at least 32, got {size}")
        if slices < 1 or slices % 2 == 0:
            raise ConfigError(f"option slices must be an odd number of adjacent slices (1, 3, 5...), got {slices}")
        if patients < 4:
            raise ConfigError(f"option demo_patients must be at least 4, got {patients}")
        if not 0 < target <= 1:
            raise ConfigError(f"option target_sensitivity must be in (0, 1], got {target}")
        if values["aggregate"] not in AGGREGATES:
            raise ConfigError(f"option aggregate must be one of {', '.join(AGGREGATES)}, got {values['aggregate']!r}")
        windows = resolve_windows(values["windows"])
        if len(windows) * slices != 3:
            raise ConfigError(
                f"{len(windows)} window(s) x {slices} slice(s) make {len(windows) * slices} channels; the ImageNet "
                "backbones take 3: use 3 windows with slices=1 (the default), or one window with slices=3 "
                "(e.g. -o slices=3 -o windows=[lung])")
        if not isinstance(values["augment"], bool):
            raise ConfigError(f"option augment must be true or false, got {values['augment']!r}")
        classes = values["classes"]
        if classes is not None:
            if not isinstance(classes, (list, tuple)) or len(classes) != 2 or len({str(c) for c in classes}) != 2:
                raise ConfigError(f"option classes must list two labels [NEGATIVE, POSITIVE], got {classes!r}")
            classes = [str(c) for c in classes]
        return cls(size, windows, slices, classes, str(values["aggregate"]), target, patients, values["augment"])

    def signature(self) -> dict[str, TensorSpec]:
        return {INPUT: TensorSpec((self.image_size, self.image_size, self.slices), "float32")}


@dataclass
class Study:
    """A study read into memory: its slices (as samples) and their labels."""

    study_id: str
    patient_id: str
    source: str
    x: np.ndarray                  # (n, S, S, k) float32 HU
    y: np.ndarray                  # (n,) int32 slice labels
    slice_index: np.ndarray        # the volume index of each sample
    label: int                     # study label: positive when any labelled slice is
    series_uid: str | None = None  # DICOM SeriesInstanceUID


@dataclass
class Cohort:
    """All studies of a data source, their classes and the patient-level splits."""

    studies: list[Study]
    class_names: list[str]
    splits: dict[str, list[str]]
    options: CTOptions
    source: str
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> list[Study]:
        patients = set(self.splits[name])
        return [s for s in self.studies if s.patient_id in patients]

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """`(x, y, study_ids)` of a split: samples, slice labels and the study of each sample."""
        studies = self.split(name)
        shape = (0, self.options.image_size, self.options.image_size, self.options.slices)
        if not studies:
            return np.zeros(shape, "float32"), np.zeros((0,), "int32"), []
        x = np.concatenate([s.x for s in studies])
        y = np.concatenate([s.y for s in studies])
        ids = [s.study_id for s in studies for _ in range(len(s.y))]
        return x, y, ids

    def metadata(self) -> dict[str, Any]:
        counts = {}
        for name in self.splits:
            studies = self.split(name)
            counts[name] = {
                "patients": len(self.splits[name]),
                "studies": len(studies),
                "positive_studies": sum(s.label for s in studies),
                "slices": int(sum(len(s.y) for s in studies)),
            }
        return {
            "source": self.source,
            "patients": {name: list(p) for name, p in self.splits.items()},
            # the studies of each split in dataset order: [study, patient, slices, label]
            "studies": {name: [[s.study_id, s.patient_id, int(len(s.y)), int(s.label)] for s in self.split(name)]
                        for name in self.splits},
            "counts": counts,
            "split_by": "patient_id (grouped; stratified by patient label: positive if any study is; seeded)",
            "positive_class": self.class_names[1],
            "preprocessing": {"image_size": self.options.image_size, "slices": self.options.slices,
                              "windows": self.options.windows, "input": "raw HU"},
            "aggregate": self.options.aggregate,
            "target_sensitivity": self.options.target_sensitivity,
            **self.extra,
        }

    def to_bundle(self) -> DataBundle:
        """tf.data datasets of slices, one per split, for the engine."""
        import tensorflow as tf

        def dataset(name: str):
            x, y, _ = self.arrays(name)
            # labels (1,) per sample: a binary model outputs (batch, 1), and Keras' loss functions
            # (not the compiled loss) need labels of the same rank
            return tf.data.Dataset.from_tensor_slices(({INPUT: x}, y.reshape(-1, 1)))

        from zoo_medical_ct.augment import CTAugment

        has_test = bool(self.splits.get("test"))
        augment = CTAugment(seed=self.seed) if self.options.augment else None
        return DataBundle(train=dataset("train"), validation=dataset("validation"),
                          test=dataset("test") if has_test else None, class_names=list(self.class_names),
                          input_signature=self.options.signature(), augment=augment, metadata=self.metadata(),
                          deployment=self.deployment())

    def deployment(self) -> dict[str, Any]:
        """What `zoo predict` and a deployment need besides the model (saved in sidecars)."""
        o = self.options
        return {
            "input": f"raw HU, float32 (n_slices, {o.image_size}, {o.image_size}, {o.slices}): axial slices in "
                     "position order, padded to a square with air (-1024 HU) and resized (anti-aliased linear); "
                     f"{o.slices} adjacent slice(s) as channels",
            "windows": [w["name"] for w in o.windows],
            "aggregate": o.aggregate,
            "study_score": f"the {o.aggregate} of the slice scores of a study; decision_threshold applies to it",
        }


# --------------------------------------------------------------------------- loading

def _read_study(row: StudyRow, classes: list[str], opts: CTOptions, csv_path: Path) -> Study:
    try:
        volume = io.read_volume(row.path)
    except DataError as exc:
        raise DataError(f"{csv_path} line {row.line} ({row.written}): {exc}") from None
    n = volume.hu.shape[0]
    if row.slice_labels:
        bad = [i for i in row.slice_labels if i >= n]
        if bad:
            raise DataError(f"{csv_path} line {row.slice_lines[bad[0]]}: slice_index {bad[0]} but {row.written} has "
                            f"{n} slices (0..{n - 1})")
        index = np.asarray(sorted(row.slice_labels), "int64")
        y = np.asarray([classes.index(row.slice_labels[i]) for i in index], "int32")
    else:
        index = np.arange(n)
        y = np.full((n,), classes.index(row.label), "int32")
    hu = io.square_slices(volume.hu, opts.image_size)
    x = io.stack_context(hu, opts.slices)[index]
    return Study(study_id=row.written, patient_id=row.patient_id, source=volume.source, x=x, y=y,
                 slice_index=index, label=int(y.max()), series_uid=volume.series_uid)


def load_cohort(source: str | Path, recipe) -> Cohort:
    """Read the labels CSV `source` and its studies; split the patients."""
    opts = CTOptions.from_recipe(recipe)
    rows = read_labels_csv(source)
    csv_path = Path(source) if not Path(source).is_dir() else Path(source) / "labels.csv"
    classes = resolve_classes(rows, opts.classes, csv_path)
    studies = [_read_study(row, classes, opts, csv_path) for row in rows]
    _check_duplicates(studies, rows, csv_path)
    patient_labels: dict[str, int] = {}
    for study in studies:
        patient_labels[study.patient_id] = max(patient_labels.get(study.patient_id, 0), study.label)
    splits = split_patients(patient_labels, recipe.val_fraction, recipe.test_fraction, recipe.seed)
    return Cohort(studies, classes, splits, opts, str(csv_path), seed=recipe.seed)


def _check_duplicates(studies: list[Study], rows: Sequence[StudyRow], csv_path: Path) -> None:
    """One DICOM series copied into two folders (under two patient ids, say) would leak between splits."""
    seen: dict[str, StudyRow] = {}
    for row, study in zip(rows, studies):
        if study.series_uid is None:
            continue
        if study.series_uid in seen:
            first = seen[study.series_uid]
            raise DataError(f"{csv_path} line {row.line}: {row.written} holds the same DICOM series "
                            f"(SeriesInstanceUID {study.series_uid}) as line {first.line} ({first.written}); "
                            "list each series once")
        seen[study.series_uid] = row


class MedicalCTData(DataAdapter):
    """Labels CSV of CT studies (DICOM series, DICOM files, NIfTI) -> slices split by patient."""

    options = OPTIONS

    def __init__(self):
        # The windows and slices of the last data read: preprocessing(input_signature) builds CTWindow from
        # them, because the contract hands preprocessing only the input signature (see the README).
        self.last_options: CTOptions | None = None
        # What the last read_inputs read (paths, slices per path, aggregate), for group_predictions.
        self._last_read: tuple[tuple[str, ...], list[int], str] | None = None

    def cohort(self, source: str | Path | None, recipe) -> Cohort:
        """The `Cohort` of `source` (a labels CSV), or of the demo data when `source` is None."""
        if source is None:
            from zoo_medical_ct.demo import demo_cohort

            opts = CTOptions.from_recipe(recipe)
            cohort = load_cohort(demo_cohort(opts.demo_patients), recipe)
            cohort.extra["demo"] = ("synthetic chest CT generated by keras-zoo-medical-ct (medical-ct-demo-v1); "
                                    "not real patients, not for clinical use")
        else:
            cohort = load_cohort(source, recipe)
        self.last_options = cohort.options
        return cohort

    def load(self, source, options) -> DataBundle:
        return self.cohort(source, options).to_bundle()

    def demo(self, options) -> DataBundle:
        return self.cohort(None, options).to_bundle()

    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, Any],
                    deployment: Mapping[str, Any] | None = None) -> dict:
        """DICOM series folders, DICOM files or NIfTI volumes -> `{"hu": (n_slices, S, S, k)}`, in order.

        `deployment` (the run's, from `zoo predict`) names the study aggregate
        `group_predictions` uses.
        """
        spec = input_signature.get(INPUT) if isinstance(input_signature, Mapping) else None
        if spec is None:
            raise DataError(f"the model's input signature has no {INPUT!r} input; is it a medical-ct model?")
        shape = tuple(spec.shape if hasattr(spec, "shape") else spec["shape"])
        size, slices = shape[0], shape[-1] or 1
        chunks = []
        for path in paths:
            volume = io.read_volume(path)
            hu = volume.hu if size is None else io.square_slices(volume.hu, int(size))
            chunks.append(io.stack_context(hu, int(slices)))
        if not chunks:
            raise DataError("no input paths given")
        how = str((deployment or {}).get("aggregate", OPTIONS["aggregate"]))
        self._last_read = (tuple(str(p) for p in paths), [len(c) for c in chunks], how)
        try:
            return {INPUT: np.concatenate(chunks).astype("float32")}
        except ValueError:
            raise DataError("the inputs have different slice sizes and the model takes any size; pass them "
                            "one at a time") from None

    def group_predictions(self, paths: Sequence[str], inputs: Mapping[str, Any], scores) -> list:
        """One row per input path (a study): the mean or max of its slice scores (the run's `aggregate`)."""
        read = self._last_read
        if read is None or read[0] != tuple(str(p) for p in paths) or sum(read[1]) != len(scores):
            return super().group_predictions(paths, inputs, scores)
        names, counts, how = read
        scores = np.asarray(scores, "float64").reshape(len(scores), -1)
        rows, start = [], 0
        for name, n in zip(names, counts):
            part = scores[start:start + n]
            start += n
            rows.append((name, part.max(axis=0) if how == "max" else part.mean(axis=0)))
        return rows
