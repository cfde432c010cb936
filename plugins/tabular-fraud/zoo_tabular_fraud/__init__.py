"""keras-zoo's tabular fraud plugin: transactions in CSV/Parquet, an encoder pretrained on
unlabelled rows, fine-tuned for rare-event detection, with cost-aware decision thresholds.

Found through the entry point `tabular-fraud = "zoo_tabular_fraud:plugin"` (group
`keras_zoo.plugins`); written to plugin contract 2, it imports only keras-zoo's public
modules (`zoo.api`, `zoo.data`, `zoo.metrics`, `zoo.runs`, `zoo.errors`). Its options are
declared in `zoo_tabular_fraud.options`.

```
zoo finetune --plugin tabular-fraud                                 # demo data, FT-Transformer from scratch
zoo pretrain --plugin tabular-fraud --data unlabelled.csv           # self-supervised encoder
zoo finetune --plugin tabular-fraud --data labelled.csv --weights runs/tabular-fraud-pretrain-...
python -m zoo_tabular_fraud.threshold --cost-fn 200 --cost-fp 1      # choose the threshold again
zoo export --format onnx && zoo predict runs/<run>/exports/model.onnx new_transactions.csv
```

Importing this package imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from zoo.api import Plugin, TaskSpec
from zoo_tabular_fraud.backbones import BACKBONES
from zoo_tabular_fraud.data import TabularFraudData
from zoo_tabular_fraud.options import OPTIONS, FraudOptions

__version__ = "0.1.0"

#: defaults for 2 CPU cores: the demo fine-tunes in well under a minute.
DEFAULT_RECIPE = {
    "strategy": "full",
    "epochs": 40,
    "batch_size": 256,
    "learning_rate": 0.001,
    "warmup_epochs": 1,
    "patience": 8,
    "head": "linear",
    "dropout": 0.1,
    "weight_decay": 0.00001,
    # `zoo pretrain` (self-supervised, on unlabelled rows) trains for its own number of epochs;
    # `zoo pretrain --epochs N` changes it, and the pretraining run records what ran.
    "pretrain": {"epochs": 20},
}

TASK = TaskSpec(kind="binary", metrics=("pr_auc", "auc"), monitor="val_pr_auc", monitor_mode="max")


def _pretrain(source, recipe, options, out_dir):
    from zoo_tabular_fraud.pretrain import pretrain

    return pretrain(source, recipe, options, out_dir)


def _preview(inputs, recipe, options, metadata) -> str:
    """`Plugin.preview`: the row's fields as the data had them, `column=value`, in the data's column order."""
    from zoo_tabular_fraud.report import row_text

    return row_text(inputs, metadata)


def _report_sections(run_dir, meta):
    from zoo_tabular_fraud.report import report_sections

    return report_sections(run_dir, meta)


def _analyze(run_dir, recipe, options, validation, test):
    from zoo_tabular_fraud.threshold import analyze

    return analyze(run_dir, recipe, options, validation, test)


plugin = Plugin(
    name="tabular-fraud",
    domain="tabular",
    summary="Fraud detection on transaction tables: FT-Transformer / residual MLP, self-supervised "
            "pretraining on unlabelled rows, cost-based thresholds",
    backbones=dict(BACKBONES),
    default_backbone="ft_transformer",
    task=TASK,
    data=TabularFraudData(),
    recipe=dict(DEFAULT_RECIPE),
    version=__version__,
    custom_objects_module="zoo_tabular_fraud.layers",
    pretrain=_pretrain,
    analyze=_analyze,
    report_sections=_report_sections,
    preview=_preview,
    options=dict(OPTIONS),
    contract=2,
)

__all__ = ["plugin", "TabularFraudData", "FraudOptions", "OPTIONS", "DEFAULT_RECIPE", "TASK"]
