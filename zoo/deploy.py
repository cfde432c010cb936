"""`zoo export` and `zoo predict`: the glue between runs, plugins and `zoo_export`.

Example:

```python
from zoo.deploy import export_run, predict
report = export_run("runs/medical-ct-20260101-120000", "tflite", quantize="int8")
rows = predict(report.path, ["scan_dir/"])
```
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np


from zoo import registry
from zoo.errors import ConfigError, RunError
from zoo.loading import import_custom_objects, load_run
from zoo.training import rundir

log = logging.getLogger(__name__)


def calibration_rows(labels: np.ndarray, n: int, seed: int, classes: int = 0) -> tuple[np.ndarray, str]:
    """Which rows of a split calibrate int8, and how they were drawn.

    With one class id per row (`classes` > 0, ids in 0..classes-1): the classes in turn, each class's rows in a seeded shuffle, until `n`
    (a class with fewer rows gives all it has), so a rare class (fraud, a nodule) is represented
    rather than left to chance in the first N rows. Otherwise (regression, label sets, per-position
    labels): `n` rows evenly spaced over the split. The rows come back in split order.
    """
    labels = np.asarray(labels)
    total = len(labels)
    if n >= total:
        return np.arange(total), "every row of the training split"
    flat = labels.reshape(total, -1)
    if classes > 0 and flat.shape[1] == 1 and np.all(np.mod(flat, 1) == 0) and np.all((flat >= 0) & (flat < classes)):
        ids = flat[:, 0].astype(np.int64)
        rng = np.random.default_rng(seed)
        queues = [list(rng.permutation(np.flatnonzero(ids == c))) for c in np.unique(ids)]
        picked: list[int] = []
        while len(picked) < n:
            for queue in queues:
                if queue and len(picked) < n:
                    picked.append(int(queue.pop()))
        return np.sort(np.asarray(picked)), f"stratified by class (the classes in turn, seed {seed})"
    return np.unique(np.linspace(0, total - 1, n).round().astype(np.int64)), "evenly spaced over the training split"


def calibration_set(dataset, n: int, seed: int, class_names=None) -> tuple[dict[str, np.ndarray], dict]:
    """`(inputs, description)`: int8 calibration samples drawn from an unbatched training split
    (`calibration_rows`), raw as training reads them (the model holds the preprocessing); the
    description (rows, rule, rows per class) goes into the export's sidecar."""
    from zoo.errors import DataError
    from zoo.training.finetune import labels_of

    labels = labels_of(dataset)
    if not len(labels):
        raise DataError("the train split has no samples to calibrate an int8 export with")
    rows, rule = calibration_rows(labels, int(n), int(seed), len(class_names or []))
    wanted, picked = set(rows.tolist()), []
    for i, (x, _y) in enumerate(dataset.take(int(rows[-1]) + 1).as_numpy_iterator()):
        if i in wanted:
            picked.append(x)
    inputs = {k: np.stack([p[k] for p in picked]) for k in picked[0]}
    drawn: dict = {"split": "train", "samples": len(rows), "of": int(len(labels)), "rule": rule}
    flat = np.asarray(labels).reshape(len(labels), -1)
    if rule.startswith("stratified"):
        counts = np.bincount(flat[rows, 0].astype(np.int64))
        names = list(class_names or [])
        drawn["per_class"] = {(names[c] if c < len(names) else str(c)): int(k) for c, k in enumerate(counts) if k}
    return inputs, drawn


def export_run(run: str | Path, fmt: str, *, quantize: str = "none", out: str | Path | None = None,
               force: bool = False, verify: bool = True, samples: int = 128, calibration_samples: int = 200,
               min_agreement: float = 0.95, opset: int | None = None, io_dtype: str = "float32",
               atol: float | None = None, strict_int8: bool = False, float_ops: int = 12,
               min_estimated_agreement: float | None = None):
    """Export a run's model to `fmt`, verified on its validation data; returns the `ExportReport`."""
    from zoo_export.api import ExportOptions
    from zoo_export.export import export_model

    from zoo.training.finetune import load_data

    run = Path(run)
    exporter = registry.get_exporter(fmt)
    options = ExportOptions(quantize=quantize, calibration_samples=calibration_samples, io_dtype=io_dtype,
                            opset=opset, min_agreement=min_agreement, atol=atol, strict_int8=strict_int8,
                            float_ops=float_ops, min_estimated_agreement=min_estimated_agreement)
    if hasattr(exporter, "check_options"):
        exporter.check_options(options)
    meta, model = load_run(run)
    plugin = registry.get_plugin(meta["plugin"])
    recipe = plugin.resolve_recipe(base=meta["recipe"])
    bundle = load_data(plugin, recipe, meta.get("data"))
    verify_inputs = plugin.data.samples(bundle, "validation", samples)
    calibration, drawn = (calibration_set(bundle.train, calibration_samples, recipe.seed, bundle.class_names)
                          if quantize == "int8" else (None, None))
    if out is None:
        stem = ("model" if exporter.suffix else f"model-{exporter.name}") + ("" if quantize == "none" else f"-{quantize}")
        out = run / "exports" / f"{stem}{exporter.suffix}"
    out = Path(out)
    signature = {k: (tuple(v["shape"]), v["dtype"]) for k, v in meta["input_signature"].items()}
    sidecar = {
        "source_run": str(run.resolve()),
        "plugin": meta["plugin"],
        "plugin_version": meta.get("plugin_version"),
        "custom_objects_module": meta.get("custom_objects_module"),
        "backbone": meta["backbone"],
        "weights": meta["weights"],
        "class_names": meta["class_names"],
        "task": meta["task"],
        "preprocessing": meta.get("preprocessing", "inside the model: the artifact takes raw inputs"),
        "decision_threshold": meta.get("decision_threshold"),
        "model_sha256": meta.get("model_sha256"),
        "options": dict(recipe.options),
    }
    sidecar["deployment"] = meta.get("deployment") or {}
    if drawn is not None:
        sidecar["calibration"] = drawn
    task = plugin.task
    threshold = meta.get("decision_threshold")
    model = task.serving_model(model)
    report = export_model(model, exporter, out, samples=verify_inputs, calibration=calibration, options=options,
                          input_signature=signature, task_kind=task.kind, sidecar=sidecar,
                          verify=verify, force=force,
                          agreement=lambda reference, produced: task.agreement(reference, produced, threshold),
                          comparable=lambda reference, produced: task.comparable(reference, produced, threshold),
                          estimate=lambda reference, produced: task.estimated_agreement(reference, produced, threshold))
    from zoo import report_html, tracking

    report_html.refresh_report(run)
    if (meta.get("tracking") or {}).get("mlflow"):
        tracking.log_export(run, meta, report.path, report.sidecar_path)
    return report


def _open(target: Path):
    """(runner, metadata) for a run folder or an exported artifact."""
    from zoo_export.runtime import load_artifact, runner_from_keras

    if (target / rundir.RUN_FILE).is_file():
        meta, model = load_run(target)
        signature = {k: (tuple(v["shape"]), v["dtype"]) for k, v in meta["input_signature"].items()}
        model = registry.get_plugin(meta["plugin"]).task.serving_model(model)
        return runner_from_keras(model, signature), meta
    sidecar = Path(str(target) + ".zoo.json")
    if not target.exists():
        raise RunError(f"{target} does not exist; pass a run folder or an exported artifact")
    if not sidecar.is_file():
        raise RunError(f"{target} has no sidecar {sidecar.name}; export it with `zoo export` to predict with it")
    try:
        meta = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{sidecar} is not valid JSON ({exc}); export the run again with `zoo export --force`") from None
    missing = [k for k in ("plugin", "class_names", "input_signature") if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise RunError(f"{sidecar} lacks {', '.join(missing)}; export the run again with `zoo export --force`")
    import_custom_objects(meta)
    return load_artifact(target), meta


#: inputs (files, studies...) read, run and reported together by `zoo predict`: memory stays flat
#: with the number of inputs (10,000 images read at once took over 8 GB).
PREDICT_CHUNK = 64


def predict(target: str | Path, inputs: Sequence[str], threshold: float | None = None) -> list[dict[str, Any]]:
    """Run a run's model or an artifact on raw input files; one dict per reported row.

    Any input that cannot be read raises (see `iter_predict` to report it and go on).
    """
    return list(iter_predict(target, inputs, threshold, strict=True))


def iter_predict(target: str | Path, inputs: Sequence[str], threshold: float | None = None, *, strict: bool = False,
                 chunk: int = PREDICT_CHUNK, progress=None):
    """Yield one dict per reported row, reading and running `chunk` inputs at a time.

    The plugin's `DataAdapter.list_inputs` turns `inputs` (files, folders) into the units it
    reads; each chunk of units goes through `read_inputs` -> the model -> `group_predictions`
    -> the task's `decode`. A unit that cannot be read is yielded as `{"input": unit, "error":
    message}` and the others still run; with `strict=True` the first such error raises.
    `progress(done, total)` is called after every chunk.
    """
    from zoo import contract
    from zoo.errors import DataError

    if not inputs:
        raise ConfigError("give at least one INPUT file or folder to predict on")
    target = Path(target)
    runner, meta = _open(target)
    plugin = registry.get_plugin(meta["plugin"])
    signature = {k: _spec(v) for k, v in (meta.get("input_signature") or {}).items()}
    options = _options(plugin, meta)
    deployment = meta.get("deployment") or {}
    names = meta["class_names"]
    cut = threshold if threshold is not None else meta.get("decision_threshold")
    units = contract.list_inputs(plugin, [str(p) for p in inputs], options)

    def run(part):
        rows = contract.read_rows(plugin, part, signature, options, deployment)
        grouped = contract.group_rows(plugin, rows, runner(rows.inputs), options)
        return [{"input": name, **plugin.task.decode(score, names, cut)} for name, score in grouped]

    for start in range(0, len(units), chunk):
        part = units[start:start + chunk]
        try:
            results = run(part)
        except DataError as exc:
            if strict:
                raise
            if len(part) == 1:
                results = [{"input": part[0], "error": str(exc)}]
            else:  # find the unreadable ones; the others still run
                results = []
                for unit in part:
                    try:
                        results += run([unit])
                    except DataError as one:
                        results.append({"input": unit, "error": str(one)})
        yield from results
        if progress is not None:
            progress(min(start + chunk, len(units)), len(units))


def _options(plugin, meta: dict):
    """The plugin options a run (its recipe) or an export (its sidecar) was made with."""
    from types import SimpleNamespace

    values = meta.get("options")
    if values is None:
        values = (meta.get("recipe") or {}).get("options")
    return plugin.options_for(SimpleNamespace(options=values or {}))


def _spec(data):
    from zoo.api import TensorSpec

    if isinstance(data, dict):
        return TensorSpec.from_json(data)
    shape, dtype = data
    return TensorSpec(tuple(shape), dtype)
