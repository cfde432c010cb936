"""`report.html`: one self-contained page per run, and pages comparing runs.

The page holds the run's summary, metrics, learning curves, the task's plots (confusion
matrix; ROC and precision-recall with the decision threshold marked; a reliability diagram for
binary tasks; per-class precision, recall and F1), the worst-scored validation samples, the
exports and their verification, the model card, and the sections the plugin adds through
`Plugin.report_sections`. Images are embedded as `data:` URIs and styles are inline: the page
opens from a file or an air-gapped share, with no scripts and no network.

The figures come from `zoo.reports`; they are drawn from the run's files only (`zoo.json`,
`history.csv`, `scores.npz`, `exports/*.zoo.json`, `MODEL_CARD.md`), so writing the page
never needs TensorFlow.

Example:

```python
from zoo.report_html import write_report, write_compare, list_runs

write_report("runs/toy-20260101-120000")                  # -> runs/toy-20260101-120000/report.html
write_compare(["runs/a", "runs/b"], "compare.html")
[row["metric"] for row in list_runs("runs")]
```
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import html
import json
import logging
import math
import re
import shutil
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from zoo.errors import RunError
from zoo.training import rundir

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
SCORES_FILE = "scores.npz"
#: scores are saved for the report when a split's array is at most this many values
MAX_SAVED_SCORES = 5_000_000
WORST_SAMPLES = 10
#: the folder of a run holding the plugin's previews of the worst-scored samples
PREVIEW_DIR = "samples"
MAX_PREVIEW_TEXT = 400
#: the plots `write_plots` makes; the page draws its own versions of these from the scores
CORE_PLOTS = ("curves.png", "confusion_matrix.png", "roc_pr.png")

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232b;background:#f4f6f8}
header{background:#1f3a5f;color:#fff;padding:18px 32px}header h1{margin:0;font-size:1.5em}
header p{margin:4px 0 0;opacity:.85}main{padding:8px 32px 40px;max-width:1200px}
section{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:12px 20px;margin:16px 0}
h2{font-size:1.2em;margin:4px 0 10px;color:#1f3a5f}h3{font-size:1.05em}
table{border-collapse:collapse;margin:6px 0 10px;font-size:.92em}
th,td{border:1px solid #dde3ea;padding:4px 9px;text-align:left;vertical-align:top}
th{background:#eef2f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.diff td{background:#fff6db}.ok{color:#1a7f37;font-weight:600}.bad{color:#c62828;font-weight:600}
figure{display:inline-block;margin:6px 12px 6px 0;vertical-align:top}
figure img{max-width:100%;border:1px solid #eef2f6}img.thumb{max-width:96px;max-height:96px;image-rendering:pixelated}figcaption{font-size:.85em;color:#5a6573}
code{background:#eef2f6;padding:1px 4px;border-radius:3px}.note{color:#5a6573;font-size:.9em}
nav a{margin-right:12px;color:#1f3a5f}
"""


# --------------------------------------------------------------------------- small pieces

def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def slug(title: str) -> str:
    """The `id` of a section titled `title` (lowercase words joined by dashes)."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def data_uri(image: bytes | str | Path) -> str:
    """A `data:image/...;base64,` URI of PNG or JPEG bytes (or a file holding them)."""
    raw = image if isinstance(image, (bytes, bytearray)) else Path(image).read_bytes()
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        kind = "png"
    elif raw[:3] == b"\xff\xd8\xff":
        kind = "jpeg"
    else:
        raise ValueError("report images must be PNG or JPEG")
    return f"data:image/{kind};base64," + base64.b64encode(bytes(raw)).decode("ascii")


def _figure(image: bytes | str | Path, caption: str = "") -> str:
    return (f'<figure><img src="{data_uri(image)}" alt="{_e(caption)}">'
            + (f"<figcaption>{_e(caption)}</figcaption>" if caption else "") + "</figure>")


def _plot(fig, caption: str = "") -> str:
    from zoo.reports import figure_png

    return _figure(figure_png(fig), caption)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return _e(value if value is not None else "")
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"
    return _e(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], classes: Sequence[str] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header) if any(header) else ""
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(f'<td class="num">{_fmt(v)}</td>' if isinstance(v, (int, float)) and not isinstance(v, bool)
                        else f"<td>{v if isinstance(v, _Raw) else _fmt(v)}</td>" for v in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


class _Raw(str):
    """HTML already escaped (a table cell shown as is)."""


def _section(title: str, body: str, sid: str | None = None) -> str:
    return f'<section id="{sid or slug(title)}"><h2>{_e(title)}</h2>{body}</section>'


def _inline_markdown(text: str) -> str:
    text = _e(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<![*\w])_([^_]+)_(?![\w])", r"<em>\1</em>", text)
    return text


def markdown_html(text: str, images: bool = False) -> str:
    """A small Markdown subset as HTML: headings, `-` lists, pipe tables, paragraphs, code and bold.

    Image lines (`![..](..)`) are dropped unless `images` is true (the page shows its own plots).

    Example: `markdown_html("# Title\\n- one\\n- two")`.
    """
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    paragraph: list[str] = []

    def flush():
        if paragraph:
            out.append("<p>" + " ".join(_inline_markdown(p) for p in paragraph) + "</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i].rstrip()
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("```"):
            flush()
            block = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                block.append(lines[i])
                i += 1
            out.append("<pre><code>" + _e("\n".join(block)) + "</code></pre>")
        elif stripped.startswith("!["):
            flush()
        elif re.match(r"^#{1,6} ", stripped):
            flush()
            level = min(6, len(stripped.split(" ", 1)[0]) + 1)  # the page's h2 is the section title
            out.append(f"<h{level}>{_inline_markdown(stripped.split(' ', 1)[1])}</h{level}>")
        elif stripped.startswith(("- ", "* ")):
            flush()
            items = []
            while i < len(lines) and lines[i].strip().startswith(("- ", "* ")):
                items.append(f"<li>{_inline_markdown(lines[i].strip()[2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif stripped.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            if rows:
                head = "".join(f"<th>{_inline_markdown(c)}</th>" for c in rows[0])
                body = "".join("<tr>" + "".join(f"<td>{_inline_markdown(c)}</td>" for c in r) + "</tr>"
                               for r in rows[1:])
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            continue
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return "\n".join(out)


def _page(title: str, subtitle: str, sections: list[str]) -> str:
    ids = re.findall(r'<section id="([^"]+)"><h2>(.*?)</h2>', "".join(sections))
    nav = "<nav>" + "".join(f'<a href="#{sid}">{name}</a>' for sid, name in ids) + "</nav>"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{_e(title)}</h1><p>{_e(subtitle)}</p></header><main>{nav}"
            + "\n".join(sections) + "</main></body></html>\n")


# --------------------------------------------------------------------------- run files

def read_history(run: str | Path) -> list[dict]:
    """`history.csv` rows (empty when there is none)."""
    path = Path(run) / "history.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def save_scores(run: str | Path, splits: dict[str, tuple[Any, Any] | None]) -> Path | None:
    """Write `scores.npz` (`<split>_labels`, `<split>_scores`) so the report can be drawn again later.

    Splits that are None, or larger than `MAX_SAVED_SCORES` values, are left out.
    """
    arrays = {}
    for split, pair in splits.items():
        if pair is None or pair[0] is None or pair[1] is None:
            continue
        labels, scores = np.asarray(pair[0]), np.asarray(pair[1])
        if scores.size > MAX_SAVED_SCORES:
            log.info("the %s scores (%d values) are too large to keep for the report", split, scores.size)
            continue
        arrays[f"{split}_labels"], arrays[f"{split}_scores"] = labels, scores
    if not arrays:
        return None
    path = Path(run) / SCORES_FILE
    tmp = path.with_name(f".{SCORES_FILE}.partial.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return path


def load_scores(run: str | Path, split: str = "validation") -> tuple[np.ndarray, np.ndarray] | None:
    """`(labels, scores)` of a split from `scores.npz`, or None."""
    path = Path(run) / SCORES_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if f"{split}_scores" not in data:
                return None
            return data[f"{split}_labels"], data[f"{split}_scores"]
    except (OSError, ValueError) as exc:
        log.warning("%s cannot be read (%s); the report leaves out the plots drawn from scores", path, exc)
        return None


def _task(meta: dict, plugin):
    if plugin is not None:
        return plugin.task
    from zoo.tasks import BUILTIN_TASKS, task_for_kind

    task = dict(meta.get("task") or {})
    kind = task.pop("kind", None)
    if kind not in BUILTIN_TASKS:
        return None
    fields = {k: v for k, v in task.items() if k in ("loss", "metrics", "monitor", "monitor_mode")}
    return task_for_kind(kind, **fields)


def _plugin(meta: dict):
    from zoo import registry

    try:
        return registry.get_plugin(meta["plugin"])
    except Exception as exc:  # noqa: BLE001 - not installed, broken: the page is drawn without it
        log.info("plugin %s not available for the report: %s", meta.get("plugin"), exc)
        return None


def monitor_of(meta: dict) -> str:
    """The metric a run's task watches (`val_loss`, `val_auc`...)."""
    task = meta.get("task") or {}
    if task.get("monitor"):
        return task["monitor"]
    from zoo.tasks import BUILTIN_TASKS

    cls = BUILTIN_TASKS.get(task.get("kind"))
    return cls.default_monitor[0] if cls is not None else "val_loss"


def main_metric(run: str | Path, meta: dict) -> tuple[str, float | None]:
    """`(monitor, value)`: the run's validation value of its monitor (best in `history.csv` while running)."""
    monitor = monitor_of(meta)
    name = monitor[4:] if monitor.startswith("val_") else monitor
    value = ((meta.get("metrics") or {}).get("validation") or {}).get(name)
    if value is None:
        column = [float(r[monitor]) for r in read_history(run) if r.get(monitor) not in (None, "")]
        if column:
            value = min(column) if "loss" in monitor or "error" in monitor else max(column)
    return monitor, (None if value is None else float(value))


def _duration(meta: dict) -> str:
    try:
        seconds = (_dt.datetime.fromisoformat(meta["finished"]) - _dt.datetime.fromisoformat(meta["started"]))
        return f"{seconds.total_seconds():.0f} s"
    except (KeyError, TypeError, ValueError):
        return ""


def exports_of(run: str | Path) -> list[dict]:
    """The sidecars of the run's exports (`exports/*.zoo.json`), oldest first."""
    rows = []
    for path in sorted((Path(run) / "exports").glob("*.zoo.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict):
            data["_sidecar"] = path.name
            rows.append(data)
    return sorted(rows, key=lambda d: str(d.get("exported_at", "")))


def _size(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# --------------------------------------------------------------------------- sections

def _summary(run: Path, meta: dict) -> str:
    recipe = meta.get("recipe") or {}
    versions = meta.get("versions") or {}
    tracking = (meta.get("tracking") or {}).get("mlflow") or {}
    monitor, value = main_metric(run, meta)
    rows = [
        ("plugin", f"{meta.get('plugin')} {meta.get('plugin_version') or ''}".strip()),
        ("backbone", meta.get("backbone")),
        ("weights", meta.get("weights")),
        ("task", f"{(meta.get('task') or {}).get('kind')}; classes: {', '.join(meta.get('class_names') or [])}"),
        ("strategy", f"{recipe.get('strategy')} (head {recipe.get('head')}, regularizer {recipe.get('regularizer')})"),
        ("what trained", meta.get("strategy") if isinstance(meta.get("strategy"), str)
         else json.dumps(meta.get("strategy"), default=str)),
        ("data", meta.get("data") or "the plugin's demo data"),
        ("samples", ", ".join(f"{k} {v}" for k, v in (meta.get("samples") or {}).items())),
        ("epochs", f"{meta.get('epochs_run')} of {recipe.get('epochs')} ({meta.get('stopped_by')})"),
        ("main metric", f"{monitor} = {_fmt(value)}" if value is not None else monitor),
        ("decision threshold", "" if meta.get("decision_threshold") is None else f"{meta['decision_threshold']:.4f}"),
        ("status", meta.get("status")),
        ("started / finished", f"{meta.get('started', '')} / {meta.get('finished', '')}"),
        ("time", _duration(meta) + (f" ({', '.join(f'{k} {v:.1f} s' for k, v in meta['timings_s'].items())})"
                                    if meta.get("timings_s") else "")),
        ("precision", meta.get("precision")),
        ("parameters", "" if not meta.get("parameters") else
         f"{meta['parameters']['total']:,} ({meta['parameters']['trainable']:,} trainable)"),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
        ("command", meta.get("command") or ""),
    ]
    if tracking:
        rows.append(("MLflow run", f"{tracking.get('run_id')} ({tracking.get('tracking_uri')})"))
    return _section("Summary", _table(["", ""], [(_Raw(f"<strong>{_e(k)}</strong>"), v) for k, v in rows
                                                   if v not in (None, "")]))


def _metrics(run: Path, meta: dict) -> str:
    splits = {"validation": (meta.get("metrics") or {}).get("validation"),
              "test": (meta.get("metrics") or {}).get("test")}
    evaluation = Path(run) / "evaluation.json"
    if evaluation.is_file():
        try:
            data = json.loads(evaluation.read_text())
            splits[f"zoo evaluate ({data.get('split')} of {data.get('data') or 'the run data'})"] = data.get("metrics")
        except (OSError, json.JSONDecodeError):
            pass
    splits = {k: v for k, v in splits.items() if v}
    names: list[str] = []
    for values in splits.values():
        names += [k for k in values if k not in names]
    if not names:
        return _section("Metrics", '<p class="note">no metrics recorded</p>')
    rows = [[name] + [values.get(name) for values in splits.values()] for name in names]
    return _section("Metrics", _table(["metric", *splits], rows))


def _curves(run: Path) -> str:
    from zoo.reports import curves_figure

    history = read_history(run)
    if not history:
        return _section("Learning curves", '<p class="note">no history.csv</p>')
    rows = [[int(r["epoch"]) + 1] + [float(v) if v not in (None, "") else None
                                     for k, v in r.items() if k != "epoch"] for r in history]
    header = ["epoch"] + [k for k in history[0] if k != "epoch"]
    return _section("Learning curves", _plot(curves_figure(history), "loss and metrics per epoch")
                    + "<details><summary>per-epoch values</summary>" + _table(header, rows) + "</details>")


def _task_plots(run: Path, meta: dict, task) -> list[str]:
    from zoo import reports
    from zoo.metrics import binary_curves, confusion_matrix

    pair = load_scores(run, "validation")
    names = list(meta.get("class_names") or [])
    if pair is None or task is None:
        return [_section("Task plots", '<p class="note">no saved validation scores (scores.npz); '
                         "the plots of plots/ are shown below</p>")]
    labels, scores = pair
    threshold = meta.get("decision_threshold")
    sections = []
    predicted, binary = _predictions(labels, scores, names, task, threshold)
    if predicted is not None and names and np.asarray(labels).shape[:1] == np.asarray(predicted).shape[:1] \
            and np.asarray(predicted).ndim == 1:
        y = np.asarray(labels).reshape(-1).astype(int)
        body = _plot(reports.confusion_figure(confusion_matrix(y, predicted, len(names)), names),
                     "rows: true class, columns: predicted"
                     + (f"; decision threshold {threshold:.3g}" if threshold is not None else ""))
        per_class = reports.per_class_metrics(y, predicted, names)
        body += _plot(reports.per_class_figure(per_class), "precision, recall and F1 per class")
        body += _table(["class", "precision", "recall", "F1", "support"],
                       [[r["class"], r["precision"], r["recall"], r["f1"], r["support"]] for r in per_class])
        sections.append(_section("Confusion matrix and per-class metrics", body, "confusion-matrix"))
    if binary:
        y = np.asarray(labels).reshape(-1).astype(int)
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        curves = binary_curves(y, s)
        point = reports.operating_point(y, s, 0.5 if threshold is None else threshold)
        body = _plot(reports.roc_pr_figure(y, s, threshold, curves), "the red point is the decision threshold")
        body += _table(["threshold", "false positive rate", "true positive rate (recall)", "precision"],
                       [[point["threshold"], point["fpr"], point["tpr"], point["precision"]]])
        sections.append(_section("ROC and precision-recall", body, "roc-pr"))
        rows = reports.reliability(y, s)
        body = _plot(reports.reliability_figure(y, s), "observed positive rate per score bin")
        body += _table(["score bin", "mean score", "positive rate", "samples"],
                       [[f"{r['low']:.1f}-{r['high']:.1f}", r["mean_score"], r["positive_rate"], r["count"]]
                        for r in rows])
        sections.append(_section("Reliability diagram", body, "reliability"))
    worst = _worst(run, labels, scores, names, task, predicted, binary)
    if worst:
        sections.append(worst)
    return sections


def _worst_rows(labels, scores, names, task, predicted, binary) -> list[tuple[int, Any, Any, float]]:
    """`(row, true class, predicted class, score of the true class)` of the lowest-scored validation samples."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if predicted is None or not names or task.per_position or len(labels) == 0:
        return []
    y = labels.reshape(-1).astype(int)
    if binary:
        s = scores.reshape(-1)
        true_score = np.where(y == 1, s, 1 - s)
    elif scores.ndim == 2 and scores.shape[1] == len(names) and len(y) == len(scores):
        true_score = scores[np.arange(len(y)), np.clip(y, 0, len(names) - 1)]
    else:
        return []
    order = np.argsort(true_score, kind="stable")[:WORST_SAMPLES]
    return [(int(i), names[y[i]] if 0 <= y[i] < len(names) else y[i],
             names[int(predicted[i])] if 0 <= int(predicted[i]) < len(names) else predicted[i],
             float(true_score[i])) for i in order]


def _predictions(labels, scores, names, task, threshold) -> tuple[Any, bool]:
    """The task's predicted classes (None when its kind does not predict classes) and whether it is binary."""
    from zoo import reports

    try:
        predicted = task.predicted_classes(scores, threshold)
    except Exception as exc:  # noqa: BLE001 - a plugin's own task kind may not predict classes
        log.info("no predicted classes for the report: %s", exc)
        predicted = None
    return predicted, bool(len(names) == 2 and reports.binary_scores(scores) and predicted is not None)


def worst_rows(labels, scores, names, task, threshold=None) -> list[int]:
    """Positions in the validation split of the samples the report lists as worst scored."""
    predicted, binary = _predictions(labels, scores, list(names or []), task, threshold)
    return [row[0] for row in _worst_rows(labels, scores, list(names or []), task, predicted, binary)]


def save_previews(run: str | Path, previews: dict[int, bytes | str]) -> None:
    """`samples/validation-<row>.png|.jpg|.txt` for each row's preview (what `Plugin.preview` returned)."""
    folder = Path(run) / PREVIEW_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for row, preview in previews.items():
        if isinstance(preview, (bytes, bytearray)):
            raw = bytes(preview)
            suffix = ".png" if raw[:8] == b"\x89PNG\r\n\x1a\n" else ".jpg" if raw[:3] == b"\xff\xd8\xff" else None
            if suffix is None:
                log.warning("a sample preview is neither PNG nor JPEG; left out")
                continue
            (folder / f"validation-{row}{suffix}").write_bytes(raw)
        elif isinstance(preview, str):
            text = preview if len(preview) <= MAX_PREVIEW_TEXT else preview[:MAX_PREVIEW_TEXT - 3] + "..."
            (folder / f"validation-{row}.txt").write_text(text)


def _preview_cell(run: Path, row: int) -> Any:
    folder = Path(run) / PREVIEW_DIR
    for suffix in (".png", ".jpg"):
        path = folder / f"validation-{row}{suffix}"
        if path.is_file():
            try:
                return _Raw(f'<img class="thumb" src="{data_uri(path)}" alt="validation row {row}">')
            except (OSError, ValueError):
                return ""
    path = folder / f"validation-{row}.txt"
    return path.read_text() if path.is_file() else ""


def _worst(run: Path, labels, scores, names, task, predicted, binary) -> str:
    """The validation samples whose true class got the lowest score, with the plugin's previews if saved."""
    rows = _worst_rows(labels, scores, names, task, predicted, binary)
    if not rows:
        return ""
    previews = [_preview_cell(run, row[0]) for row in rows]
    header = ["row", "true", "predicted", "score of the true class"]
    if any(previews):
        header.append("sample")
        rows = [[*row, cell] for row, cell in zip(rows, previews)]
    return _section("Worst-scored validation samples", '<p class="note">row = position in the validation split'
                    "; the score the model gave the true class</p>" + _table(header, rows), "worst-samples")


def _other_plots(run: Path, shown_scores: bool, shown: frozenset[Path] = frozenset()) -> str:
    """The images of plots/ that no other section of the page shows (a plugin section shows its own)."""
    plots = sorted(p for p in (Path(run) / "plots").glob("*.png")
                   if not (p.name in CORE_PLOTS and (shown_scores or p.name == "curves.png"))
                   and p.resolve() not in shown)
    figures = []
    for p in plots:
        try:
            figures.append(_figure(p, p.name))
        except (OSError, ValueError):
            continue
    return _section("Plots", "".join(figures)) if figures else ""


def _exports(run: Path) -> str:
    rows = []
    for data in exports_of(run):
        v = data.get("verification") or {}
        if isinstance(v, dict) and "passed" in v:
            agreement = v.get("agreement")
            check = _Raw(f'<span class="{"ok" if v["passed"] else "bad"}">{"passed" if v["passed"] else "FAILED"}'
                         f"</span> max|diff| {v.get('max_abs_diff', float('nan')):.2e}, "
                         + ("" if agreement is None else f"agreement {agreement:.1%}, ")
                         + f"{v.get('n_samples')} samples")
        else:
            check = "skipped"
        quant = (data.get("quantization") or {}).get("mode", "none")
        latency = v.get("latency_ms") if isinstance(v, dict) else None
        keras_latency = v.get("keras_latency_ms") if isinstance(v, dict) else None
        speed = "" if latency is None else f"{latency:.2f} ms" + (
            "" if keras_latency is None else f" (Keras {keras_latency:.2f} ms)")
        rows.append([data.get("artifact"), data.get("format"), quant, _size(data.get("size_bytes")), speed, check,
                     data.get("exported_at", "")])
    if not rows:
        return _section("Exports", '<p class="note">not exported yet: <code>zoo export RUN --format tflite</code></p>')
    return _section("Exports", '<p class="note">latency: one sample, median of 7 calls after a warm-up, in the '
                    "artifact's own runtime on the exporting machine</p>"
                    + _table(["artifact", "format", "quantization", "size", "latency (batch 1)", "verification",
                              "exported"], rows))


def _model_card(run: Path) -> str:
    path = Path(run) / "MODEL_CARD.md"
    if not path.is_file():
        return ""
    return _section("Model card", markdown_html(path.read_text()))


def _plugin_sections(run: Path, meta: dict, plugin) -> tuple[list[str], frozenset[Path]]:
    """The HTML of the plugin's sections, and the image files they show (left out of "Plots")."""
    hook = getattr(plugin, "report_sections", None) if plugin is not None else None
    if hook is None:
        return [], frozenset()
    from zoo.api import ReportSection

    try:
        sections = list(hook(Path(run), dict(meta)) or [])
    except Exception as exc:  # noqa: BLE001 - a plugin's bug must not lose the rest of the page
        log.warning("plugin %s: report_sections failed (%s: %s); its sections are left out of %s",
                    meta.get("plugin"), type(exc).__name__, exc, REPORT_FILE)
        return [_section(f"{meta.get('plugin')} sections",
                         f'<p class="bad">report_sections raised {_e(type(exc).__name__)}: {_e(exc)}</p>',
                         "plugin-error")], frozenset()
    out, shown = [], set()
    for n, section in enumerate(sections):
        if not isinstance(section, ReportSection):
            log.warning("plugin %s: report_sections returned %s, not a zoo.api.ReportSection; left out",
                        meta.get("plugin"), type(section).__name__)
            continue
        body = markdown_html(section.text or "", images=False) + (section.html or "")
        for image in section.images or []:
            caption, source = image if isinstance(image, tuple) else ("", image)
            try:
                body += _figure(source, caption)
            except (OSError, ValueError) as exc:
                body += f'<p class="bad">image {_e(caption or source)} not shown: {_e(exc)}</p>'
            else:
                if isinstance(source, (str, Path)):
                    shown.add(Path(source).resolve())
        out.append(_section(section.title, body, f"plugin-{n}-{slug(section.title)}"))
    return out, frozenset(shown)


# --------------------------------------------------------------------------- the pages

def render_report(run: str | Path, meta: dict | None = None) -> str:
    """The HTML of a run's report (see the module docstring)."""
    run = Path(run)
    meta = meta if meta is not None else rundir.read_run(run, require_complete=False)
    plugin = _plugin(meta)
    task = _task(meta, plugin)
    task_sections = _task_plots(run, meta, task)
    shown = load_scores(run, "validation") is not None and task is not None
    plugin_sections, plugin_images = _plugin_sections(run, meta, plugin)
    sections = [_summary(run, meta), _metrics(run, meta), _curves(run), *task_sections,
                _other_plots(run, shown, plugin_images), _exports(run), *plugin_sections, _model_card(run)]
    title = f"{meta.get('plugin')} / {meta.get('backbone')}: {run.name}"
    subtitle = f"keras-zoo run report, written {_dt.datetime.now().isoformat(timespec='seconds')}"
    return _page(title, subtitle, [s for s in sections if s])


def write_report(run: str | Path, meta: dict | None = None) -> Path:
    """Write `run/report.html` (atomically) and return its path.

    Example: `write_report("runs/toy-20260101-120000")`.
    """
    path = Path(run) / REPORT_FILE
    rundir.atomic_write_text(path, render_report(run, meta))
    return path


def refresh_report(run: str | Path) -> Path | None:
    """`write_report` for commands that change a run (evaluate, export): a failure is logged, not raised."""
    try:
        return write_report(run)
    except Exception as exc:  # noqa: BLE001 - the command's own result stands without its page
        log.warning("%s/%s not refreshed: %s: %s", run, REPORT_FILE, type(exc).__name__, exc)
        return None


# --------------------------------------------------------------------------- many runs

def list_runs(runs_dir: str | Path = "runs") -> list[dict[str, Any]]:
    """One row per run folder under `runs_dir`, newest first: run, plugin, backbone, strategy, status,
    monitor, metric, date, path. Folders without a readable `zoo.json` are skipped.

    Example: `[r["run"] for r in list_runs("runs") if r["status"] == "complete"]`.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RunError(f"--runs-dir {runs_dir} is not a folder; pass the folder `zoo finetune --runs-dir` wrote to")
    rows = []
    for child in runs_dir.iterdir():
        try:
            meta = json.loads((child / rundir.RUN_FILE).read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        if not isinstance(meta, dict):
            continue
        pretrain = meta.get("kind") == "pretrain"
        monitor, value = (None, None) if pretrain else main_metric(child, meta)
        rows.append({
            "run": child.name, "path": str(child), "plugin": meta.get("plugin"), "backbone": meta.get("backbone"),
            "strategy": "pretrain" if pretrain else (meta.get("recipe") or {}).get("strategy"),
            "status": meta.get("status", "unknown"), "monitor": monitor, "metric": value,
            "date": meta.get("started") or meta.get("finished") or "",
        })
    return sorted(rows, key=lambda r: (r["date"], r["run"]), reverse=True)


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out or {prefix[:-1]: "{}"}
    return {prefix[:-1]: data}


def flat_recipe(meta: dict) -> dict[str, Any]:
    """The run's recipe as `key: value` pairs (`options.window: lung`), with plugin, backbone and weights."""
    out = {"plugin": meta.get("plugin"), "backbone": meta.get("backbone"), "weights": meta.get("weights"),
           "data": meta.get("data")}
    out.update(_flat(meta.get("recipe") or {}))
    return out


def render_compare(runs: Sequence[str | Path]) -> str:
    """The HTML page comparing `runs`: metrics and recipe side by side, differences marked, curves overlaid."""
    from zoo import reports
    from zoo.metrics import binary_curves

    if len(runs) < 2:
        raise RunError("give at least two RUN folders to compare")
    paths = [Path(r) for r in runs]
    metas = [rundir.read_run(p, require_complete=False) for p in paths]
    labels = [p.name for p in paths]
    if len(set(labels)) < len(labels):
        labels = [str(p) for p in paths]
    header = ["", *labels]
    sections = []
    rows = [["plugin", *[m.get("plugin") for m in metas]], ["backbone", *[m.get("backbone") for m in metas]],
            ["status", *[m.get("status") for m in metas]], ["started", *[m.get("started") for m in metas]],
            ["epochs run", *[m.get("epochs_run") for m in metas]],
            ["main metric", *[f"{mon} = {_fmt(v)}" for mon, v in (main_metric(p, m) for p, m in zip(paths, metas))]]]
    sections.append(_section("Runs", _table(header, rows)))
    metric_rows, classes = [], []
    for split in ("validation", "test"):
        names: list[str] = []
        for m in metas:
            names += [k for k in ((m.get("metrics") or {}).get(split) or {}) if k not in names]
        for name in names:
            values = [((m.get("metrics") or {}).get(split) or {}).get(name) for m in metas]
            metric_rows.append([f"{split} {name}", *values])
            numbers = [v for v in values if isinstance(v, (int, float))]
            classes.append("diff" if len(numbers) > 1 and max(numbers) - min(numbers) > 1e-9 else "")
    sections.append(_section("Metrics", _table(header, metric_rows, classes) if metric_rows
                             else '<p class="note">no metrics recorded</p>'))
    recipes = [flat_recipe(m) for m in metas]
    keys: list[str] = []
    for r in recipes:
        keys += [k for k in r if k not in keys]
    differing = [k for k in keys if len({json.dumps(r.get(k), sort_keys=True, default=str) for r in recipes}) > 1]
    same = [k for k in keys if k not in differing]
    body = (_table(["recipe", *labels], [[k, *[_recipe_value(r.get(k, "(unset)")) for r in recipes]]
                                         for k in differing], ["diff"] * len(differing))
            if differing else '<p class="note">the recipes are the same</p>')
    body += ("<details><summary>the same in every run</summary>"
             + _table(["recipe", "value"], [[k, _recipe_value(recipes[0].get(k))] for k in same]) + "</details>")
    sections.append(_section("Recipe differences", body, "recipe"))
    histories = {label: read_history(p) for label, p in zip(labels, paths)}
    histories = {k: v for k, v in histories.items() if v}
    figures = ""
    if histories:
        figures += _plot(reports.overlay_curves_figure(histories), "validation curves of every run")
    binary = {}
    for label, path, meta in zip(labels, paths, metas):
        pair = load_scores(path, "validation")
        if pair is not None and len(meta.get("class_names") or []) == 2 and reports.binary_scores(pair[1]):
            binary[label] = binary_curves(*pair)
    if binary:
        plt = reports._pyplot()
        fig, ax = plt.subplots(figsize=(4.4, 4))
        for label, curves in binary.items():
            ax.plot(curves["fpr"], curves["tpr"], label=f"{label} (AUC {curves['roc_auc']:.3f})")
        ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title("validation ROC")
        ax.legend(fontsize=7)
        fig.tight_layout()
        figures += _plot(fig, "validation ROC of every binary run")
    sections.append(_section("Curves", figures or '<p class="note">no history.csv in these runs</p>'))
    title = f"keras-zoo: {len(paths)} runs compared"
    return _page(title, ", ".join(labels), sections)


def _recipe_value(value: Any) -> Any:
    return value if isinstance(value, (int, float, str)) or value is None else json.dumps(value, default=str)


def write_compare(runs: Sequence[str | Path], out: str | Path = "compare.html") -> Path:
    """Write the page of `render_compare` to `out` and return its path.

    Example: `write_compare(["runs/toy-a", "runs/toy-b"], "compare.html")`.
    """
    out = Path(out)
    rundir.atomic_write_text(out, render_compare(runs))
    return out
