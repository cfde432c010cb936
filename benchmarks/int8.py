"""int8 on every built-in plugin's demo run: decisions, metric, size and latency against float, in one run.

For each case a demo run is fine-tuned with the plugin's own recipe (the vision probe: one epoch of
a linear probe, the model that full int8 once failed on), then exported by `zoo export --format
tflite --quantize int8 --min-agreement 0.99` (full int8 first, then operations kept in float, then
whole-model schemes; `zoo_export.int8`) and by `--format tflite` (float32). On the run's test split
(up to `ROWS` rows) the int8 artifact is compared with Keras:

- agreement of decisions at the run's decision threshold             (goal >= 0.99)
- change of the task's monitored metric (accuracy, AUC...), in points  (goal >= -1)
- int8 / float32 file size                                             (goal <= 0.35)
- int8 / float32 LiteRT latency, batch 1, measured alternately          (reported)

The vision cases also compare decisions on demo images the run never read (the demo generator's
next `per_class` images of each class): 45 test rows move in steps of 0.022, too coarse for 0.99.

When no scheme reaches 0.99, the rows measure what `zoo export --quantize int8` gives at its default
gate (0.95), or the full-int8 artifact (exported with the gate off) when that is refused too, and
say so, with the agreement reached on the validation samples.

Run: `python benchmarks/int8.py [--small] [--cases CASE ...] [--json results.json]` (about 25 minutes
on 2 cores; `--small` runs the vision probe and the fraud demo only, `--cases` the cases named).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from _common import summary

ROWS = 256
GOAL_AGREEMENT = 0.99
GOAL_SIZE = 0.35
#: case -> (plugin, extra `zoo finetune` arguments)
CASES = {
    "vision-probe": ("vision", ["--strategy", "linear-probe", "--epochs", "1"]),
    "vision": ("vision", []),
    "medical-ct": ("medical-ct", []),
    "tabular-fraud": ("tabular-fraud", []),
    "text": ("text", []),
    # the same recipes, then one quantisation-aware epoch (`--quantize-aware-epochs`): the kernels are
    # saved on their int8 grid, so int8 weight files reproduce them; the cost is measured on the run.
    # Exported with `--min-estimated-agreement 0.99` as well (`ESTIMATE_GATED`).
    "vision-probe-qat": ("vision", ["--strategy", "linear-probe", "--epochs", "1", "--quantize-aware-epochs", "1"]),
    "vision-qat": ("vision", ["--quantize-aware-epochs", "1"]),
}
#: cases whose int8 export is gated on the estimated agreement too (`--min-estimated-agreement`): 45
#: validation rows pass full int8 at 1.000 where 300 fresh images find 0.96
ESTIMATE_GATED = ("vision-probe-qat", "vision-qat")
SMALL = ("vision-probe", "tabular-fraud")


def zoo_bin() -> str:
    return str(Path(sys.executable).with_name("zoo"))


def finetune(plugin: str, extra: list[str], runs: Path) -> Path:
    out = subprocess.run([zoo_bin(), "finetune", "--plugin", plugin, "--runs-dir", str(runs), *extra],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"zoo finetune --plugin {plugin} failed: {out.stderr.strip().splitlines()[-1:]}")
    return max(runs.glob(f"{plugin}-2*"), key=lambda p: p.stat().st_mtime)


def test_rows(bundle, n: int):
    split = bundle.test if bundle.test is not None else bundle.validation
    xs, ys = [], []
    for x, y in split.take(n).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    return {k: np.stack([r[k] for r in xs]) for k in xs[0]}, np.stack(ys)


def fresh_vision_rows(recipe, plugin) -> tuple[dict, int]:
    """The vision demo's images `per_class` .. 2 * `per_class` - 1 of each class: drawn like the run's
    demo (`zoo_vision.demo.render`, same generator) but never read by it, so truly held out."""
    from zoo_vision.demo import CLASSES, ensure_demo

    per_class = int(dict(recipe.options).get("demo_images_per_class", 60))
    folder = ensure_demo(2 * per_class)
    files = [str(folder / c / f"{c}_{i:03d}.png") for c in CLASSES for i in range(per_class, 2 * per_class)]
    return plugin.data.read_inputs(files, None, recipe.options, {}).inputs, per_class


def measure(case: str, plugin_name: str, extra: list[str], root: Path) -> dict:
    from zoo import registry
    from zoo.deploy import export_run, load_run
    from zoo.errors import ZooError
    from zoo.training.finetune import load_data
    from zoo_export.api import ExportOptions
    from zoo_export.errors import ExportError
    from zoo_export.runtime import load_artifact, runner_from_keras
    from zoo_export.verify import batch1_latency_ms

    started = time.perf_counter()
    run = finetune(plugin_name, extra, root / case)
    trained = time.perf_counter() - started
    float_report = export_run(run, "tflite")
    gate = GOAL_AGREEMENT
    fallback_error = None
    t0 = time.perf_counter()
    default_gate = None
    estimate_gate = gate if case in ESTIMATE_GATED else None
    try:
        int8_report = export_run(run, "tflite", quantize="int8", min_agreement=gate,
                                 min_estimated_agreement=estimate_gate)
    except (ExportError, ZooError) as exc:
        fallback_error = str(exc)
        try:  # what `zoo export --quantize int8` gives with its own gate
            int8_report = export_run(run, "tflite", quantize="int8", force=True)
            default_gate = ExportOptions().min_agreement
        except (ExportError, ZooError):
            int8_report = export_run(run, "tflite", quantize="int8", min_agreement=0.0, strict_int8=True,
                                     force=True)
    export_s = time.perf_counter() - t0
    meta, model = load_run(run)
    plugin = registry.get_plugin(meta["plugin"])
    recipe = plugin.resolve_recipe(base=meta["recipe"])
    bundle = load_data(plugin, recipe, meta.get("data"))
    x, y = test_rows(bundle, ROWS)
    keras_runner = runner_from_keras(model)
    int8_runner = load_artifact(int8_report.path)
    float_runner = load_artifact(float_report.path)
    reference, produced = keras_runner(x), int8_runner(x)
    threshold = meta.get("decision_threshold")
    decided = plugin.task.agreement(reference, produced, threshold)
    if decided is None:
        agreement = None
    else:
        agreement = float(decided[1])
    monitor = plugin.task.resolved_monitor()[0].removeprefix("val_")
    keras_metric = plugin.task.score(y, reference).get(monitor)
    int8_metric = plugin.task.score(y, produced).get(monitor)
    fresh = None
    if plugin_name == "vision":  # 45 test rows resolve 0.022; the demo draws as many more as asked
        from zoo_export.verify import pairwise_top1_agreement

        xf, per_class = fresh_vision_rows(recipe, plugin)
        rf, pf = keras_runner(xf), int8_runner(xf)
        fresh = {"rows": int(len(rf)), "first_index": per_class,
                 "agreement": float(plugin.task.agreement(rf, pf, threshold)[1]),
                 "estimated_on_them": pairwise_top1_agreement(rf, pf)}
    lat_int8, lat_float = [], []
    for _ in range(5):
        a, b = batch1_latency_ms([int8_runner, float_runner], x)
        lat_int8.append(a)
        lat_float.append(b)
    fallback = int8_report.details.get("int8_fallback") or {}
    return {
        "case": case,
        "plugin": plugin_name,
        "run": run.name,
        "train_seconds": trained,
        "export_seconds": export_s,
        "rows": int(len(y)),
        "scheme": int8_report.sidecar["quantization"].get("scheme"),
        "float_ops": len(int8_report.sidecar["quantization"].get("float_ops") or []),
        "full_int8_agreement_validation": (fallback.get("full_int8") or {}).get("agreement"),
        "validation_agreement": int8_report.verification.agreement,
        "validation_estimated": int8_report.verification.estimated_agreement,
        "validation_rows": int8_report.verification.n_samples,
        "fallback_error": fallback_error,
        "estimate_gate": estimate_gate,
        "default_gate": default_gate,
        "best_validation_agreement": max((t.get("agreement") or 0.0 for t in fallback.get("tries", [])), default=None),
        "agreement": agreement,
        "agreement_kind": None if decided is None else decided[0],
        "fresh": fresh,
        "monitor": monitor,
        "keras_metric": keras_metric,
        "int8_metric": int8_metric,
        "size_ratio": int8_report.size_bytes / float_report.size_bytes,
        "latency_ratios": [a / b for a, b in zip(lat_int8, lat_float)],
        "quantize_aware": quantize_aware_cost(meta, monitor),
    }


def quantize_aware_cost(meta: dict, monitor: str) -> dict | None:
    """The run's monitored metric before its quantisation-aware epochs and after them (test split,
    else validation), from `zoo.json`."""
    record = meta.get("quantize_aware")
    if not record:
        return None
    split = "test" if record.get("test_before") and (meta["metrics"].get("test") or {}).get(monitor) is not None \
        else "validation"
    before = (record.get(f"{split}_before") or {}).get(monitor)
    after = (meta["metrics"].get(split) or {}).get(monitor)
    return {"split": split, "before": before, "after": after, "epochs": record["epochs"],
            "kernels_trained": record["kernels_trained"], "layers": record["layers"]}


def rows(results: list[dict]) -> list[dict]:
    out = []
    for r in results:
        case = r["case"]
        short = r["fallback_error"] is not None
        how = (f"full int8 (no scheme reached {GOAL_AGREEMENT}: full-int8 agreement on validation "
               f"{r['full_int8_agreement_validation'] or r['validation_agreement']:.3f})"
               if short and r.get("default_gate") is None
               else f"{r['scheme']}, exported at the default gate of {r['default_gate']} (no scheme reached "
               f"{GOAL_AGREEMENT} on validation; this one {r['validation_agreement']:.3f}, full int8 "
               f"{r['full_int8_agreement_validation']:.3f})" if short
               else r["scheme"] + (f", {r['float_ops']} ops in float" if r["float_ops"] else "")
               + ("" if r["full_int8_agreement_validation"] is None
                  else f"; full int8 agreed {r['full_int8_agreement_validation']:.3f} on validation")
               + ("" if r.get("validation_estimated") is None
                  else f"; this one {r['validation_agreement']:.3f} on validation, "
                       f"{r['validation_estimated']:.3f} estimated"))
        if r.get("estimate_gate") is not None and not short:
            how += f"; gated on the estimate too (>= {r['estimate_gate']})"
        agree = r["agreement"]
        out.append({"benchmark": f"int8[{case}] agreement",
                    "compared": f"int8 vs Keras decisions ({r['agreement_kind']}) on {r['rows']} test rows; {how}",
                    "ratio": summary([agree]) if agree is not None else None,
                    "goal": f">= {GOAL_AGREEMENT}", "passed": None if agree is None else agree >= GOAL_AGREEMENT})
        fresh = r.get("fresh")
        if fresh:
            seen = ("" if r.get("validation_estimated") is None
                    else f"; the {r['validation_rows']} validation rows gave {r['validation_agreement']:.3f}, estimated "
                         f"{r['validation_estimated']:.3f}")
            out.append({"benchmark": f"int8[{case}] agreement, fresh images",
                        "compared": f"int8 vs Keras decisions ({r['agreement_kind']}) on {fresh['rows']} demo images "
                                    f"the run never read (index {fresh['first_index']} on, each class), same "
                                    f"artifact{seen}",
                        "ratio": summary([fresh["agreement"]]), "goal": f">= {GOAL_AGREEMENT}",
                        "passed": fresh["agreement"] >= GOAL_AGREEMENT})
        if r["keras_metric"] is not None and r["int8_metric"] is not None:
            change = 100.0 * (r["int8_metric"] - r["keras_metric"])
            out.append({"benchmark": f"int8[{case}] {r['monitor']} change",
                        "compared": f"int8 - Keras test {r['monitor']} in points (Keras {r['keras_metric']:.3f})",
                        "ratio": summary([change]), "goal": ">= -1 point", "passed": change >= -1.0})
        qat = r.get("quantize_aware")
        if qat and qat["before"] is not None and qat["after"] is not None:
            change = 100.0 * (qat["after"] - qat["before"])
            out.append({"benchmark": f"int8[{case}] quantize-aware {r['monitor']} change",
                        "compared": f"Keras {qat['split']} {r['monitor']} after {qat['epochs']} quantisation-aware "
                                    f"epoch(s) - before them, in points ({qat['before']:.3f} -> {qat['after']:.3f}; "
                                    f"{qat['layers']} kernels on the int8 grid, {qat['kernels_trained']} trained "
                                    "through it)",
                        "ratio": summary([change]), "goal": ">= -1 point", "passed": change >= -1.0})
        out.append({"benchmark": f"int8[{case}] size", "compared": "int8 / float32 .tflite size",
                    "ratio": summary([r["size_ratio"]]), "goal": f"<= {GOAL_SIZE}",
                    "passed": r["size_ratio"] <= GOAL_SIZE})
        out.append({"benchmark": f"int8[{case}] latency",
                    "compared": "LiteRT int8 / float32 latency, batch 1, alternating",
                    "ratio": summary(r["latency_ratios"]), "goal": "reported", "passed": None})
    return out


def main(small: bool = False, json_path: str | None = None, only: list[str] | None = None) -> dict:
    cases = tuple(only) if only else SMALL if small else tuple(CASES)
    results = []
    with tempfile.TemporaryDirectory(prefix="zoo-bench-int8-") as tmp:
        for case in cases:
            plugin, extra = CASES[case]
            print(f"[int8] {case} ...", flush=True)
            results.append(measure(case, plugin, extra, Path(tmp)))
            print(json.dumps(results[-1], default=str), flush=True)
    out = {"rows": rows(results), "cases": results}
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=2, default=str))
    for row in out["rows"]:
        print(f"{row['benchmark']:<34} {row['ratio']}  {row['goal']}  {row['compared']}")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), help="run these cases alone")
    args = parser.parse_args()
    main(small=args.small, json_path=args.json, only=args.cases)
