"""ONNX through tf2onnx, run with ONNX Runtime.

The model is traced as a `tf.function` with an explicit, named `tf.TensorSpec` per input and
converted with `tf2onnx.convert.from_function` (`from_keras` crashed in tf2onnx's transpose
optimizer on a CNN). The ONNX graph keeps the Keras input names and the named output, and
its batch dimension is dynamic, named "batch".

ONNX Runtime lists inputs in the graph's order, which need not be the Keras order (tf2onnx
may sort them): the runner always feeds by name.

Example:

```python
from zoo_export.onnx import exporter
exporter.export(model, "model.onnx", options=ExportOptions(opset=17),
                input_signature={"image": ((32, 32, 3), "float32")}, calibration=None)
probs = exporter.load("model.onnx")({"image": images})
```
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Mapping

import numpy as np

from zoo_export.api import Exporter, ExportOptions, InputSignature, Runner
from zoo_export.errors import ExportError, MissingDependencyError

logger = logging.getLogger(__name__)

_HINT = "ONNX export needs tf2onnx and onnxruntime: pip install tf2onnx onnxruntime"

# ONNX Runtime type strings -> numpy dtypes of the inputs we feed
_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


def _import_converter() -> tuple[Any, Any]:
    try:
        import onnx
        import tf2onnx
    except ImportError as exc:
        raise MissingDependencyError(_HINT) from exc
    _patch_tf2onnx()
    return onnx, tf2onnx


def _patch_tf2onnx() -> None:
    """Apply Keras' numpy-2 fixes to tf2onnx when this Keras ships them."""
    try:
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
    except ImportError:
        logger.debug("keras has no tf2onnx patch; using tf2onnx as is")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # its `hasattr(np, "object")` probe
        patch_tf2onnx()


def _import_runtime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise MissingDependencyError(_HINT) from exc
    return onnxruntime


class ONNXRunner(Runner):
    """Runs a .onnx file with ONNX Runtime on the CPU.

    Args:
        path: the .onnx file.
        num_threads: intra-op threads (None: ONNX Runtime's default).
    """

    format = "onnx"

    def __init__(self, path: str, num_threads: int | None = None):
        ort = _import_runtime()
        session_options = ort.SessionOptions()
        if num_threads:
            session_options.intra_op_num_threads = int(num_threads)
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=session_options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ExportError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        outputs = self._session.get_outputs()
        if len(outputs) != 1:
            raise ExportError(f"{path} has {len(outputs)} outputs; expected one")
        self.output_name = outputs[0].name
        signature = {}
        for arg in self._session.get_inputs():
            if arg.type not in _ORT_TYPES:
                raise ExportError(f"{path}: input {arg.name!r} has unsupported type {arg.type}")
            shape = tuple(d if isinstance(d, int) else None for d in arg.shape[1:])
            signature[arg.name] = (shape, _ORT_TYPES[arg.type])
        super().__init__(signature)

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run([self.output_name], inputs)[0]


def _finish_graph(model_proto: Any, signature: InputSignature, out_name: str) -> None:
    """Give the graph the Keras input names, the named output and a "batch" dimension."""
    graph = model_proto.graph
    initializers = {init.name for init in graph.initializer}
    renames: dict[str, str] = {}
    graph_inputs = [i for i in graph.input if i.name not in initializers]
    for value in graph_inputs:
        if value.name not in signature:
            base = value.name.split(":")[0]
            if base in signature:
                renames[value.name] = base
    if len(graph.output) != 1:
        raise ExportError(f"the ONNX graph has {len(graph.output)} outputs; expected one")
    if graph.output[0].name != out_name:
        renames[graph.output[0].name] = out_name
    if renames:
        for node in graph.node:
            node.input[:] = [renames.get(n, n) for n in node.input]
            node.output[:] = [renames.get(n, n) for n in node.output]
        for value in list(graph_inputs) + list(graph.output):
            value.name = renames.get(value.name, value.name)
    names = {v.name for v in graph_inputs}
    if names != set(signature):
        raise ExportError(
            f"the ONNX inputs came out as {sorted(names)}; expected {sorted(signature)}"
        )
    for value in list(graph_inputs) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        if len(dims) and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"


class ONNXExporter(Exporter):
    """Exports a .onnx file (opset selectable, dynamic batch) for ONNX Runtime and others."""

    name = "onnx"
    suffix = ".onnx"
    description = "ONNX graph via tf2onnx, dynamic batch; run with ONNX Runtime"
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
        """Convert and write the .onnx file at `path`; return conversion details."""
        self.check_options(options)
        onnx, tf2onnx = _import_converter()
        _import_runtime()  # the artifact is verified with it: fail before converting

        from zoo_export import _keras

        out_name = _keras.output_name(model)
        function = _keras.serving_function(model, input_signature, out_name)
        specs = list(_keras.tensor_specs(input_signature).values())
        try:
            model_proto, _ = tf2onnx.convert.from_function(
                function, input_signature=specs, opset=options.opset
            )
        except Exception as exc:  # tf2onnx raises ValueError, KeyError, RuntimeError...
            text = " ".join(str(exc).split())[:500]
            raise ExportError(
                f"tf2onnx could not convert the model ({type(exc).__name__}: {text}); "
                "try another --opset"
            ) from exc
        _finish_graph(model_proto, input_signature, out_name)
        try:
            onnx.checker.check_model(model_proto)
        except onnx.checker.ValidationError as exc:
            raise ExportError(f"tf2onnx produced an invalid ONNX graph: {exc}") from exc
        onnx.save_model(model_proto, str(path))
        opsets = {imp.domain or "ai.onnx": imp.version for imp in model_proto.opset_import}
        return {
            "converter": "tf2onnx.convert.from_function",
            "tf2onnx_version": tf2onnx.__version__,
            "opset": opsets.get("ai.onnx"),
            "opset_imports": opsets,
            "output_name": out_name,
            "input_names": [v.name for v in model_proto.graph.input],
        }

    def load(self, path: str, num_threads: int | None = None) -> ONNXRunner:
        """Load a .onnx file into an ONNX Runtime CPU session."""
        return ONNXRunner(path, num_threads=num_threads)


exporter = ONNXExporter()
