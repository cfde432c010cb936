"""The exporter contract: `ExportOptions`, `Exporter` and `Runner`.

An exporter turns a Keras model into one deployment artifact (a file, or a directory for a
SavedModel) and loads that artifact back as a `Runner`, the one interface the verifier and
`zoo predict` use. Third parties register their own exporter under the entry-point group
`keras_zoo.exporters`:

```toml
[project.entry-points."keras_zoo.exporters"]
coreml = "zoo_coreml:exporter"     # an instance of a zoo_export.api.Exporter subclass
```

This module imports neither Keras nor TensorFlow; exporters import them inside their methods.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, ClassVar, Mapping

import numpy as np

from zoo_export.errors import ExportError

logger = logging.getLogger(__name__)

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8")
IO_DTYPES = ("float32", "int8", "uint8")

# name -> (shape without the batch dimension, dtype name), e.g. {"image": ((32, 32, 3), "float32")}
InputSignature = dict[str, tuple[tuple[int, ...], str]]


@dataclasses.dataclass
class ExportOptions:
    """What the user chose on the command line for one export.

    Args:
        quantize: "none", "float16", "dynamic" or "int8". Only the tflite exporter accepts
            anything but "none".
        calibration_samples: how many calibration samples feed int8 quantisation.
        io_dtype: input/output type of an int8 TFLite model: "float32" (quantise inside the
            model), "int8" or "uint8" (the caller quantises with the tensors' scale/zero point).
        opset: ONNX opset; None lets the converter choose.
        min_agreement: smallest decision agreement with Keras that a dynamic or int8
            artifact may have.
        min_estimated_agreement: a dynamic or int8 classifier must also reach this agreement as
            estimated from every pair of score shift and decision margin (`zoo_export.verify`);
            None (the default) reports the estimate without gating on it.
        atol: absolute tolerance that replaces the per-format one (see `zoo_export.verify`).
        strict_int8: int8 only: refuse the artifact when full-integer int8 falls short of
            `min_agreement`, instead of keeping operations in float (`zoo_export.int8`).
        float_ops: int8 only: the most operations the float fallback may keep in float.

    Example:

    ```python
    options = ExportOptions(quantize="int8", calibration_samples=100)
    ```
    """

    quantize: str = "none"
    calibration_samples: int = 200
    io_dtype: str = "float32"
    opset: int | None = None
    min_agreement: float = 0.95
    atol: float | None = None
    min_estimated_agreement: float | None = None
    strict_int8: bool = False
    float_ops: int = 12

    def __post_init__(self) -> None:
        if self.quantize not in QUANTIZE_MODES:
            raise ExportError(
                f"unknown --quantize {self.quantize!r}; choose one of {', '.join(QUANTIZE_MODES)}"
            )
        if self.io_dtype not in IO_DTYPES:
            raise ExportError(
                f"unknown --io-dtype {self.io_dtype!r}; choose one of {', '.join(IO_DTYPES)}"
            )
        if self.io_dtype != "float32" and self.quantize != "int8":
            raise ExportError(
                f"--io-dtype {self.io_dtype} needs --quantize int8 (got --quantize {self.quantize})"
            )
        if int(self.calibration_samples) < 1:
            raise ExportError(
                f"--calibration-samples must be at least 1, got {self.calibration_samples}"
            )
        if not 0.0 <= float(self.min_agreement) <= 1.0:  # also refuses NaN
            raise ExportError(f"min_agreement must lie in [0, 1], got {self.min_agreement}")
        if self.min_estimated_agreement is not None and not 0.0 <= float(self.min_estimated_agreement) <= 1.0:
            raise ExportError(f"--min-estimated-agreement must lie in [0, 1], got {self.min_estimated_agreement}")
        if self.min_estimated_agreement is not None and self.quantize not in ("dynamic", "int8"):
            raise ExportError(f"--min-estimated-agreement needs --quantize dynamic or int8 (got --quantize "
                              f"{self.quantize}): float formats are compared by value")
        if self.atol is not None and not (0 <= float(self.atol) < float("inf")):
            raise ExportError(f"--atol must be a finite number >= 0, got {self.atol}")
        if self.strict_int8 and self.quantize != "int8":
            raise ExportError(f"--strict-int8 needs --quantize int8 (got --quantize {self.quantize})")
        if int(self.float_ops) < 0:
            raise ExportError(f"--float-ops must be 0 or more, got {self.float_ops}")
        if self.opset is not None and int(self.opset) < 7:
            raise ExportError(f"--opset must be 7 or more, got {self.opset}")

    def to_dict(self) -> dict[str, Any]:
        """The options as a JSON-ready dict (what the sidecar records)."""
        return dataclasses.asdict(self)


def normalize_signature(signature: Mapping[str, Any]) -> InputSignature:
    """Return `signature` as {name: (tuple shape, dtype name)}, checked.

    Example:

    ```python
    normalize_signature({"image": ([32, 32, 3], "float32")})
    # {"image": ((32, 32, 3), "float32")}
    ```
    """
    if not signature:
        raise ExportError("the input signature is empty: the model must have named inputs")
    out: InputSignature = {}
    for name, value in signature.items():
        try:
            shape, dtype = value
            shape = tuple(None if d is None else int(d) for d in shape)
            dtype = np.dtype(dtype).name
        except (TypeError, ValueError) as exc:
            raise ExportError(
                f"input signature entry {name!r}: expected (shape, dtype), got {value!r} ({exc})"
            ) from exc
        out[str(name)] = (shape, dtype)
    return out


def signature_to_json(signature: InputSignature) -> dict[str, dict[str, Any]]:
    """The signature as the sidecar stores it: {name: {"shape": [...], "dtype": "..."}}."""
    return {n: {"shape": list(s), "dtype": d} for n, (s, d) in signature.items()}


class Runner:
    """A loaded model, artifact or Keras, that maps named raw inputs to one float32 output.

    Subclasses set `input_names`, `signature` and `format`, and implement `_run` on one batch
    whose arrays already have the right dtypes.

    Example:

    ```python
    runner = zoo_export.runtime.load_artifact("model.tflite")
    probs = runner({"image": images})          # (N, classes) float32, any N
    ```
    """

    format: str = "unknown"
    #: largest batch given to the runtime at once; bigger inputs are split
    max_batch: int = 256

    def __init__(self, signature: InputSignature):
        self.signature: InputSignature = normalize_signature(signature)
        self.input_names: tuple[str, ...] = tuple(self.signature)

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Run on a batch of named inputs; return the model's single output as float32."""
        arrays = self._prepare(inputs)
        n = len(next(iter(arrays.values())))
        if n == 0:
            raise ExportError("cannot run a model on an empty batch")
        outputs = []
        for start in range(0, n, self.max_batch):
            chunk = {k: v[start : start + self.max_batch] for k, v in arrays.items()}
            outputs.append(np.asarray(self._run(chunk), dtype=np.float32))
        return np.concatenate(outputs, axis=0)

    def _prepare(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = set(inputs)
        missing = [n for n in self.input_names if n not in names]
        extra = sorted(names - set(self.input_names))
        if missing or extra:
            raise ExportError(
                f"{self.format} model takes inputs {list(self.input_names)}; "
                f"missing {missing}, unexpected {extra}"
            )
        arrays = {}
        lengths = set()
        for name in self.input_names:
            shape, dtype = self.signature[name]
            array = np.asarray(inputs[name])
            if array.ndim == len(shape):  # one unbatched sample
                array = array[None]
            if array.ndim != len(shape) + 1:
                raise ExportError(
                    f"input {name!r}: expected shape (batch, {', '.join(map(str, shape))}), "
                    f"got {array.shape}"
                )
            arrays[name] = np.ascontiguousarray(array, dtype=dtype)
            lengths.add(array.shape[0])
        if len(lengths) != 1:
            raise ExportError(f"inputs have different batch sizes: {sorted(lengths)}")
        return arrays

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} format={self.format} inputs={list(self.input_names)}>"


class Exporter:
    """One deployment format. Subclass it, set the class attributes, implement both methods.

    Example:

    ```python
    from zoo_export.tflite import exporter
    details = exporter.export(model, "model.tflite", options=ExportOptions(quantize="float16"),
                              input_signature={"image": ((32, 32, 3), "float32")},
                              calibration=None)
    runner = exporter.load("model.tflite")
    ```
    """

    name: ClassVar[str] = ""
    suffix: ClassVar[str] = ""  # ".tflite", ".onnx"; "" for a directory artifact
    description: ClassVar[str] = ""
    quantize_modes: ClassVar[tuple[str, ...]] = ("none",)

    def check_options(self, options: ExportOptions) -> None:
        """Raise ExportError when this format cannot honour `options`."""
        if options.quantize not in self.quantize_modes:
            raise ExportError(
                f"--format {self.name} does not support --quantize {options.quantize}; "
                f"it allows: {', '.join(self.quantize_modes)}"
            )

    def export(
        self,
        model: Any,
        path: str,
        *,
        options: ExportOptions,
        input_signature: InputSignature,
        calibration: Mapping[str, np.ndarray] | None,
    ) -> dict[str, Any]:
        """Write the artifact at exactly `path`; return JSON-ready details for the sidecar."""
        raise NotImplementedError

    def load(self, path: str) -> Runner:
        """Load the artifact at `path` with this format's own runtime."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"
