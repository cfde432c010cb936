"""Load what a run saved: its model (Keras safe mode) and its plugin."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from zoo.errors import PluginError, RunError
from zoo.training import rundir

log = logging.getLogger(__name__)


def import_custom_objects(meta: dict, plugin=None) -> None:
    """Import the module where the run's plugin registers its Keras serialisables.

    The module is the one the *installed* plugin named in `meta["plugin"]` declares
    (`Plugin.custom_objects_module`), never a module named in the file: a crafted
    `zoo.json` or sidecar must not choose what code runs.
    """
    name = meta.get("plugin")
    if plugin is None:
        if not name:
            return
        from zoo import registry

        try:
            plugin = registry.get_plugin(name)
        except PluginError as exc:
            raise PluginError(f"loading this model needs plugin {name!r}: {exc}") from None
    name = plugin.name
    module = plugin.custom_objects_module
    if module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise PluginError(
                f"plugin {name!r} names module {module!r} for its Keras layers, which fails to import: {exc}; "
                "reinstall the plugin"
            ) from None


def load_keras_model(path: str | Path, meta: dict | None = None, plugin=None):
    """`keras.saving.load_model` in safe mode; a file needing unsafe code is refused with the reason.

    A missing, truncated or corrupt file, and a model holding a `Lambda` layer, raise
    `RunError` naming the file and what to do, before Keras runs anything from it.
    """
    import json
    import zipfile

    import keras

    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path} does not exist; the run did not finish, or the file was removed")
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise RunError(f"{path} is not a complete .keras file ({type(exc).__name__}: {exc}); it is truncated or "
                       "corrupt: copy it again or re-run fine-tuning") from None
    if broken is not None:
        raise RunError(f"{path} is corrupt (member {broken} fails its checksum); copy it again or re-run fine-tuning")
    if '"class_name": "Lambda"' in json.dumps(config):
        raise RunError(
            f"{path} holds a Lambda layer (Python code in the file); keras-zoo loads models in Keras safe mode "
            "only and refuses it: replace the Lambda with a registered serialisable layer"
        )
    if meta or plugin is not None:
        import_custom_objects(meta or {}, plugin)
    import zoo.detection  # noqa: F401 - registers the core's own serialisable layers (decoded boxes)
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError) as exc:
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text or "lambda" in text:
            raise RunError(
                f"{path} needs unsafe deserialisation (a Lambda layer or other Python code in the file); "
                "keras-zoo loads models in Keras safe mode only and refuses it"
            ) from None
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise RunError(f"{path} cannot be loaded as a Keras model: {first[:300]}; if it uses a plugin's layers, "
                       "install that plugin") from None


def load_run(run: str | Path):
    """`(meta, model)` of a complete run."""
    meta = rundir.read_run(run)
    return meta, load_keras_model(rundir.model_path(run), meta)
