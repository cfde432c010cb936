"""TensorFlow SavedModel: a directory with a `serving_default` signature.

The signature takes the Keras input names (batch dimension dynamic) and returns one named
output, `{<model output name>: probabilities}`, so TF Serving clients address both by name.

Example:

```python
from zoo_export.savedmodel import exporter
exporter.export(model, "model_savedmodel", options=ExportOptions(),
                input_signature={"image": ((32, 32, 3), "float32")}, calibration=None)
probs = exporter.load("model_savedmodel")({"image": images})
```
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

import numpy as np

from zoo_export.api import Exporter, ExportOptions, InputSignature, Runner
from zoo_export.errors import ExportError

logger = logging.getLogger(__name__)


class SavedModelRunner(Runner):
    """Runs a SavedModel's `serving_default` signature with TensorFlow."""

    format = "savedmodel"

    def __init__(self, path: str):
        import tensorflow as tf

        try:
            self._loaded = tf.saved_model.load(str(path))
        except (OSError, ValueError) as exc:
            raise ExportError(f"cannot load SavedModel {path}: {exc}") from exc
        signatures = self._loaded.signatures
        if "serving_default" not in signatures:
            raise ExportError(
                f"SavedModel {path} has no 'serving_default' signature "
                f"(it has: {', '.join(signatures) or 'none'})"
            )
        self._fn = signatures["serving_default"]
        _, kwargs = self._fn.structured_input_signature
        outputs = self._fn.structured_outputs
        if len(outputs) != 1:
            raise ExportError(
                f"SavedModel {path} returns {len(outputs)} outputs ({', '.join(outputs)}); "
                "expected one"
            )
        self.output_name = next(iter(outputs))
        super().__init__(
            {name: (tuple(spec.shape[1:]), spec.dtype.name) for name, spec in sorted(kwargs.items())}
        )

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        result = self._fn(**inputs)
        return result[self.output_name].numpy()


class SavedModelExporter(Exporter):
    """Exports a TensorFlow SavedModel directory (TF Serving, TF.js, and TFLite conversion)."""

    name = "savedmodel"
    suffix = ""
    description = "TensorFlow SavedModel directory with a named serving_default signature"
    quantize_modes = ("none",)

    def export(
        self,
        model: Any,
        path: str,
        *,
        options: ExportOptions,
        input_signature: InputSignature,
        calibration: Mapping[str, np.ndarray] | None = None,
    ) -> dict[str, Any]:
        """Write the SavedModel directory at `path` (which may exist, empty)."""
        from zoo_export import _keras

        self.check_options(options)
        if os.path.isdir(path) and os.listdir(path):
            raise ExportError(f"{path} exists and is not empty")
        out_name = _keras.output_name(model)
        _keras.write_serving_savedmodel(model, str(path), input_signature, out_name)
        self._check_signature(path, input_signature, out_name)
        return {
            "converter": "keras.export.ExportArchive",
            "signature": "serving_default",
            "output_name": out_name,
        }

    @staticmethod
    def _check_signature(path: str, signature: InputSignature, out_name: str) -> None:
        import tensorflow as tf

        fn = tf.saved_model.load(str(path)).signatures["serving_default"]
        got_inputs = set(fn.structured_input_signature[1])
        got_outputs = list(fn.structured_outputs)
        if got_inputs != set(signature) or got_outputs != [out_name]:
            raise ExportError(
                f"the SavedModel signature came out as inputs {sorted(got_inputs)} -> "
                f"{got_outputs}; expected {sorted(signature)} -> [{out_name!r}]"
            )

    def load(self, path: str) -> SavedModelRunner:
        """Load a SavedModel directory written by this exporter (or any with one output)."""
        return SavedModelRunner(path)


exporter = SavedModelExporter()
