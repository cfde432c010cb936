"""TFLite (LiteRT) flatbuffers: float32, float16, dynamic-range and full-integer int8.

Conversion goes Keras model -> SavedModel with a named `serving_default` signature (Keras'
`ExportArchive`, as `model.export(format="litert")` does) -> `tf.lite.TFLiteConverter`
with TFLite built-in ops only, so the artifact runs on the plain LiteRT interpreter (no Flex
delegate). The TFLite signature keeps the Keras input names and the named output.

Modes (`ExportOptions.quantize`):

- "none": float32.
- "float16": float16 weights, float32 compute on CPU (about half the size).
- "dynamic": int8 weights, activations quantised on the fly; no calibration data.
- "int8": full-integer weights and activations, calibrated on `calibration` (the first
  `options.calibration_samples` samples). Input/output stay float32 unless `io_dtype` is
  "int8"/"uint8"; integer inputs (token ids) are never quantised.

The runner uses the LiteRT interpreter's signature runner with named inputs (the
interpreter's own input order is not the signature's), resizes the batch dimension per call,
and quantises/dequantises int8 input and output with each tensor's scale and zero point.

Example:

```python
from zoo_export.tflite import exporter
exporter.export(model, "model.tflite", options=ExportOptions(quantize="int8"),
                input_signature={"image": ((32, 32, 3), "float32")},
                calibration={"image": train_images[:200]})
probs = exporter.load("model.tflite")({"image": images})
```
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from typing import Any, Mapping

import numpy as np

from zoo_export.api import Exporter, ExportOptions, InputSignature, Runner
from zoo_export.errors import ExportError, MissingDependencyError

logger = logging.getLogger(__name__)

_LITERT_HINT = "LiteRT is not installed: pip install ai-edge-litert"


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise MissingDependencyError(_LITERT_HINT) from exc
    return Interpreter


def _quant_params(detail: dict[str, Any]) -> tuple[float, int] | None:
    """(scale, zero_point) of a per-tensor quantised int8/uint8 tensor, else None."""
    if np.dtype(detail["dtype"]) not in (np.dtype(np.int8), np.dtype(np.uint8)):
        return None
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if not scale:
        return None
    return float(scale), int(zero_point)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: Any) -> np.ndarray:
    """Float -> int8/uint8 with `q = round(x / scale) + zero_point`, clipped to the type."""
    info = np.iinfo(dtype)
    q = np.round(np.asarray(x, dtype=np.float32) / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Int8/uint8 -> float32 with `x = (q - zero_point) * scale`."""
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)


class TFLiteRunner(Runner):
    """Runs a .tflite file with the LiteRT interpreter's signature runner.

    Args:
        path: the .tflite file.
        num_threads: interpreter threads (None: the runtime's default).
    """

    format = "tflite"

    def __init__(self, path: str, num_threads: int | None = None):
        interpreter_cls = _interpreter_class()
        try:
            self._interpreter = interpreter_cls(model_path=str(path), num_threads=num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ExportError(f"LiteRT cannot load {path}: {exc}") from exc
        signatures = self._interpreter.get_signature_list()
        if not signatures:
            raise ExportError(f"{path} has no signature; re-export it with zoo export")
        key = "serving_default" if "serving_default" in signatures else next(iter(signatures))
        self._runner = self._interpreter.get_signature_runner(key)
        self._inputs = self._runner.get_input_details()
        outputs = self._runner.get_output_details()
        if len(outputs) != 1:
            raise ExportError(f"{path} has {len(outputs)} outputs; expected one")
        self.output_name, self._output = next(iter(outputs.items()))
        self._input_quant = {n: _quant_params(d) for n, d in self._inputs.items()}
        self._output_quant = _quant_params(self._output)
        self._batched = True  # False once a batch resize failed: then one sample at a time
        # The signature reports the raw input: float32 where the artifact takes int8 pixels.
        signature = {}
        for name, detail in sorted(self._inputs.items()):
            dtype = np.dtype(detail["dtype"])
            if self._input_quant[name] is not None:
                dtype = np.dtype(np.float32)
            shape = tuple(int(d) if d >= 0 else None for d in detail["shape_signature"][1:])
            signature[name] = (shape, dtype.name)
        super().__init__(signature)

    @property
    def input_details(self) -> dict[str, dict[str, Any]]:
        """The LiteRT input details by signature name (dtype, quantisation...)."""
        return self._inputs

    def _feed(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {}
        for name, array in inputs.items():
            detail = self._inputs[name]
            params = self._input_quant[name]
            if params is not None:
                feed[name] = quantize(array, params[0], params[1], detail["dtype"])
            else:
                feed[name] = np.ascontiguousarray(array, dtype=detail["dtype"])
        return feed

    def _invoke(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        out = self._runner(**feed)[self.output_name]
        if self._output_quant is not None:
            return dequantize(out, *self._output_quant)
        return np.asarray(out, dtype=np.float32)

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if not getattr(self, "_warmed", False):
            # The first invoke applies the XNNPACK delegate, which LiteRT announces on fd 2.
            from zoo_export.native import quiet_stderr

            self._warmed = True
            with quiet_stderr():
                return self._run(inputs)
        feed = self._feed(inputs)
        n = len(next(iter(feed.values())))
        if self._batched and n > 1:
            try:
                return self._invoke(feed)
            except (RuntimeError, ValueError) as exc:
                # Some graphs fix the batch at 1 (a reshape with a constant shape).
                logger.info("LiteRT cannot run a batch of %d (%s); running one at a time", n, exc)
                self._batched = False
        return np.concatenate(
            [self._invoke({k: v[i : i + 1] for k, v in feed.items()}) for i in range(n)], axis=0
        )


#: what an int8 artifact that is not full-integer int8 holds (the sidecar's `quantization.scheme`)
SCHEME_FLOAT_OPS = "int8 with some operations in float"
SCHEME_INT16 = "int8 weights, int16 activations"
#: dynamic range: LiteRT's hybrid kernels quantise each activation to int8 as they run
SCHEME_DYNAMIC = "int8 weights, activations quantised at run time"
#: weight-only: each int8 weight is dequantised to float before its operation, which computes in float
SCHEME_WEIGHT_ONLY = "int8 weights, float compute"


#: operations whose weights weight-only int8 leaves in float: a depthwise kernel has one filter per
#: channel, a small share of the weights (1% of MobileNetV2's bytes) but, with batch norm folded into
#: it, the error that flips decisions (a one-epoch MobileNetV2 probe: 0.867 top-1 agreement with
#: depthwise kernels in int8 alone, 0.956 with every other kernel in int8)
WEIGHT_ONLY_FLOAT_OPS = ("DEPTHWISE_CONV_2D",)


def weight_only_int8(float_flatbuffer: bytes) -> bytes:
    """A float32 flatbuffer with its weights stored as int8 (per channel) and dequantised to float
    in the graph: ai-edge-quantizer's weight-only recipe, `WEIGHT_ONLY_FLOAT_OPS` left in float.
    The arithmetic is float32's on weights rounded to 8 bits, nothing else."""
    try:
        from ai_edge_quantizer import qtyping, quantizer, recipe_manager
        from ai_edge_quantizer.algorithm_manager import AlgorithmName
    except ImportError as exc:
        raise ExportError(
            "int8 weights with float compute need ai-edge-quantizer: pip install ai-edge-quantizer"
        ) from exc
    from zoo_export.native import quiet_stderr

    recipe = recipe_manager.RecipeManager()
    recipe.add_weight_only_config(regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED, num_bits=8)
    for op in WEIGHT_ONLY_FLOAT_OPS:  # the later rule wins
        recipe.add_quantization_config(regex=".*", operation_name=qtyping.TFLOperationName(op),
                                       algorithm_key=AlgorithmName.NO_QUANTIZE)
    try:
        with quiet_stderr():
            result = quantizer.Quantizer(bytearray(float_flatbuffer), recipe.get_quantization_recipe()).quantize(
                enable_progress_report=False
            )
    except Exception as exc:  # the quantizer raises ValueError, RuntimeError... on ops it does not know
        text = " ".join(str(exc).split())[:300]
        raise ExportError(f"ai-edge-quantizer weight-only int8 failed: {text}") from exc
    return bytes(result.quantized_model)


def _representative_dataset(
    calibration: Mapping[str, np.ndarray], signature: InputSignature, count: int
) -> Any:
    def generate() -> Any:
        from zoo_export.progress import track

        for i in track(range(count), "calibrating int8", unit="samples"):
            yield {
                name: np.asarray(calibration[name][i : i + 1], dtype=dtype)
                for name, (_, dtype) in signature.items()
            }

    return generate


class TFLiteExporter(Exporter):
    """Exports a .tflite flatbuffer for LiteRT, optionally quantised."""

    name = "tflite"
    suffix = ".tflite"
    description = "TFLite/LiteRT flatbuffer; --quantize none|float16|dynamic|int8"
    quantize_modes = ("none", "float16", "dynamic", "int8")

    def export(
        self,
        model: Any,
        path: str,
        *,
        options: ExportOptions,
        input_signature: InputSignature,
        calibration: Mapping[str, np.ndarray] | None = None,
    ) -> dict[str, Any]:
        """Convert and write the .tflite file at `path`; return conversion details."""
        import tensorflow as tf

        from zoo_export import _keras

        self.check_options(options)
        _interpreter_class()  # fail before converting when the runtime is missing
        out_name = _keras.output_name(model)
        details: dict[str, Any] = {
            "converter": "keras.export.ExportArchive -> tf.lite.TFLiteConverter.from_saved_model",
            "output_name": out_name,
            "quantize": options.quantize,
        }
        with tempfile.TemporaryDirectory(prefix="zoo-export-") as scratch:
            _keras.write_serving_savedmodel(model, scratch, input_signature, out_name)

            def converter() -> Any:
                conv = tf.lite.TFLiteConverter.from_saved_model(
                    scratch, signature_keys=[_keras.SIGNATURE_KEY]
                )
                conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
                if options.quantize != "none":
                    conv.optimizations = [tf.lite.Optimize.DEFAULT]
                if options.quantize == "float16":
                    conv.target_spec.supported_types = [tf.float16]
                return conv

            if options.quantize == "int8":
                flatbuffer = self._convert_int8(
                    converter, options, input_signature, calibration, details
                )
            else:
                flatbuffer = _convert(converter())
        with open(path, "wb") as f:
            f.write(flatbuffer)
        details["io"] = self.io_details(path)
        return details

    def float_fallback(
        self,
        model: Any,
        *,
        options: ExportOptions,
        input_signature: InputSignature,
        calibration: Mapping[str, np.ndarray],
        check: Any,
        reference: Any = None,
    ) -> tuple[bytes | None, dict[str, Any]]:
        """The int8 artifact closest to full-integer that lets `check` pass, tried in this order:

        1. int8 with the fewest operations in float, up to `options.float_ops` (`zoo_export.int8`);
        2. int8 weights with int16 activations (TFLite's 16x8 mode), the whole model;
        3. int8 weights, activations quantised at run time (dynamic range), the whole model;
        4. int8 weights dequantised to float, float compute (weight-only), the whole model.

        Returns (the flatbuffer, or None when none passed; the record for the sidecar, whose
        `scheme` says which one passed). `reference` runs the Keras model (a `KerasRunner`
        of `model` when None).
        """
        import tensorflow as tf

        from zoo_export import _keras
        from zoo_export.int8 import select_float_ops

        if options.io_dtype != "float32":
            raise ExportError(
                f"full-integer int8 fell short and the float-op fallback keeps float32 inputs and outputs; "
                f"pass --io-dtype float32 instead of {options.io_dtype}, or --strict-int8 to stop here"
            )
        out_name = _keras.output_name(model)
        count = min(int(options.calibration_samples), min(len(calibration[n]) for n in input_signature))
        with tempfile.TemporaryDirectory(prefix="zoo-export-") as scratch:
            _keras.write_serving_savedmodel(model, scratch, input_signature, out_name)

            def converter() -> Any:
                conv = tf.lite.TFLiteConverter.from_saved_model(scratch, signature_keys=[_keras.SIGNATURE_KEY])
                conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
                conv.optimizations = [tf.lite.Optimize.DEFAULT]
                conv.representative_dataset = _representative_dataset(calibration, input_signature, count)
                return conv

            result = select_float_ops(
                converter,
                signature=input_signature,
                calibration={n: np.asarray(calibration[n][:count]) for n in input_signature},
                reference=reference or _keras.KerasRunner(model),
                check=check,
                max_float_ops=int(options.float_ops),
            )
            record = result.record
            for t in record["tries"]:
                t["scheme"] = SCHEME_FLOAT_OPS
            if result.flatbuffer is not None:
                record["scheme"] = SCHEME_FLOAT_OPS
                return result.flatbuffer, record
            # No handful of float operations is enough: the error is spread over the model. Whole-
            # model schemes next, each verified: 16-bit activations, activations quantised at run time,
            # then float compute on int8-stored weights (the nearest to float32 that int8 files get).
            for scheme in (SCHEME_INT16, SCHEME_DYNAMIC, SCHEME_WEIGHT_ONLY):
                conv = converter()
                if scheme == SCHEME_INT16:
                    conv.target_spec.supported_ops = [
                        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
                        tf.lite.OpsSet.TFLITE_BUILTINS,
                    ]
                else:
                    conv.representative_dataset = None
                    if scheme == SCHEME_WEIGHT_ONLY:
                        conv.optimizations = []
                try:
                    flatbuffer = _convert(conv)
                    if scheme == SCHEME_WEIGHT_ONLY:
                        flatbuffer = weight_only_int8(flatbuffer)
                except ExportError as exc:
                    record["tries"].append({"scheme": scheme, "passed": False, "error": str(exc)[:200]})
                    continue
                report = check(flatbuffer)
                record["tries"].append({"scheme": scheme, "agreement": report.agreement,
                                        "estimated_agreement": report.estimated_agreement, "passed": bool(report.passed),
                                        "size_bytes": len(flatbuffer)})
                logger.info("%s: %s", scheme, report.reason)
                if report.passed:
                    record.update(scheme=scheme, float_ops=[], passed=True)
                    if scheme == SCHEME_WEIGHT_ONLY:
                        record["float_weights"] = list(WEIGHT_ONLY_FLOAT_OPS)
                    return flatbuffer, record
        record["scheme"] = None
        return None, record

    @staticmethod
    def _convert_int8(
        make_converter: Any,
        options: ExportOptions,
        signature: InputSignature,
        calibration: Mapping[str, np.ndarray] | None,
        details: dict[str, Any],
    ) -> bytes:
        import tensorflow as tf

        if calibration is None:
            raise ExportError(
                "--quantize int8 needs calibration data (representative raw inputs); "
                "use --quantize dynamic to quantise without any"
            )
        missing = [n for n in signature if n not in calibration]
        if missing:
            raise ExportError(f"calibration data lacks inputs {missing}")
        available = min(len(calibration[n]) for n in signature)
        count = min(int(options.calibration_samples), available)
        if count < options.calibration_samples:
            logger.warning(
                "int8 calibration: %d samples asked, %d available", options.calibration_samples,
                available,
            )
        details["calibration_samples"] = count
        details["io_dtype"] = options.io_dtype
        io_type = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[options.io_dtype]

        def build(ops: list[Any]) -> Any:
            conv = make_converter()
            conv.representative_dataset = _representative_dataset(calibration, signature, count)
            conv.target_spec.supported_ops = ops
            conv.inference_input_type = io_type
            conv.inference_output_type = io_type
            return conv

        try:
            flatbuffer = _convert(build([tf.lite.OpsSet.TFLITE_BUILTINS_INT8]))
            details["integer_only"] = True
            return flatbuffer
        except ExportError as exc:
            if options.io_dtype != "float32":
                raise ExportError(
                    f"full-integer int8 conversion failed ({exc}); an op has no int8 kernel. "
                    "Try --io-dtype float32 (float fallback) or --quantize dynamic"
                ) from exc
            logger.warning("full-integer int8 failed (%s); allowing float ops where needed", exc)
        flatbuffer = _convert(
            build([tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS])
        )
        details["integer_only"] = False
        return flatbuffer

    @staticmethod
    def io_details(path: str) -> dict[str, Any]:
        """Input/output dtypes and quantisation parameters as LiteRT reports them."""
        interpreter = _interpreter_class()(model_path=str(path))
        runner = interpreter.get_signature_runner()

        def describe(detail: dict[str, Any]) -> dict[str, Any]:
            entry: dict[str, Any] = {"dtype": np.dtype(detail["dtype"]).name}
            params = _quant_params(detail)
            if params is not None:
                entry["scale"], entry["zero_point"] = params
            return entry

        return {
            "inputs": {n: describe(d) for n, d in sorted(runner.get_input_details().items())},
            "outputs": {n: describe(d) for n, d in runner.get_output_details().items()},
        }

    def load(self, path: str, num_threads: int | None = None) -> TFLiteRunner:
        """Load a .tflite file into a LiteRT signature runner."""
        return TFLiteRunner(path, num_threads=num_threads)


def _convert(converter: Any) -> bytes:
    """Run a TFLite converter; converter failures become ExportError with their first lines."""
    from zoo_export.native import quiet_stderr

    try:
        # The converter's C++ core prints lines such as "fully_quantize: 0, inference_type: 6" on fd 2.
        with warnings.catch_warnings(), quiet_stderr():
            # int8 calibration runs TF's own deprecated tf.lite.Interpreter internally.
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            return converter.convert()
    except Exception as exc:  # the converter raises ConverterError, RuntimeError, ValueError...
        text = " ".join(str(exc).split())[:500]
        raise ExportError(f"TFLite conversion failed: {text}") from exc


exporter = TFLiteExporter()
