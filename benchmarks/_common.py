"""Shared helpers of the benchmark scripts: side-by-side timing, ratios, machine facts."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from typing import Callable


def machine() -> dict:
    """CPU model, cores and library versions of this machine."""
    from importlib import metadata

    cpu = platform.processor() or ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}
    for name in ("tensorflow", "keras", "keras-hub", "jax", "onnxruntime", "ai-edge-litert"):
        try:
            facts[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return facts


def alternate(a: Callable[[], float | None], b: Callable[[], float | None], repeats: int) -> tuple[list, list]:
    """Run `a` and `b` alternately `repeats` times; each returns its own measure (or None: wall time)."""
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((a, ta), (b, tb)):
            start = time.perf_counter()
            value = fn()
            out.append(value if value is not None else time.perf_counter() - start)
    return ta, tb


def summary(values: list[float]) -> dict:
    """Median, min, max and count of `values` (the form every row of the results page uses)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def ratio_summary(num: list[float], den: list[float]) -> dict:
    """Median, min and max of the pairwise ratios num[i] / den[i]."""
    return summary([n / d for n, d in zip(num, den)])


def report(name: str, compared: str, summary: dict, goal: str, passed: bool | None, extra: dict | None = None) -> dict:
    row = {"benchmark": name, "compared": compared, "ratio": summary, "goal": goal, "passed": passed,
           **(extra or {})}
    verdict = "n/a" if passed is None else ("pass" if passed else "falls short")
    print(f"{name}: {compared} = {summary['median']:.3f} (min {summary['min']:.3f}, max {summary['max']:.3f}, "
          f"n={summary['n']}); goal {goal}: {verdict}")
    if extra:
        print("  " + json.dumps(extra, default=str))
    return row


def run_cli(main: Callable[..., dict], small_kwargs: dict | None = None) -> None:
    """`python bench.py [--small] [--json PATH]`: run `main`, optionally smaller, save its result."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="fewer samples and repeats")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args()
    result = main(**(small_kwargs or {})) if args.small else main()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2, default=str)


def forward_flops(model, inputs) -> float:
    """Float operations of one sample's forward pass, counted by the backend's own compiler.

    TensorFlow: its graph profiler; JAX: XLA's cost analysis of the compiled call. `inputs` is a
    batch (array or dict of arrays) giving the input structure and dtypes.
    """
    import keras

    if keras.backend.backend() == "jax":
        import jax

        # XLA's GPU compiler hands convolutions to cuDNN and stops counting them, and the GPU client
        # gives no cost analysis before compiling: count on a CPU copy of the model instead.
        one = keras.tree.map_structure(lambda x: x[:1], inputs)
        with jax.default_device(jax.devices("cpu")[0]):
            clone = keras.models.clone_model(model)
            cost = jax.jit(lambda x: clone(x, training=False)).lower(one).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        return float(cost["flops"])

    import tensorflow as tf
    from tensorflow.python.profiler.model_analyzer import profile
    from tensorflow.python.profiler.option_builder import ProfileOptionBuilder

    specs = tf.nest.map_structure(lambda x: tf.TensorSpec((1,) + tuple(x.shape[1:]), x.dtype), inputs)
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(specs).graph
    options = ProfileOptionBuilder(ProfileOptionBuilder.float_operation()).with_empty_output().build()
    return float(profile(graph, options=options).total_float_ops)
