"""Experiment tracking: `zoo finetune --track mlflow`.

A finished run is logged to MLflow as one MLflow run: the recipe (flattened, `options.x`) and
plugin, backbone and weights as params; every column of `history.csv` as a metric with one
value per epoch (step = epoch); the final validation and test metrics as `validation/<name>`
and `test/<name>`; `report.html`, `MODEL_CARD.md`, `zoo.json`, `history.csv`, `plots/` and
`model.keras` as artifacts. The MLflow run id is recorded in the run's `zoo.json` under
`tracking.mlflow`, so `zoo export` on the run later logs the artifact and its sidecar to the
same MLflow run (under `exports/`).

Where: `MLFLOW_TRACKING_URI` when set, else a local file store `./mlruns`. The experiment is
`MLFLOW_EXPERIMENT_NAME` when set, else `keras-zoo-<plugin>`. MLflow is an optional extra
(`pip install 'keras-zoo[mlflow]'`) imported only here, only when tracking is asked for.

Example:

```python
from zoo import tracking

tracking.require("mlflow")                       # ConfigError naming the pip command when missing
run_id = tracking.log_finetune("runs/toy-20260101-120000")
```
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from zoo.errors import ConfigError, ZooError
from zoo.training import rundir

log = logging.getLogger(__name__)

BACKENDS = ("mlflow",)
INSTALL = "pip install 'keras-zoo[mlflow]'"
#: MLflow limits: params and metrics per log_batch call, characters of a param value
_MAX_PARAMS, _MAX_METRICS, _MAX_VALUE = 100, 1000, 6000


class TrackingError(ZooError):
    """The tracking store could not be written (unreachable server, bad URI)."""


def require(backend: str) -> None:
    """`ConfigError` unless `backend` is known and installed (checked before training starts)."""
    if backend not in BACKENDS:
        raise ConfigError(f"--track {backend!r} is not supported; choose one of: {', '.join(BACKENDS)}")
    try:
        import mlflow  # noqa: F401 - asked for: its import time is paid once, before training
    except ImportError:
        raise ConfigError(f"--track mlflow needs MLflow, which is not installed: {INSTALL}") from None


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI`, or the file store `./mlruns` as an absolute `file:` URI."""
    return os.environ.get("MLFLOW_TRACKING_URI") or Path("mlruns").resolve().as_uri()


def _client(uri: str):
    if uri.startswith("file:"):
        # MLflow 3 keeps its file store in maintenance mode behind this switch; a local folder of
        # runs needs no database and no server, which is what `--track mlflow` offers by default.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise ConfigError(f"--track mlflow needs MLflow, which is not installed: {INSTALL}") from None
    return MlflowClient(tracking_uri=uri)


def _params(meta: dict) -> dict[str, str]:
    from zoo.report_html import flat_recipe

    params = {"task": (meta.get("task") or {}).get("kind")}
    params.update(flat_recipe(meta))
    out = {}
    for key, value in params.items():
        text = "None" if value is None else str(value)
        out[key] = text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE - 3] + "..."
    return out


def _metrics(run: Path, meta: dict) -> list:
    from mlflow.entities import Metric

    from zoo.report_html import read_history

    now = int(time.time() * 1000)
    metrics = []
    for row in read_history(run):
        step = int(row["epoch"])
        for key, value in row.items():
            if key == "epoch" or value in (None, ""):
                continue
            number = float(value)
            if math.isfinite(number):
                metrics.append(Metric(key, number, now, step))
    for split, values in (meta.get("metrics") or {}).items():
        for key, value in (values or {}).items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                metrics.append(Metric(f"{split}/{key}", float(value), now, 0))
    return metrics


def log_finetune(run: str | Path) -> str:
    """Log a complete fine-tuning run to MLflow (see the module docstring); return the MLflow run id."""
    from zoo.report_html import refresh_report

    run = Path(run)
    meta = rundir.read_run(run)
    uri = tracking_uri()
    client = _client(uri)
    try:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or f"keras-zoo-{meta['plugin']}"
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment is not None else client.create_experiment(name)
        tags = {"zoo.plugin": meta["plugin"], "zoo.backbone": meta["backbone"], "zoo.run_dir": str(run.resolve()),
                "zoo.status": meta.get("status", "")}
        mlrun = client.create_run(experiment_id, run_name=run.name, tags=tags)
        run_id = mlrun.info.run_id
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in _params(meta).items()]
        for start in range(0, len(params), _MAX_PARAMS):
            client.log_batch(run_id, params=params[start:start + _MAX_PARAMS])
        metrics = _metrics(run, meta)
        for start in range(0, len(metrics), _MAX_METRICS):
            client.log_batch(run_id, metrics=metrics[start:start + _MAX_METRICS])
        with rundir.locked(run):
            meta = rundir.read_run(run)
            meta["tracking"] = {"mlflow": {"run_id": run_id, "experiment_id": experiment_id, "tracking_uri": uri}}
            rundir.write_json(run / rundir.RUN_FILE, meta)
        refresh_report(run)  # the page names the MLflow run
        for name in ("report.html", "MODEL_CARD.md", rundir.RUN_FILE, "history.csv", "model.keras"):
            if (run / name).is_file():
                client.log_artifact(run_id, str(run / name))
        if (run / "plots").is_dir() and any((run / "plots").iterdir()):
            client.log_artifacts(run_id, str(run / "plots"), "plots")
        client.set_terminated(run_id, "FINISHED")
    except ZooError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; the run folder is complete either way
        raise TrackingError(f"MLflow at {uri} could not record {run}: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}; the run folder is complete, "
                            "set MLFLOW_TRACKING_URI to a reachable store and log it again") from None
    return run_id


def log_export(run: str | Path, meta: dict[str, Any], artifact: str | Path, sidecar: str | Path) -> None:
    """Log an export (the artifact, its sidecar, the refreshed report) to the run's MLflow run.

    A failure is logged as a warning: the export itself is written and verified either way.
    """
    info = (meta.get("tracking") or {}).get("mlflow") or {}
    run_id, uri = info.get("run_id"), info.get("tracking_uri") or tracking_uri()
    if not run_id:
        return
    try:
        client = _client(uri)
        artifact = Path(artifact)
        if artifact.is_dir():  # a SavedModel
            client.log_artifacts(run_id, str(artifact), f"exports/{artifact.name}")
        else:
            client.log_artifact(run_id, str(artifact), "exports")
        client.log_artifact(run_id, str(sidecar), "exports")
        if (Path(run) / "report.html").is_file():
            client.log_artifact(run_id, str(Path(run) / "report.html"))
    except ConfigError as exc:
        log.warning("the export was not logged to MLflow run %s: %s", run_id, exc)
    except Exception as exc:  # noqa: BLE001 - the export stands without its tracking copy
        log.warning("the export was not logged to MLflow run %s at %s: %s: %s", run_id, uri, type(exc).__name__, exc)
