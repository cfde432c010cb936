"""The medical-ct `DataAdapter`: labels CSV -> CT studies in HU -> patient-level splits -> slices.

Every slice of a study becomes one sample `({"hu": float32 (S, S, k)}, label)`:
HU resized to the plugin option `image_size` (padded to a square with air
first), with `k = slices` adjacent slices as channels (2.5D; 1 by default).
Windowing happens inside the model (`zoo_medical_ct.layers.CTWindow`), so
samples, exports and `zoo predict` all take raw HU.

Example:

```python
from zoo_medical_ct import plugin

recipe = plugin.resolve_recipe(overrides={"options": {"image_size": 64}})
cohort = plugin.data.cohort("studies/labels.csv", recipe, plugin.options_for(recipe))
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

from zoo.api import DataAdapter, DataBundle, Option, Rows, TensorSpec
from zoo.data import split_indices
from zoo.errors import ConfigError, DataError

from zoo_medical_ct import io
from zoo_medical_ct.labels import StudyRow, read_labels_csv, resolve_classes
from zoo_medical_ct.metrics import AGGREGATES, MIN_POSITIVES
from zoo_medical_ct.windows import DEFAULT_WINDOWS, resolve_windows

log = logging.getLogger(__name__)

INPUT = "hu"
SPLITS = ("train", "validation", "test")
#: patients in the demo cohort: about 296 studies, 2,400 slices. With the default split (seed 42) the
#: validation split holds 20 positive studies, enough to aim the threshold at sensitivity 0.9
#: (`min_positives`; 2 may be missed). 120 patients gave 9, and the threshold fell on the lowest of them
DEMO_PATIENTS = 240

#: the plugin options (`-o KEY=VALUE`), declared as `Plugin.options`
OPTIONS: dict[str, Option] = {
    "image_size": Option(96, "slice side in pixels the model takes (slices are padded square and resized)",
                         min=32, max=1024),
    "windows": Option(list(DEFAULT_WINDOWS), "CT windows computed in the model: lung, mediastinum, bone, brain "
                      "or {width: W, level: L}; windows x slices must be 3", type=list),
    "slices": Option(1, "adjacent slices stacked as channels (odd: 1, 3, 5...; 2.5D when > 1)", min=1),
    "classes": Option(None, "the two labels [NEGATIVE, POSITIVE]; inferred from the data when empty",
                      type=list, nullable=True),
    "aggregate": Option("mean", "study score from its slice scores", choices=AGGREGATES),
    "target_sensitivity": Option(0.9, "study-level sensitivity the threshold is chosen for on validation, "
                                 "in (0, 1]", type=float, min=0, max=1),
    "min_positives": Option(MIN_POSITIVES, "positive validation studies needed to aim the threshold at "
                            "target_sensitivity; with fewer it maximises Youden's J", min=1),
    "demo_patients": Option(DEMO_PATIENTS, "patients in the synthetic demo cohort", min=4),
    "augment": Option(True, "random flips and shifts of training slices"),
}


@dataclass(frozen=True)
class CTOptions:
    """The plugin options, checked together (the core checks each one alone).

    Example: `CTOptions.from_options(plugin.options_for(recipe)).windows`.
    """

    image_size: int
    windows: list[dict[str, Any]]
    slices: int
    classes: list[str] | None
    aggregate: str
    target_sensitivity: float
    min_positives: int
    demo_patients: int
    augment: bool

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> "CTOptions":
        """Validate `options` (an `Options`, or any mapping; missing keys take their defaults).

        `ConfigError` naming the option for a bad value or a bad combination.
        """
        given = dict(options or {})
        values = {key: spec.convert(key, given.get(key, spec.default)) for key, spec in OPTIONS.items()}
        if values["slices"] % 2 == 0:
            raise ConfigError(f"option slices must be an odd number of adjacent slices (1, 3, 5...), "
                              f"got {values['slices']}")
        if not values["target_sensitivity"] > 0:
            raise ConfigError(f"option target_sensitivity must be in (0, 1], got {values['target_sensitivity']}")
        windows = resolve_windows(values["windows"])
        if len(windows) * values["slices"] != 3:
            raise ConfigError(_channels_message(len(windows), values["slices"]))
        classes = values["classes"]
        if classes is not None:
            if len(classes) != 2 or len({str(c) for c in classes}) != 2:
                raise ConfigError(f"option classes must list two labels [NEGATIVE, POSITIVE], got {classes!r}")
            classes = [str(c) for c in classes]
        return cls(values["image_size"], windows, values["slices"], classes, values["aggregate"],
                   values["target_sensitivity"], values["min_positives"], values["demo_patients"],
                   values["augment"])

    def signature(self) -> dict[str, TensorSpec]:
        return {INPUT: TensorSpec((self.image_size, self.image_size, self.slices), "float32")}


def _channels_message(n_windows: int, slices: int) -> str:
    return (f"{n_windows} window(s) x {slices} slice(s) make {n_windows * slices} channels; the ImageNet "
            "backbones take 3: use 3 windows with slices=1 (the default), or one window with slices=3 "
            "(e.g. -o slices=3 -o windows=[lung])")


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
            "min_positives": self.options.min_positives,
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


def load_cohort(source: str | Path, recipe, options: Mapping[str, Any] | None = None) -> Cohort:
    """Read the labels CSV `source` and its studies; split the patients (`options`: default `recipe.options`)."""
    opts = CTOptions.from_options(getattr(recipe, "options", None) if options is None else options)
    rows = read_labels_csv(source)
    csv_path = Path(source) if not Path(source).is_dir() else Path(source) / "labels.csv"
    classes = resolve_classes(rows, opts.classes, csv_path)
    studies = [_read_study(row, classes, opts, csv_path) for row in rows]
    _check_duplicates(studies, rows, csv_path)
    splits = split_patients(studies, recipe.val_fraction, recipe.test_fraction, recipe.seed)
    return Cohort(studies, classes, splits, opts, str(csv_path), seed=recipe.seed)


def split_patients(studies: Sequence[Study], val_fraction: float, test_fraction: float,
                   seed: int) -> dict[str, list[str]]:
    """Patients -> train, validation, test: grouped by patient, stratified by patient label, seeded.

    A patient is positive when any of their studies is. The cut is `zoo.data.split_indices`
    (half-up rounding per stratum, at least one validation and one test patient per
    stratum when it can spare them, one always kept for training).

    Example: `split_patients(cohort.studies, 0.15, 0.15, seed=42)["test"]` -> `["CT-DEMO-007", ...]`.
    """
    patient_label: dict[str, int] = {}
    for study in studies:
        patient_label[study.patient_id] = max(patient_label.get(study.patient_id, 0), int(study.label))
    if len(patient_label) < 2:
        raise DataError(f"{len(patient_label)} patient(s) in the data; patient-level splits need at least 2 "
                        "(3 with a test split)")
    ids = [study.patient_id for study in studies]
    parts = split_indices([patient_label[p] for p in ids], val_fraction, test_fraction, seed, groups=ids)
    splits = {name: sorted({ids[i] for i in index}) for name, index in zip(SPLITS, parts)}
    check_no_leakage(splits)
    if val_fraction > 0 and not splits["validation"]:
        raise DataError(f"{len(patient_label)} patients are too few for a validation split; add patients")
    for name in ("validation", "test"):
        if splits[name] and len({patient_label[p] for p in splits[name]}) < len(set(patient_label.values())):
            log.warning("the %s split has patients of one class only (too few patients of the other); "
                        "its AUC is undefined", name)
    return splits


def check_no_leakage(splits: Mapping[str, Sequence[str]]) -> None:
    """`DataError` when a patient is in two splits (their anatomy would be trained on and scored again)."""
    names = list(splits)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = set(splits[a]) & set(splits[b])
            if both:
                raise DataError(f"patients {sorted(both)[:3]} are in both the {a} and the {b} split")


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
    """Labels CSV of CT studies (DICOM series, DICOM files, NIfTI) -> slices split by patient.

    It keeps nothing between calls: every method reads what it needs from its arguments.
    """

    def cohort(self, source: str | Path | None, recipe, options: Mapping[str, Any] | None = None) -> Cohort:
        """The `Cohort` of `source` (a labels CSV), or of the demo data when `source` is None.

        `options`: the plugin options (default: the recipe's, defaults filled in).
        """
        opts = CTOptions.from_options(getattr(recipe, "options", None) if options is None else options)
        if source is None:
            from zoo_medical_ct.demo import demo_cohort

            cohort = load_cohort(demo_cohort(opts.demo_patients), recipe, options)
            cohort.extra["demo"] = ("synthetic chest CT generated by keras-zoo-medical-ct (medical-ct-demo-v1); "
                                    "not real patients, not for clinical use")
            return cohort
        return load_cohort(source, recipe, options)

    def load(self, source, recipe, options) -> DataBundle:
        return self.cohort(source, recipe, options).to_bundle()

    def demo(self, recipe, options) -> DataBundle:
        return self.cohort(None, recipe, options).to_bundle()

    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, Any], options,
                    deployment: Mapping[str, Any]) -> Rows:
        """DICOM series folders, DICOM files or NIfTI volumes -> `Rows` of slices `{"hu": (n, S, S, k)}`.

        Each path is one study. Its slices come in position order; `rows.sources` names the
        study of each slice (the path as given) and `rows.context` holds `(input index,
        slice index)` per slice, so that `group_predictions` scores each input once, even a
        path given twice. The slice size and count come from the model's `input_signature`.
        `deployment` (the run's) needs no reading here: its `aggregate` is the run's option of
        that name, which `group_predictions` receives.

        Example: `plugin.data.read_inputs(["studies/p1/ct"], {"hu": TensorSpec((96, 96, 1))}, options, {})`.
        """
        spec = input_signature.get(INPUT) if isinstance(input_signature, Mapping) else None
        if spec is None:
            raise DataError(f"the model's input signature has no {INPUT!r} input; is it a medical-ct model?")
        shape = tuple(spec.shape if hasattr(spec, "shape") else spec["shape"])
        size, slices = shape[0], shape[-1] or 1
        if not paths:
            raise DataError("no input paths given")
        chunks, sources, context = [], [], []
        for j, path in enumerate(paths):
            volume = io.read_volume(path)
            hu = volume.hu if size is None else io.square_slices(volume.hu, int(size))
            chunks.append(io.stack_context(hu, int(slices)))
            sources += [str(path)] * len(hu)
            context += [(j, k) for k in range(len(hu))]
        try:
            x = np.concatenate(chunks).astype("float32")
        except ValueError:
            raise DataError("the inputs have different slice sizes and the model takes any size; pass them "
                            "one at a time") from None
        return Rows({INPUT: x}, sources, context)

    def group_predictions(self, rows: Rows, scores, options) -> list:
        """One result per study (input path): the mean or max of its slice scores (option `aggregate`).

        Example: `[("studies/p1/ct", array([0.83]))]`.
        """
        how = OPTIONS["aggregate"].convert("aggregate", (options or {}).get("aggregate", "mean"))
        scores = np.asarray(scores, "float64").reshape(len(scores), -1)
        keys = [c[0] for c in rows.context] if rows.context is not None else list(rows.sources)
        order: dict[Any, int] = {}
        for i, key in enumerate(keys):
            order.setdefault(key, i)
        out = []
        for key, first in order.items():
            part = scores[[i for i, k in enumerate(keys) if k == key]]
            out.append((rows.sources[first], part.max(axis=0) if how == "max" else part.mean(axis=0)))
        return out

    def write_examples(self, folder, recipe, options) -> list[str]:
        """Two synthetic DICOM series of patients outside every demo cohort (a nodule study, a normal one).

        Returns their folders, as a user passes them to `zoo predict`.

        Example: `plugin.data.write_examples("examples", recipe, options)` -> `["examples/CT-HELDOUT-1/study1", ...]`.
        """
        from zoo_medical_ct.demo import write_held_out

        return [str(path) for path in write_held_out(folder)]

    def write_sites(self, folder, n, recipe, options) -> list[tuple[str, str]]:
        """`n` hospitals for `zoo federate --demo-sites N`: cohorts of `demo_patients // n` patients each, of
        patients in no other cohort, each from its own scanner (extra noise, HU shift, soft kernel).

        Example: `plugin.data.write_sites("sites", 3, recipe, options)` -> `[("sites/site1/labels.csv", "..."), ...]`.
        """
        from zoo_medical_ct.demo import write_sites

        opts = CTOptions.from_options(options)
        return write_sites(folder, n, max(4, opts.demo_patients // n))
