"""Export benchmark: artifact sizes, runtime latencies and int8 accuracy, side by side in one run.

A MobileNetV2 (alpha 1.0, 96x96x3, random init) is trained briefly on separable synthetic
images, exported through `zoo_export.export.export_model` (verified) to SavedModel, ONNX and
TFLite in every quantisation mode, and measured:

- size of each TFLite mode / float32 TFLite          (goal: int8 <= 0.30)
- LiteRT latency of each mode / float32 TFLite       (reported)
- ONNX Runtime latency / SavedModel latency, batch 1 (goal: <= 0.8)
- accuracy of each TFLite mode on held-out data, change from Keras in points

Latencies are measured alternating between the runtimes in every repeat (so machine load
hits all of them alike): each repeat times `calls` calls per runtime and keeps the mean; the
table shows the median over repeats with min and max, and ratios are taken repeat by repeat.

Run: `python benchmarks/export.py [--small] [--json results.json]`, or from Python
`main(small=True)`, which returns the results as a dict and prints the table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from _common import summary

logger = logging.getLogger("benchmarks.export")

IMAGE_SIZE = 96
N_CLASSES = 4
ALPHA = 1.0
MODES = ("none", "float16", "dynamic", "int8")
GOALS = {"int8_size_ratio": 0.30, "onnxruntime_over_savedmodel": 0.8}


def synthetic_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw 0..255 images; class k has a bright, class-coloured patch in quadrant k."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_CLASSES, n)
    images = rng.uniform(0, 100, (n, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    half = IMAGE_SIZE // 2
    colours = np.array([[1, 0.3, 0.3], [0.3, 1, 0.3], [0.3, 0.3, 1], [1, 1, 0.3]], "float32")
    for i, label in enumerate(labels):
        r, c = divmod(int(label), 2)
        patch = rng.uniform(30, 150) * colours[label]  # some patches faint: not all easy
        images[i, r * half + 6 : r * half + half - 6, c * half + 6 : c * half + half - 6] += patch
    return np.clip(images, 0, 255), labels


def build_model() -> Any:
    """MobileNetV2 (alpha `ALPHA`) on raw pixels: a Rescaling layer in front, softmax head."""
    import keras

    backbone = keras.applications.MobileNetV2(
        input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), alpha=ALPHA, weights=None, classes=N_CLASSES,
        classifier_activation="softmax",
    )
    for layer in backbone.layers:  # so that a short training run settles the BN statistics
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    outputs = backbone(x)
    return keras.Model(inputs, outputs, name="mobilenetv2_bench")


def tflite_composition(path: str) -> dict[str, int]:
    """Bytes of a .tflite file by what they hold: constant tensors by type, and quantisation
    parameters (per-channel scales as float32, zero points as int64, as the schema stores
    them)."""
    from ai_edge_litert import schema_py_generated as schema

    buf = Path(path).read_bytes()
    model = schema.Model.GetRootAsModel(buf, 0)
    type_names = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    out: dict[str, int] = {"file": len(buf), "quant_params": 0}
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for i in range(graph.TensorsLength()):
            tensor = graph.Tensors(i)
            buffer = model.Buffers(tensor.Buffer())
            size = buffer.DataLength() if buffer is not None else 0
            if size:
                key = f"{type_names.get(tensor.Type(), tensor.Type())}_constants"
                out[key] = out.get(key, 0) + size
            quant = tensor.Quantization()
            if quant is not None:
                out["quant_params"] += 4 * quant.ScaleLength() + 8 * quant.ZeroPointLength()
    return out


def _time_calls(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1000.0


def measure_alternating(
    runners: dict[str, Callable[[], Any]], repeats: int, calls: int
) -> dict[str, list[float]]:
    """Per-call latency in ms for each runner, one mean per repeat, runners interleaved."""
    for fn in runners.values():  # warm-up: first-call allocation and graph tracing
        fn()
        fn()
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, fn in runners.items():
            times[name].append(_time_calls(fn, calls))
    return times


def _ratio(times: dict[str, list[float]], num: str, den: str) -> dict[str, float]:
    return summary([a / b for a, b in zip(times[num], times[den])])


def _rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The results as rows of the benchmarks page (see run_all.py)."""

    def fixed(value: float) -> dict[str, float]:
        return {"median": value, "min": value, "max": value, "n": 1}

    rows = []
    for m in MODES:
        if m == "none":
            continue
        size = results["tflite_size_ratio"][m]
        rows.append({"benchmark": f"export tflite {m} size", "compared": f"{m} / float32 file size",
                     "ratio": fixed(size), "goal": "<= 0.30" if m == "int8" else "reported",
                     "passed": size <= GOALS["int8_size_ratio"] if m == "int8" else None})
        rows.append({"benchmark": f"export tflite {m} latency", "compared": f"LiteRT {m} / float32 latency, batch 1",
                     "ratio": results["litert_latency_ratio"][m], "goal": "reported", "passed": None})
    rows.append({"benchmark": "export onnxruntime latency", "compared": "ONNX Runtime / SavedModel latency, batch 1",
                 "ratio": results["onnxruntime_over_savedmodel"], "goal": "<= 0.8",
                 "passed": results["goals"]["onnxruntime_over_savedmodel"]["met"]})
    onnx_diff = results["max_abs_diff_vs_keras"].get("onnx/none")
    if onnx_diff is not None:
        rows.append({"benchmark": "export onnx max abs diff", "compared": "max |ONNX Runtime - Keras| (probabilities)",
                     "ratio": fixed(onnx_diff), "goal": "<= 1e-4", "passed": onnx_diff <= 1e-4})
    change = results["accuracy_change_points"]["int8"]
    rows.append({"benchmark": "export int8 accuracy", "compared": "int8 - Keras held-out accuracy (points)",
                 "ratio": fixed(change), "goal": ">= -1 point", "passed": change >= -1})
    return rows


def main(small: bool = True, json_path: str | None = None) -> dict[str, Any]:
    """Train, export, measure; print the table and return the results.

    Args:
        small: fewer training samples, epochs and timing repeats (about a minute).
        json_path: also write the results there as JSON.

    Example:

    ```python
    results = main(small=True)
    results["goals"]["int8_size_ratio"]["met"]
    ```
    """
    import keras

    from zoo_export import onnx as onnx_format
    from zoo_export import savedmodel, tflite
    from zoo_export.api import ExportOptions
    from zoo_export.errors import ExportError
    from zoo_export.export import export_model

    started = time.perf_counter()
    cfg = {
        "model": f"MobileNetV2 alpha={ALPHA} 96x96x3 (random init, trained briefly)",
        "train_samples": 480 if small else 960,
        "epochs": 5,
        "holdout_samples": 200 if small else 400,
        "calibration_samples": 100 if small else 200,
        "verify_samples": 64,
        "repeats": 5 if small else 9,
        "calls_per_repeat": 10 if small else 20,
        "threads": os.cpu_count(),
    }
    keras.utils.set_random_seed(0)
    x_train, y_train = synthetic_images(cfg["train_samples"], seed=1)
    x_hold, y_hold = synthetic_images(cfg["holdout_samples"], seed=2)
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t = time.perf_counter()
    model.fit(x_train, y_train, epochs=cfg["epochs"], batch_size=32, verbose=0)
    cfg["train_seconds"] = round(time.perf_counter() - t, 1)
    keras_probs = model.predict(x_hold, batch_size=64, verbose=0)
    keras_acc = float(np.mean(np.argmax(keras_probs, -1) == y_hold))

    samples = {"image": x_hold[: cfg["verify_samples"]]}
    calibration = {"image": x_train[: cfg["calibration_samples"]]}
    results: dict[str, Any] = {"config": cfg, "keras_accuracy": keras_acc}
    verification: dict[str, str] = {}
    max_diff: dict[str, float] = {}

    with tempfile.TemporaryDirectory(prefix="zoo-bench-export-") as tmp:
        out = Path(tmp)

        def export(exporter: Any, name: str, quantize: str = "none") -> Any:
            options = ExportOptions(quantize=quantize, calibration_samples=cfg["calibration_samples"])
            kwargs = dict(samples=samples, calibration=calibration, options=options,
                          task_kind="multiclass")
            key = f"{exporter.name}/{quantize}"
            t0 = time.perf_counter()
            try:
                report = export_model(model, exporter, out / name, **kwargs)
                verification[key] = report.verification.reason
                max_diff[key] = report.verification.max_abs_diff
            except ExportError as exc:  # keep measuring; the table says it failed
                verification[key] = f"FAILED: {exc}"
                report = export_model(model, exporter, out / name, verify=False, **kwargs)
            logger.info("exported %s in %.1fs", key, time.perf_counter() - t0)
            return report

        tfl = {mode: export(tflite.exporter, f"model-{mode}.tflite", mode) for mode in MODES}
        onnx_report = export(onnx_format.exporter, "model.onnx")
        sm_report = export(savedmodel.exporter, "model_savedmodel")
        results["verification"] = verification
        results["max_abs_diff_vs_keras"] = max_diff

        sizes = {mode: tfl[mode].size_bytes for mode in MODES}
        results["tflite_size_bytes"] = sizes
        results["tflite_size_ratio"] = {m: sizes[m] / sizes["none"] for m in MODES}
        results["tflite_int8_composition_bytes"] = tflite_composition(str(tfl["int8"].path))
        results["onnx_size_bytes"] = onnx_report.size_bytes
        results["savedmodel_size_bytes"] = sm_report.size_bytes

        threads = cfg["threads"]
        lite = {m: tflite.exporter.load(str(tfl[m].path), num_threads=threads) for m in MODES}
        ort_runner = onnx_format.exporter.load(str(onnx_report.path), num_threads=threads)
        sm_runner = savedmodel.exporter.load(str(sm_report.path))

        # accuracy of each TFLite mode on the held-out images
        accuracy = {m: float(np.mean(np.argmax(lite[m]({"image": x_hold}), -1) == y_hold)) for m in MODES}
        results["tflite_accuracy"] = accuracy
        results["accuracy_change_points"] = {m: 100 * (accuracy[m] - keras_acc) for m in MODES}

        one = {"image": x_hold[:1]}
        runners: dict[str, Callable[[], Any]] = {f"litert/{m}": (lambda r=lite[m]: r(one)) for m in MODES}
        runners["onnxruntime"] = lambda: ort_runner(one)
        runners["savedmodel"] = lambda: sm_runner(one)
        times = measure_alternating(runners, cfg["repeats"], cfg["calls_per_repeat"])
        results["latency_ms_batch1"] = {name: summary(v) for name, v in times.items()}
        results["litert_latency_ratio"] = {m: _ratio(times, f"litert/{m}", "litert/none") for m in MODES}
        results["onnxruntime_over_savedmodel"] = _ratio(times, "onnxruntime", "savedmodel")

    int8_ratio = results["tflite_size_ratio"]["int8"]
    ort_ratio = results["onnxruntime_over_savedmodel"]["median"]
    results["goals"] = {
        "int8_size_ratio": {"value": int8_ratio, "goal": GOALS["int8_size_ratio"],
                            "met": int8_ratio <= GOALS["int8_size_ratio"]},
        "onnxruntime_over_savedmodel": {"value": ort_ratio, "goal": GOALS["onnxruntime_over_savedmodel"],
                                        "met": ort_ratio <= GOALS["onnxruntime_over_savedmodel"]},
    }
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["rows"] = _rows(results)
    print_table(results)
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2) + "\n")
    return results


def print_table(results: dict[str, Any]) -> None:
    """Print the results as a plain-text table."""
    cfg = results["config"]
    lines = [
        f"export benchmark: {cfg['model']}; {cfg['train_samples']} train images, "
        f"{cfg['epochs']} epochs ({cfg['train_seconds']}s); {cfg['repeats']} repeats x "
        f"{cfg['calls_per_repeat']} calls, batch 1, {cfg['threads']} threads",
        "",
        f"{'artifact':<16}{'bytes':>10}{'size/f32':>10}{'ms median [min, max]':>26}"
        f"{'lat/f32 median [min, max]':>30}{'acc':>8}{'d acc':>8}",
    ]
    lat = results["latency_ms_batch1"]
    for m in MODES:
        ms, r = lat[f"litert/{m}"], results["litert_latency_ratio"][m]
        lines.append(
            f"{'tflite ' + m:<16}{results['tflite_size_bytes'][m]:>10}"
            f"{results['tflite_size_ratio'][m]:>10.3f}"
            f"{ms['median']:>10.2f} [{ms['min']:.2f}, {ms['max']:.2f}]".ljust(62)
            + f"{r['median']:>14.2f} [{r['min']:.2f}, {r['max']:.2f}]".ljust(30)
            + f"{results['tflite_accuracy'][m]:>8.3f}{results['accuracy_change_points'][m]:>+8.1f}"
        )
    for name, size in (("onnxruntime", results["onnx_size_bytes"]), ("savedmodel", results["savedmodel_size_bytes"])):
        ms = lat[name]
        lines.append(
            f"{name:<16}{size:>10}{'':>10}{ms['median']:>10.2f} [{ms['min']:.2f}, {ms['max']:.2f}]"
        )
    ort = results["onnxruntime_over_savedmodel"]
    parts = results["tflite_int8_composition_bytes"]
    lines += [
        "",
        "tflite int8 file: " + ", ".join(f"{k} {v}" for k, v in parts.items()),
        "",
        f"keras accuracy on held-out: {results['keras_accuracy']:.3f}",
        f"onnxruntime / savedmodel latency: {ort['median']:.3f} [{ort['min']:.3f}, {ort['max']:.3f}]",
    ]
    for name, goal in results["goals"].items():
        lines.append(f"goal {name} <= {goal['goal']}: {goal['value']:.3f} -> "
                     f"{'met' if goal['met'] else 'NOT met'}")
    for key, reason in results["verification"].items():
        lines.append(f"verification {key}: {reason}")
    lines.append(f"total {results['seconds']}s")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick run (about a minute)")
    parser.add_argument("--json", dest="json_path", help="also write the results as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    main(small=args.small, json_path=args.json_path)
