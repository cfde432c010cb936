"""Selective int8: keep the fewest operations in float until the artifact verifies.

Full-integer int8 (TFLite's converter) is tried first. When it falls short of the agreement
goal, `select_float_ops` quantises the model again with TFLite's own quantiser, leaving chosen
operations out of quantisation, and searches for the operations to keep in float:

1. Calibrate once on the calibration rows (activation ranges do not depend on the choice).
2. Rank every tensor by what keeping it in float buys: its producer and all its consumers stay
   in float (an "island"; a float consumer fed by an int8 producer still sees the producer's
   rounding, so one operation alone often buys nothing) and the error of the artifact against
   Keras is measured on rows of the calibration set (the training split, never the
   verification samples).
   Tensors nearest the output are ranked first, within `RANK_SECONDS`.
3. Keep islands in float in that order, one more at a time, until the artifact passes the
   caller's verification on the validation samples or the cap on float operations is reached.

Everything not in float stays int8 (weights per channel, activations per tensor). Inputs and
outputs stay float32. The search's record (`SelectiveResult.record`) goes into the sidecar:
which operations stayed in float, the tries, and the size and latency cost.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np


logger = logging.getLogger(__name__)

#: calibration rows the ranking compares artifact and Keras on
SELECTION_ROWS = 32
#: seconds the ranking may take; tensors nearest the output are ranked first (a large graph,
#: such as a 6-layer transformer's, has more than fit, and the record says how many were ranked)
RANK_SECONDS = 150.0
RANKING = "island gain: error drop on calibration rows when a tensor's producer and consumers stay in float"


@dataclasses.dataclass(frozen=True)
class Op:
    """One operation of the float flatbuffer's main subgraph."""

    index: int
    kind: str          # TFLite op name, e.g. "CONV_2D"
    tensors: tuple[str, ...]  # names of its output tensors (what the quantiser's denylist takes)
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "op": self.kind, "tensor": " ".join(self.tensors)}


@dataclasses.dataclass
class SelectiveResult:
    """What the search kept in float and what it cost."""

    flatbuffer: bytes | None
    float_ops: list[Op]
    record: dict[str, Any]


def list_ops(flatbuffer: bytes) -> list[Op]:
    """The operations of a .tflite flatbuffer's main subgraph, in execution order."""
    from zoo_export.tflite import _interpreter_class

    interpreter = _interpreter_class()(model_content=bytes(flatbuffer))
    names = {d["index"]: d["name"] for d in interpreter.get_tensor_details()}
    ops = []
    for detail in interpreter._get_ops_details():  # noqa: SLF001 - LiteRT's only op listing
        outputs = tuple(int(t) for t in detail["outputs"] if t >= 0)
        ops.append(Op(int(detail["index"]), str(detail["op_name"]), tuple(names.get(t, "") for t in outputs),
                      tuple(int(t) for t in detail["inputs"] if t >= 0), outputs))
    return ops


def islands(ops: Sequence[Op]) -> list[tuple[int, ...]]:
    """For each tensor that an operation produces: the producer and every consumer, sorted."""
    consumers: dict[int, list[int]] = {}
    for op in ops:
        for t in op.inputs:
            consumers.setdefault(t, []).append(op.index)
    seen, out = set(), []
    for op in ops:
        for t in op.outputs:
            group = tuple(sorted({op.index, *consumers.get(t, [])}))
            if group not in seen:
                seen.add(group)
                out.append(group)
    return out


class SelectiveQuantizer:
    """int8 quantisation with chosen operations left in float, by TFLite's own quantiser.

    The converter calibrates once (as `tf.lite.experimental.QuantizationDebugger` does: a float
    model carrying activation ranges); each `quantize` call then runs only the quantisation pass
    with the chosen operations denylisted, in well under a second.
    """

    def __init__(self, make_converter: Callable[[], Any]):
        from zoo_export.tflite import _convert

        conv = make_converter()
        conv.experimental_mlir_quantizer = True
        conv._experimental_calibrate_only = True  # noqa: SLF001 - the debugger's own switch
        self._per_channel = not getattr(conv, "_experimental_disable_per_channel", False)
        self.calibrated = _convert(conv)
        self.ops = list_ops(self.calibrated)

    def quantize(self, float_ops: Sequence[int] = ()) -> bytes:
        """int8 everywhere except the operations at `float_ops` (indices into `self.ops`)."""
        from tensorflow.lite.python import convert

        from zoo_export.native import quiet_stderr

        nodes = [name for i in sorted(set(float_ops)) for name in self.ops[i].tensors if name]
        with quiet_stderr():
            return bytes(convert.mlir_quantize(
                self.calibrated, disable_per_channel=not self._per_channel, fully_quantize=False,
                enable_numeric_verify=False, denylisted_ops=None, denylisted_nodes=nodes or None,
            ))


def decision_space(outputs: np.ndarray) -> np.ndarray:
    """Outputs where errors weigh as much as they move decisions: log-odds for probabilities.

    A score of 0.003 against a threshold of 0.0033 differs from Keras by far less than a score
    of 0.6 against 0.9, yet it flips the decision and the other does not; in log-odds both
    errors weigh what they do at the threshold. Outputs outside [0, 1] (logits, regression)
    are compared as they are.
    """
    x = np.asarray(outputs, dtype=np.float64)
    if x.size and np.all((x >= 0) & (x <= 1)):
        p = np.clip(x, 1e-6, 1 - 1e-6)
        return np.log(p) - np.log1p(-p)
    return x


def _rows(data: Mapping[str, np.ndarray], signature: Mapping[str, tuple[tuple[int, ...], str]]
          ) -> list[dict[str, np.ndarray]]:
    n = min(len(data[name]) for name in signature)
    return [{name: np.asarray(data[name][i : i + 1], dtype=dtype) for name, (_, dtype) in signature.items()}
            for i in range(n)]


def select_float_ops(
    make_converter: Callable[[], Any],
    *,
    signature: Mapping[str, tuple[tuple[int, ...], str]],
    calibration: Mapping[str, np.ndarray],
    reference: Callable[[Mapping[str, np.ndarray]], np.ndarray],
    check: Callable[[bytes], Any],
    max_float_ops: int,
    rank_seconds: float = RANK_SECONDS,
) -> SelectiveResult:
    """Search for the fewest operations to keep in float (see the module docstring).

    Args:
        make_converter: a TFLite converter of the model with int8 optimisation and a
            representative dataset set.
        signature: {input name: (shape, dtype)}.
        calibration: {input name: rows} for the activation ranges; its first `SELECTION_ROWS`
            rows (spread over the set) also rank the islands.
        reference: Keras' outputs for {input name: rows}.
        check: verifies a candidate flatbuffer; returns an object with `.passed` and `.agreement`.
        max_float_ops: the most operations that may stay in float.
        rank_seconds: time the ranking may take (tensors nearest the output first).

    Returns:
        `SelectiveResult`: the passing flatbuffer (None when none passed within the cap), the
        float operations and the record for the sidecar.
    """
    from zoo_export.progress import track
    from zoo_export.tflite import TFLiteRunner

    rows = _rows(calibration, signature)
    search = SelectiveQuantizer(make_converter)
    step = max(1, len(rows) // SELECTION_ROWS)
    chosen_rows = rows[::step][:SELECTION_ROWS]
    selection = {name: np.concatenate([r[name] for r in chosen_rows]) for name in signature}
    target = decision_space(reference(selection))

    with tempfile.TemporaryDirectory(prefix="zoo-int8-") as scratch:
        path = Path(scratch) / "candidate.tflite"

        def error(float_ops: Sequence[int]) -> float:
            path.write_bytes(search.quantize(float_ops))
            out = TFLiteRunner(str(path))(selection)
            return float(np.mean((decision_space(np.reshape(out, target.shape)) - target) ** 2))

        base = error(())
        groups = [g for g in reversed(islands(search.ops)) if len(g) <= max_float_ops]
        gains = []
        started = time.monotonic()
        for group in track(groups, "ranking operations for float fallback", unit="tensors"):
            if time.monotonic() - started > rank_seconds:
                logger.warning("ranked %d of %d tensors in %.0f s; the rest stay int8", len(gains), len(groups),
                               rank_seconds)
                break
            gains.append((base - error(group), group))
        gains.sort(key=lambda g: (-g[0], len(g[1]), g[1]))

        tries: list[dict[str, Any]] = []
        kept: list[int] = []

        def attempt(float_ops: list[int]) -> tuple[bytes, Any]:
            flatbuffer = search.quantize(float_ops)
            report = check(flatbuffer)
            tries.append({"float_ops": len(float_ops), "agreement": getattr(report, "agreement", None),
                          "estimated_agreement": getattr(report, "estimated_agreement", None),
                          "passed": bool(report.passed), "size_bytes": len(flatbuffer)})
            logger.info("int8 with %d float ops: %s", len(float_ops), report.reason)
            return flatbuffer, report

        flatbuffer, report = attempt([])
        current = base
        for gain, group in gains:
            if report.passed or gain <= 0:
                break
            grown = sorted(set(kept) | set(group))
            if len(grown) == len(kept) or len(grown) > max_float_ops:
                continue
            # gains were measured one island at a time; keep an island only if it still helps
            # together with those already kept (measured on the calibration rows, not the check's)
            together = error(grown)
            if together >= current:
                continue
            kept, current = grown, together
            flatbuffer, report = attempt(kept)
    record = {
        "tool": "tensorflow " + _version("tensorflow") + " TFLite quantiser, operations denylisted",
        "ranking": RANKING,
        "selection_rows": len(chosen_rows),
        "tensors_ranked": len(gains),
        "tensors_considered": len(groups),
        "max_float_ops": max_float_ops,
        "ops_in_model": len(search.ops),
        "float_ops": [search.ops[i].to_json() for i in kept],
        "tries": tries,
        "passed": bool(report.passed),
    }
    return SelectiveResult(flatbuffer if report.passed else None, [search.ops[i] for i in kept], record)


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
