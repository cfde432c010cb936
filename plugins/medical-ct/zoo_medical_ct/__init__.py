"""keras-zoo plugin `medical-ct`: CT slices in Hounsfield units -> binary study classification.

Reads DICOM series folders, DICOM files and NIfTI volumes listed in a labels
CSV (`patient_id`, `path`, `label`[, `slice_index`]), converts them to HU,
splits them by patient, and fine-tunes the vision plugin's ImageNet backbones
(MobileNetV2 by default, weights shipped) on the slices, with CT windows
computed inside the model. Study-level clinical metrics (ROC-AUC, PR-AUC,
sensitivity and specificity with 95% intervals at a threshold chosen on
validation: for `target_sensitivity` given `min_positives` positive studies,
else by Youden's J) are computed at the end of every run
(`zoo_medical_ct.report`), and `zoo predict` reports one score per study.

```
zoo finetune --plugin medical-ct                       # the synthetic demo cohort
zoo finetune --plugin medical-ct --data studies/labels.csv -o aggregate=max
python -m zoo_medical_ct.report runs/medical-ct-...    # clinical_metrics.json + ROC/PR plot
```

Importing this package does not import TensorFlow or Keras.
"""

from __future__ import annotations

from importlib import metadata

from zoo.api import Plugin, TaskSpec

from zoo_medical_ct.backbones import all_specs
from zoo_medical_ct.data import OPTIONS, MedicalCTData
from zoo_medical_ct.metrics import (aggregate, choose_threshold, clinical_metrics, operating_threshold,
                                    wilson_interval, youden_threshold)


def analyze(run_dir, recipe, options, validation, test) -> dict:
    """The plugin's `analyze` hook, `zoo_medical_ct.report.analyze`.

    Imported on use, so that `python -m zoo_medical_ct.report` does not find its module imported already.
    """
    from zoo_medical_ct.report import analyze as run_analysis

    return run_analysis(run_dir, recipe, options, validation, test)


def report_sections(run_dir, meta) -> list:
    """The plugin's `report_sections` hook, `zoo_medical_ct.report.report_sections` (imported on use)."""
    from zoo_medical_ct.report import report_sections as sections

    return sections(run_dir, meta)


def preview(inputs, recipe, options, metadata) -> bytes:
    """`Plugin.preview`: the sample's centre slice in a lung window (W 1500, L -600), as a thumbnail."""
    from zoo.data import thumbnail_png

    hu = inputs["hu"]
    return thumbnail_png(hu[..., hu.shape[-1] // 2], value_range=(-1350.0, 150.0))


try:
    __version__ = metadata.version("keras-zoo-medical-ct")
except metadata.PackageNotFoundError:   # imported from a source tree
    __version__ = None

__all__ = ["plugin", "clinical_metrics", "choose_threshold", "operating_threshold", "youden_threshold",
           "wilson_interval", "aggregate"]

plugin = Plugin(
    name="medical-ct",
    domain="medical-imaging",
    summary="CT (DICOM, NIfTI) in Hounsfield units, CT windows in the model, patient-level splits",
    backbones=all_specs(),
    default_backbone="mobilenet_v2",
    task=TaskSpec(kind="binary", monitor="val_auc", monitor_mode="max"),
    data=MedicalCTData(),
    options=OPTIONS,
    recipe={
        "strategy": "partial",
        "trainable_blocks": 4,
        # The unfrozen blocks' batch norm adapts to CT windows (momentum 0.9, see backbones.py).
        # With batch norm frozen at its ImageNet statistics, the same recipe stayed at AUC 0.50.
        "batchnorm": "train",
        "epochs": 15,
        "batch_size": 32,
        "learning_rate": 1e-3,
        "warmup_epochs": 0,
        "patience": 5,
        # Slice-level val_auc is noisy while the unfrozen blocks and their batch norm adapt: a run
        # once restored its epoch-1 weights (val_auc 0.913, a spike) and missed half the test nodule
        # studies; with the first 3 epochs not eligible the restored model is one trained for 4 or more.
        "min_epochs": 3,
    },
    version=__version__,
    custom_objects_module="zoo_medical_ct.layers",
    analyze=analyze,
    report_sections=report_sections,
    preview=preview,
    contract=2,
)
