"""`Plugin.report_sections` of the fraud plugin: what each decision threshold costs.

The run's validation scores (saved by `zoo finetune`, read without TensorFlow) give, for every
threshold, the expected cost per 1,000 rows with the run's `cost_fn` and `cost_fp`; the plot
marks the threshold the run chose, and the table shows it beside the precision and recall it
buys.
"""

from __future__ import annotations

import io

import numpy as np


def cost_curve(labels, scores, cost_fn: float, cost_fp: float) -> tuple[np.ndarray, np.ndarray]:
    """`(thresholds high to low, cost per 1,000 rows of flagging score >= threshold)`."""
    from zoo_tabular_fraud.threshold import _curve

    cuts, tp, fp, pos, neg = _curve(labels, scores)
    cost = cost_fn * (pos - tp) + cost_fp * fp
    return cuts, 1000.0 * cost / max(pos + neg, 1)


def row_text(inputs: dict, metadata: dict | None = None, limit: int = 16) -> str:
    """`amount=12.5, country=fr, ...`: one row's fields (the first `limit` columns).

    Categorical codes go back to their text through the bundle's vocabularies (`metadata`); a
    code outside them (rare or unseen in training) shows as `<other>`, a missing value as `missing`.
    Timestamps show in UTC.
    """
    import datetime as dt

    from zoo_tabular_fraud.schema import category_code

    metadata = metadata or {}
    names = {column: {(int(text[5:]) if text.startswith("code ") and text[5:].isdigit() else category_code(text)):
                      text for text in texts}
             for column, texts in (metadata.get("vocabularies") or {}).items()}
    kinds = {c.get("input", c.get("name")): c.get("kind") for c in (metadata.get("schema") or {}).get("columns", [])}
    parts = []
    for name, value in list(inputs.items())[:limit]:
        value = np.asarray(value).reshape(-1)[0]
        kind = kinds.get(name)
        if kind == "categorical" or name in names:
            text = "missing" if int(value) == 0 else names.get(name, {}).get(int(value), "<other>")
        elif isinstance(value, np.floating) and np.isnan(value):
            text = "missing"
        elif kind == "timestamp":
            text = dt.datetime.fromtimestamp(float(value), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(value, np.floating):
            text = f"{float(value):.6g}"
        else:
            text = str(value)
        parts.append(f"{name}={text}")
    more = len(inputs) - limit
    return ", ".join(parts) + (f", ... {more} more" if more > 0 else "")


def report_sections(run_dir, meta) -> list:
    from zoo.api import ReportSection
    from zoo.runs import saved_scores

    pair = saved_scores(run_dir, "validation")
    chosen = ((meta.get("analysis") or {}).get("threshold") or {})
    if pair is None or not chosen:
        return []
    labels, scores = (np.asarray(a).reshape(-1) for a in pair)
    cost_fn, cost_fp = float(chosen["cost_fn"]), float(chosen["cost_fp"])
    cuts, cost = cost_curve(labels, scores, cost_fn, cost_fp)
    flag_none = 1000.0 * cost_fn * labels.sum() / max(len(labels), 1)
    text = (f"Expected cost per 1,000 validation rows when every row scoring at or above the threshold is flagged, "
            f"with a missed fraud costing {cost_fn:g} and a false alarm {cost_fp:g} (options `cost_fn`, `cost_fp`). "
            f"Flagging nothing costs {flag_none:.2f}.\n\n"
            "| threshold | objective | precision | recall | frauds caught | false alarms | cost per 1,000 rows |\n"
            "| --- | --- | --- | --- | --- | --- | --- |\n"
            f"| {chosen['threshold']:.4f} | {chosen['objective']} | {chosen['precision']:.3f} | "
            f"{chosen['recall']:.3f} | {chosen['true_positives']} of "
            f"{chosen['true_positives'] + chosen['false_negatives']} | {chosen['false_positives']} | "
            f"{chosen['cost_per_1000']:.2f} |\n\n"
            "Another cost: `python -m zoo_tabular_fraud.threshold RUN --cost-fn 100`.")
    return [ReportSection("Cost of errors by threshold", text,
                          images=[("validation cost per 1,000 rows by threshold",
                                   _plot(cuts, cost, chosen, flag_none))])]


def _plot(cuts, cost, chosen, flag_none) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.step(cuts, cost, where="post", color="#1f4e79", label="flag score >= threshold")
    ax.axhline(flag_none, color="#999999", linestyle=":", label="flag nothing")
    ax.axvline(chosen["threshold"], color="#c0392b", linestyle="--",
               label=f"run's threshold {chosen['threshold']:.3f}")
    ax.set_xlabel("threshold (fraud score)")
    ax.set_ylabel("expected cost per 1,000 rows")
    ax.set_xlim(0, 1)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


__all__ = ["cost_curve", "report_sections", "row_text"]
