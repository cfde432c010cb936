"""Plots and model card of a run (`plots/`, `MODEL_CARD.md`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from zoo.metrics import binary_curves, confusion_matrix
from zoo.training.rundir import atomic_write_text

log = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(run: Path, history: list[dict], task, class_names: list[str], labels, scores,
                threshold: float | None = None) -> list[str]:
    """Loss and metric curves; confusion matrix (tasks that predict classes); ROC and PR (one score, 2 classes)."""
    plt = _pyplot()
    plots = Path(run) / "plots"
    plots.mkdir(exist_ok=True)
    written = []
    keys = [k for k in (history[0] if history else {}) if k != "epoch" and not k.startswith("val_")
            and k != "learning_rate"]
    if history:
        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
        epochs = [int(r["epoch"]) + 1 for r in history]
        for ax, key in zip(axes[0], keys):
            ax.plot(epochs, [float(r[key]) for r in history], marker="o", label="train")
            if f"val_{key}" in history[0]:
                ax.plot(epochs, [float(r[f"val_{key}"]) for r in history], marker="o", label="validation")
            ax.set_title(key)
            ax.set_xlabel("epoch")
            ax.legend()
        fig.tight_layout()
        fig.savefig(plots / "curves.png", dpi=90)
        plt.close(fig)
        written.append("curves.png")
    predicted = task.predicted_classes(scores, threshold) if labels is not None and len(labels) else None
    if predicted is not None and class_names:
        matrix = confusion_matrix(labels, predicted, len(class_names))
        fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(class_names),) * 2)
        ax.imshow(matrix, cmap="Blues")
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(j, i, str(v), ha="center", va="center")
        ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
        ax.set_yticks(range(len(class_names)), class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title("validation confusion matrix")
        fig.tight_layout()
        fig.savefig(plots / "confusion_matrix.png", dpi=90)
        plt.close(fig)
        written.append("confusion_matrix.png")
    single = scores is not None and np.asarray(scores).ndim <= 2 and np.asarray(scores).reshape(len(scores), -1).shape[1] == 1
    if predicted is not None and len(class_names) == 2 and single:
        curves = binary_curves(labels, scores)
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
        axes[0].plot(curves["fpr"], curves["tpr"])
        axes[0].plot([0, 1], [0, 1], "--", color="grey")
        axes[0].set_title(f"ROC (AUC {curves['roc_auc']:.3f})")
        axes[0].set_xlabel("false positive rate")
        axes[0].set_ylabel("true positive rate")
        axes[1].plot(curves["recall"], curves["precision"])
        axes[1].set_title(f"precision-recall (AP {curves['pr_auc']:.3f})")
        axes[1].set_xlabel("recall")
        axes[1].set_ylabel("precision")
        fig.tight_layout()
        fig.savefig(plots / "roc_pr.png", dpi=90)
        plt.close(fig)
        written.append("roc_pr.png")
    return written


def _table(metrics: dict[str, float] | None) -> str:
    if not metrics:
        return "_none_\n"
    lines = ["| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {v:.4f} |" for k, v in metrics.items()]
    return "\n".join(lines) + "\n"


def plugin_section(meta: dict[str, Any]) -> str:
    """Text the plugin's `analyze` hook returned under `model_card` (domain caveats, clinical metrics)."""
    text = (meta.get("analysis") or {}).get("model_card")
    return f"{text.strip()}\n\n" if text else ""


def threshold_line(meta: dict[str, Any]) -> str:
    if meta.get("decision_threshold") is None:
        return ""
    return f"- Decision threshold: {meta['decision_threshold']:.4f} (chosen on validation by the plugin; `zoo predict` applies it)\n"


def write_model_card(run: Path, meta: dict[str, Any]) -> None:
    """`MODEL_CARD.md`: what was trained, on what, how, and how well."""
    recipe = meta["recipe"]
    plots = sorted(p.name for p in (Path(run) / "plots").glob("*.png"))
    text = f"""# Model card: {meta['plugin']} / {meta['backbone']}

- Plugin: `{meta['plugin']}` {meta.get('plugin_version') or ''}
- Backbone: `{meta['backbone']}`, weights `{meta['weights']}`
- Task: {meta['task']['kind']}; classes: {', '.join(meta['class_names'])}
- Data: {meta['data'] or 'the plugin demo data'} ({meta['samples']['train']} training, {meta['samples']['validation']} validation samples)
- Strategy: `{recipe['strategy']}`, head `{recipe['head']}`, regularizer `{recipe['regularizer']}` (weight {recipe['reg_weight']})
- Epochs run: {meta['epochs_run']} of {recipe['epochs']} ({meta['stopped_by']}); precision {meta['precision']}
- Parameters: {meta['parameters']['total']:,} ({meta['parameters']['trainable']:,} trainable at the end)
{threshold_line(meta)}- Input: {', '.join(f"`{k}` {v['shape']} {v['dtype']}" for k, v in meta['input_signature'].items())}, raw (preprocessing is inside the model)

## Validation metrics
{_table(meta['metrics']['validation'])}
## Test metrics
{_table(meta['metrics']['test'])}
## Plots
{chr(10).join(f'![{p}](plots/{p})' for p in plots)}

{plugin_section(meta)}## Intended use and limits
Fine-tuned with keras-zoo {meta['versions'].get('keras-zoo')}. Metrics above come from the held-out splits
of the data named here; they say nothing about other populations, devices or sites. Check the
exported artifact's verification report before deployment.
"""
    atomic_write_text(Path(run) / "MODEL_CARD.md", text)
