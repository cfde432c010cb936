"""`zoo pretrain`: a plugin's self-supervised pretraining, written as a run fine-tuning can start from.

A pretraining run is `runs/<plugin>-pretrain-<YYYYmmdd-HHMMSS>/` with
`backbone.weights.h5`, optionally `preprocessing.keras` (the data-fitted
preprocessing it trained with), and `zoo.json` (`"kind": "pretrain"`). Passing that
folder to `zoo finetune --weights` builds the backbone from its weights and reuses
its preprocessing.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from zoo.errors import PluginError, WeightsError
from zoo.training import rundir

log = logging.getLogger(__name__)

WEIGHTS_FILE = "backbone.weights.h5"
PREPROCESSING_FILE = "preprocessing.keras"


def run_pretrain(plugin, recipe, data: str | None, runs_dir: str | Path = "runs") -> tuple[Path, dict]:
    """Call `plugin.pretrain` into a new run folder; mark it complete when the weights exist."""
    if plugin.pretrain is None:
        raise PluginError(f"plugin {plugin.name!r} has no self-supervised pretraining; use pretrained weights")
    spec = plugin.backbone(recipe.backbone)
    run = rundir.new_run_dir(runs_dir, f"{plugin.name}-pretrain")
    meta = {"kind": "pretrain", "status": "running", "plugin": plugin.name, "plugin_version": plugin.version,
            "backbone": spec.name, "data": data, "recipe": recipe.to_dict(), "started": _now()}
    rundir.write_json(run / rundir.RUN_FILE, meta)
    try:
        from zoo import contract

        metrics = contract.run_pretrain(plugin, data, dataclasses.replace(recipe, backbone=spec.name),
                                        plugin.options_for(recipe), run) or {}
    except BaseException as exc:
        meta.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        rundir.write_json(run / rundir.RUN_FILE, meta)
        raise
    if not (run / WEIGHTS_FILE).is_file():
        raise PluginError(f"plugin {plugin.name!r} pretrain() wrote no {WEIGHTS_FILE} in {run}")
    meta.update(status="complete", metrics=metrics, finished=_now(),
                weights_sha256=rundir.sha256_file(run / WEIGHTS_FILE),
                preprocessing=(run / PREPROCESSING_FILE).is_file())
    rundir.write_json(run / rundir.RUN_FILE, meta)
    return run, metrics


def resolve_weights(weights: str | None, plugin, backbone: str) -> tuple[str | None, Path | None]:
    """(weights for `BackboneSpec.build`, preprocessing file or None) for a `--weights` value.

    A pretraining run folder becomes its weights file (checked to be for this plugin
    and backbone); anything else passes through unchanged.
    """
    if weights is None:
        return None, None
    path = Path(weights)
    if not path.is_dir():
        return weights, None
    meta = rundir.read_run(path)
    if meta.get("kind") != "pretrain":
        raise WeightsError(f"--weights {path} is a fine-tuning run, not a pretraining run; pass its model or "
                           "a pretraining run folder")
    if meta["plugin"] != plugin.name or meta["backbone"] != backbone:
        raise WeightsError(f"--weights {path} holds a {meta['plugin']}/{meta['backbone']} backbone, "
                           f"not {plugin.name}/{backbone}")
    pre = path / PREPROCESSING_FILE
    return str(path / WEIGHTS_FILE), pre if pre.is_file() else None


def _now() -> str:
    import datetime as _dt

    return _dt.datetime.now().isoformat(timespec="seconds")
