"""Load any artifact (or Keras model) as a `Runner`: what `zoo predict ARTIFACT` uses.

Example:

```python
from zoo_export.runtime import load_artifact
runner = load_artifact("exports/model.tflite")
print(runner.input_names)                    # ('image',)
probs = runner({"image": images})            # float32, (N, classes)
```
"""

from __future__ import annotations

import json
import logging
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from zoo_export.api import Exporter, InputSignature, Runner
from zoo_export.errors import ExportError

logger = logging.getLogger(__name__)

EXPORTERS_GROUP = "keras_zoo.exporters"


def runner_from_keras(model: Any, input_signature: InputSignature | None = None) -> Runner:
    """Wrap an in-memory Keras model in the `Runner` interface.

    Example:

    ```python
    reference = runner_from_keras(model)({"image": images})
    ```
    """
    from zoo_export._keras import KerasRunner

    return KerasRunner(model, input_signature)


def _sidecar_format(path: Path) -> str | None:
    sidecar = Path(str(path) + ".zoo.json")
    if not sidecar.is_file():
        return None
    try:
        return json.loads(sidecar.read_text()).get("format")
    except (OSError, ValueError, AttributeError):
        return None


def _entry_point_exporter(name: str) -> Exporter | None:
    for ep in metadata.entry_points(group=EXPORTERS_GROUP):
        if ep.name == name:
            return ep.load()
    return None


def load_artifact(path: str | os.PathLike[str]) -> Runner:
    """Load an artifact by what `path` is.

    - a `.keras` file: `keras.saving.load_model(path, safe_mode=True)` (import the plugin that
      defines its custom layers first);
    - a directory with `saved_model.pb`: TensorFlow `serving_default` signature;
    - a `.tflite` file: LiteRT;
    - a `.onnx` file: ONNX Runtime;
    - anything else whose `<path>.zoo.json` sidecar names an installed exporter (a third-party
      format): that exporter's `load`.

    Raises ExportError for a missing path or an unknown kind of artifact.
    """
    p = Path(path)
    if not p.exists():
        raise ExportError(f"no artifact at {p}")
    if p.is_file() and p.suffix == ".keras":
        import keras

        try:
            model = keras.saving.load_model(str(p), safe_mode=True)
        except (ValueError, TypeError, OSError) as exc:
            raise ExportError(
                f"cannot load {p} ({exc}); if it uses a plugin's layers, install that plugin"
            ) from exc
        return runner_from_keras(model)
    if p.is_dir() and (p / "saved_model.pb").is_file():
        from zoo_export.savedmodel import exporter

        return exporter.load(str(p))
    if p.is_file() and p.suffix == ".tflite":
        from zoo_export.tflite import exporter

        return exporter.load(str(p))
    if p.is_file() and p.suffix == ".onnx":
        from zoo_export.onnx import exporter

        return exporter.load(str(p))
    fmt = _sidecar_format(p)
    if fmt:
        exporter = _entry_point_exporter(fmt)
        if exporter is not None:
            return exporter.load(str(p))
        raise ExportError(
            f"{p} is a {fmt!r} artifact but no installed exporter provides {fmt!r} "
            f"(entry-point group {EXPORTERS_GROUP})"
        )
    raise ExportError(
        f"don't know how to run {p}: expected a .keras file, a SavedModel directory, "
        "a .tflite or a .onnx file"
    )
