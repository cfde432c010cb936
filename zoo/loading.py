"""Load what a run saved: its model (Keras safe mode) and its plugin."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from zoo.errors import PluginError, RunError
from zoo.training import rundir

log = logging.getLogger(__name__)


def import_custom_objects(meta: dict) -> None:
    """Import the module that registers the plugin's Keras serialisables (named in zoo.json)."""
    module = meta.get("custom_objects_module")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise PluginError(
                f"the run needs module {module!r} of plugin {meta.get('plugin')!r} to load its model: {exc}; "
                "install the plugin"
            ) from None


def load_keras_model(path: str | Path, meta: dict | None = None):
    """`keras.saving.load_model` in safe mode; a file needing unsafe code is refused with the reason."""
    import keras

    if meta:
        import_custom_objects(meta)
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except ValueError as exc:
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text or "lambda" in text:
            raise RunError(
                f"{path} needs unsafe deserialisation (a Lambda layer or other Python code in the file); "
                "keras-zoo loads models in Keras safe mode only and refuses it"
            ) from None
        raise


def load_run(run: str | Path):
    """`(meta, model)` of a complete run."""
    meta = rundir.read_run(run)
    return meta, load_keras_model(rundir.model_path(run), meta)
