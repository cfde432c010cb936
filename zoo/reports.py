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


def figure_png(fig, dpi: int = 90) -> bytes:
    """The figure as PNG bytes (and closed)."""
    import io

    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def history_keys(history: list[dict]) -> list[str]:
    """The training metrics of a history (no `val_` twins, epoch or learning rate)."""
    return [k for k in (history[0] if history else {}) if k != "epoch" and not k.startswith("val_")
            and k != "learning_rate"]


def curves_figure(history: list[dict]):
    """Loss and metric curves, train and validation, one panel per metric."""
    plt = _pyplot()
    keys = history_keys(history)
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
    return fig


def overlay_curves_figure(histories: dict[str, list[dict]]):
    """Curves of several runs on shared panels (validation values where logged), one line per run."""
    plt = _pyplot()
    keys: list[str] = []
    for rows in histories.values():
        keys += [k for k in history_keys(rows) if k not in keys]
    fig, axes = plt.subplots(1, max(1, len(keys)), figsize=(4.2 * max(1, len(keys)), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, rows in histories.items():
            column = f"val_{key}" if rows and f"val_{key}" in rows[0] else key
            points = [(int(r["epoch"]) + 1, float(r[column])) for r in rows if r.get(column) not in (None, "")]
            if points:
                ax.plot(*zip(*points), marker="o", label=label)
        ax.set_title(f"val_{key} (else {key})")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def confusion_figure(matrix: np.ndarray, class_names: list[str], title: str = "validation confusion matrix"):
    """A confusion matrix (rows true, columns predicted) with its counts."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(class_names),) * 2)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def operating_point(labels, scores, threshold: float) -> dict[str, float]:
    """False/true positive rate, precision and recall when `score >= threshold` predicts positive."""
    y = np.asarray(labels).reshape(-1).astype(int)
    predicted = np.asarray(scores, dtype=np.float64).reshape(-1) >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    positives, negatives = int(np.sum(y == 1)), int(np.sum(y == 0))
    return {"threshold": float(threshold), "fpr": fp / negatives if negatives else float("nan"),
            "tpr": tp / positives if positives else float("nan"),
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / positives if positives else float("nan")}


def roc_pr_figure(labels, scores, threshold: float | None = None, curves: dict | None = None):
    """ROC and precision-recall curves (`zoo.metrics.binary_curves`), the decision threshold marked."""
    plt = _pyplot()
    curves = curves or binary_curves(labels, scores)
    cut = 0.5 if threshold is None else float(threshold)
    point = operating_point(labels, scores, cut)
    name = f"threshold {cut:.3g}" + (" (default)" if threshold is None else "")
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    axes[0].plot(curves["fpr"], curves["tpr"])
    axes[0].plot([0, 1], [0, 1], "--", color="grey")
    axes[0].plot([point["fpr"]], [point["tpr"]], "o", color="crimson", label=name)
    axes[0].set_title(f"ROC (AUC {curves['roc_auc']:.3f})")
    axes[0].set_xlabel("false positive rate")
    axes[0].set_ylabel("true positive rate")
    axes[0].legend(loc="lower right", fontsize=8)
    axes[1].plot(curves["recall"], curves["precision"])
    axes[1].plot([point["recall"]], [point["precision"]], "o", color="crimson", label=name)
    axes[1].set_title(f"precision-recall (AP {curves['pr_auc']:.3f})")
    axes[1].set_xlabel("recall")
    axes[1].set_ylabel("precision")
    axes[1].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def pr_per_class_figure(curves: list, class_names: list[str], title: str = "precision-recall per class"):
    """One precision-recall curve per class (`curves[c]`: precision at recall 0, 0.01, ... 1, as
    pycocotools interpolates it; None: the class has no ground truth), AP (the curve's mean) in the legend."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    recall = np.linspace(0.0, 1.0, 101)
    for c, curve in enumerate(curves):
        if curve is None:
            continue
        precision = np.asarray(curve, dtype=float)
        name = class_names[c] if c < len(class_names) else str(c)
        ax.plot(recall, precision, label=f"{name} (AP {float(precision.mean()):.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    if ax.lines:
        ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def reliability(labels, scores, bins: int = 10) -> list[dict[str, float]]:
    """Calibration of binary scores: per score bin, its mean score, positive rate and count."""
    y = np.asarray(labels).reshape(-1).astype(float)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    index = np.clip((s * bins).astype(int), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append({"low": b / bins, "high": (b + 1) / bins, "mean_score": float(s[mask].mean()),
                         "positive_rate": float(y[mask].mean()), "count": int(mask.sum())})
    return rows


def reliability_figure(labels, scores, bins: int = 10):
    """Reliability diagram: positive rate against mean score per bin, with the diagonal and counts."""
    plt = _pyplot()
    rows = reliability(labels, scores, bins)
    n = max(1, len(np.asarray(labels).reshape(-1)))
    ece = sum(r["count"] * abs(r["mean_score"] - r["positive_rate"]) for r in rows) / n
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(4.2, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot([r["mean_score"] for r in rows], [r["positive_rate"] for r in rows], marker="o", label="model")
    ax.set_ylabel("positive rate")
    ax.set_title(f"reliability (ECE {ece:.3f})")
    ax.legend(loc="upper left", fontsize=8)
    hist.bar([(r["low"] + r["high"]) / 2 for r in rows], [r["count"] for r in rows], width=1 / bins * 0.9)
    hist.set_xlabel("score")
    hist.set_ylabel("samples")
    fig.tight_layout()
    return fig


def per_class_metrics(labels, predicted, class_names: list[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of each class, from the confusion matrix."""
    matrix = confusion_matrix(labels, predicted, len(class_names))
    rows = []
    for i, name in enumerate(class_names):
        tp = matrix[i, i]
        predicted_i, support = matrix[:, i].sum(), matrix[i, :].sum()
        precision = tp / predicted_i if predicted_i else float("nan")
        recall = tp / support if support else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
        rows.append({"class": name, "precision": float(precision), "recall": float(recall), "f1": float(f1),
                     "support": int(support)})
    return rows


def per_class_figure(rows: list[dict[str, Any]]):
    """Grouped bars of per-class precision, recall and F1."""
    plt = _pyplot()
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(rows) + 1.5), 3.2))
    for k, key in enumerate(("precision", "recall", "f1")):
        ax.bar(x + (k - 1) * 0.27, [np.nan_to_num(r[key]) for r in rows], width=0.27, label=key)
    ax.set_xticks(x, [r["class"] for r in rows], rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("validation per-class metrics")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def binary_scores(scores) -> bool:
    """True when `scores` hold one score per sample (a binary task's output)."""
    if scores is None:
        return False
    array = np.asarray(scores)
    return array.ndim <= 2 and len(array) > 0 and array.reshape(len(array), -1).shape[1] == 1


def write_plots(run: Path, history: list[dict], task, class_names: list[str], labels, scores,
                threshold: float | None = None) -> list[str]:
    """Loss and metric curves; confusion matrix (tasks that predict classes); ROC and PR (one score, 2 classes);
    the task's own `figures` (a detector's precision-recall per class)."""
    plots = Path(run) / "plots"
    plots.mkdir(exist_ok=True)
    written = []
    if history:
        (plots / "curves.png").write_bytes(figure_png(curves_figure(history)))
        written.append("curves.png")
    predicted = task.predicted_classes(scores, threshold) if labels is not None and len(labels) else None
    if predicted is not None and class_names:
        matrix = confusion_matrix(labels, predicted, len(class_names))
        (plots / "confusion_matrix.png").write_bytes(figure_png(confusion_figure(matrix, class_names)))
        written.append("confusion_matrix.png")
    if predicted is not None and len(class_names) == 2 and binary_scores(scores):
        (plots / "roc_pr.png").write_bytes(figure_png(roc_pr_figure(labels, scores, threshold)))
        written.append("roc_pr.png")
    if labels is not None and len(labels):
        for name, fig in task.figures(labels, scores, class_names).items():
            (plots / name).write_bytes(figure_png(fig))
            written.append(name)
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


def federated_section(meta: dict[str, Any]) -> str:
    """The model card's account of a federated run: sites, rounds, what left each site, privacy."""
    fed = meta.get("federated")
    if not fed:
        return ""
    lines = ["## Federated training",
             f"- {len(fed['sites'])} sites, {fed['rounds']} rounds of {fed['local_epochs']} local epoch(s), "
             f"aggregation `{fed['aggregation']}`" + (f" (mu {fed['mu']})" if "mu" in fed else "") + f", {fed['engine']}",
             "- Sites: " + ", ".join(f"`{s['name']}` ({s['data']}, {fed['samples_per_site'][s['name']]['train']} "
                                     "training samples" + (f"; demo site: {s['demo']}" if s.get("demo") else "") + ")"
                                     for s in fed["sites"]),
             f"- What left a site: {fed['leaves_a_site']}; {fed['travelling']['parameters']:,} parameters "
             f"({fed['travelling']['bytes']:,} bytes) per site per round",
             "- The data-fitted preprocessing was fitted on the coordinator's held-out data and sent to the sites"]
    kept = fed.get("best_round")
    if kept:
        lines.append(f"- Model: the global weights after round {kept['round']} of the {fed['aggregated_rounds']} "
                     f"aggregated (best {kept['monitor']} on the sites' validation, sample-weighted: "
                     f"{kept['value']:.4f})")
    dp, secure = fed.get("differential_privacy"), fed.get("secure_aggregation")
    lines.append("- Differential privacy: " + (
        f"{dp['kind']}, noise multiplier {dp['noise_multiplier']}, clipping norm {dp['clipping_norm']}" if dp
        else "none (the updates themselves are not protected)"))
    lines.append("- Secure aggregation: " + (
        f"{secure['protocol']}; masked: {secure['what_is_masked']}; the sum unmasks with "
        f"{secure['reconstruction_threshold']} sites' key shares" if secure
        else "none (the coordinator sees each site's weights)"))
    if "batchnorm" in fed:
        lines.append(f"- Batch norm: {fed['batchnorm']}")
    return "\n".join(lines) + "\n\n"


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

{federated_section(meta)}{plugin_section(meta)}## Intended use and limits
Fine-tuned with keras-zoo {meta['versions'].get('keras-zoo')}. Metrics above come from the held-out splits
of the data named here; they say nothing about other populations, devices or sites. Check the
exported artifact's verification report before deployment.
"""
    atomic_write_text(Path(run) / "MODEL_CARD.md", text)
