"""`zoo select` against brute force (not select.py: that name would shadow the standard library's `select` module for every script here), on each plugin's demo data, in one run.

For each plugin: `zoo select` scores every candidate (backbone x weights x depth) cold (empty
feature cache). Then up to `candidates` of them are fine-tuned, each with the recipe the
selection writes for it (ImageNet/pretrained weights: `partial`, `trainable_blocks = cut + 1`;
random weights: `full`), the same epochs for all (the plugin's
default schedule unless `epochs` is given), early stopping off. Reported per plugin:

- Kendall's tau between LogME and the fine-tuned validation metric (goal >= 0.6);
- whether the top-ranked of the fine-tuned candidates is within 1 point of the best;
- `zoo select` wall time / total brute-force fine-tuning time (goal <= 0.05). The selection scores
  every candidate while brute force here fine-tunes `candidates` of them, so the row also gives the
  ratio against fine-tuning every scored candidate, extrapolated from the measured mean per candidate.
"""

from __future__ import annotations

import os
import tempfile
import time

from _common import report, run_cli, summary

PLUGINS = ("vision", "medical-ct", "text", "tabular-fraud")


def _spread(ranked, n: int):
    """n scored candidates for brute force: every backbone output first, then the deeper taps in rank order."""
    scored = [c for c in ranked if c.skipped is None]
    picked = [c for c in scored if c.cut == 0][:n]
    picked += [c for c in scored if c.cut > 0][: n - len(picked)]
    return picked


def one_plugin(name: str, epochs: int, candidates: int, samples: int) -> dict:
    from zoo import registry, transfer
    from zoo.selection import recommend, select
    from zoo.training.finetune import finetune

    plugin = registry.get_plugin(name)
    base = plugin.resolve_recipe()
    os.environ["KERAS_ZOO_CACHE"] = tempfile.mkdtemp()  # cold: no cached features
    start = time.perf_counter()
    selection = select(plugin, base, samples=samples, runs_dir=None)
    select_seconds = time.perf_counter() - start
    monitor = plugin.task.resolved_monitor()[0].removeprefix("val_")
    runs = tempfile.mkdtemp()
    rows, brute_seconds = [], 0.0
    for c in _spread(selection.ranked, candidates):
        overrides = {**recommend(c, selection.candidates), "patience": 0}
        if epochs:
            overrides["epochs"] = epochs
        recipe = plugin.resolve_recipe(overrides=overrides)
        t0 = time.perf_counter()
        result = finetune(plugin, recipe, runs_dir=runs, verbose=0)
        seconds = time.perf_counter() - t0
        brute_seconds += seconds
        rows.append({"candidate": c.name, "logme": c.logme, "leep": c.leep, "h_score": c.h_score,
                     "recipe": overrides, "val": result.metrics[monitor], "seconds": round(seconds, 1)})
        print(f"  {name} {c.name}: LogME {c.logme:.4f} -> val {monitor} {result.metrics[monitor]:.4f} "
              f"({seconds:.0f} s)", flush=True)
    tau = transfer.kendall_tau([r["logme"] for r in rows], [r["val"] for r in rows])
    best = max(r["val"] for r in rows)
    top = max(rows, key=lambda r: r["logme"])
    return {"plugin": name, "monitor": f"val_{monitor}", "tau": tau, "top": top["candidate"], "top_val": top["val"],
            "best_val": best, "top_within_1_point": best - top["val"] <= 0.01, "select_seconds": round(select_seconds, 1),
            "brute_force_seconds": round(brute_seconds, 1), "time_ratio": select_seconds / brute_seconds,
            "candidates_scored": sum(1 for c in selection.candidates if c.skipped is None), "finetuned": rows}


def main(epochs: int | None = None, candidates: int = 6, samples: int = 500, plugins: str = ",".join(PLUGINS)) -> dict:
    out = []
    for name in plugins.split(","):
        r = one_plugin(name, epochs, candidates, samples)
        extra = {k: v for k, v in r.items() if k != "plugin"}
        out.append(report(f"model_select[{name}] rank agreement",
                          f"Kendall tau, LogME vs fine-tuned {r['monitor']} ({len(r['finetuned'])} candidates, "
                          f"{epochs or 'default'} epochs each; top-ranked {'within' if r['top_within_1_point'] else 'not within'} "
                          f"1 point of the best)",
                          summary([r["tau"]]), ">= 0.6, top within 1 point",
                          r["tau"] >= 0.6 and r["top_within_1_point"], extra))
        per = r["brute_force_seconds"] / len(r["finetuned"])
        every = r["select_seconds"] / (per * r["candidates_scored"])
        out.append(report(f"model_select[{name}] time", f"zoo select ({r['select_seconds']} s, {r['candidates_scored']} "
                          f"candidates) / fine-tuning {len(r['finetuned'])} of them ({r['brute_force_seconds']} s); "
                          f"against all {r['candidates_scored']} at the measured mean: {every:.3f}",
                          summary([r["time_ratio"]]), "<= 0.05", r["time_ratio"] <= 0.05,
                          {"ratio_all_candidates": every}))
    return {"rows": out}


if __name__ == "__main__":
    run_cli(main, {"epochs": 1, "candidates": 3, "samples": 60, "plugins": "vision"})
