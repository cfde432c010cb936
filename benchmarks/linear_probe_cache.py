"""Cached linear probe / naive frozen-backbone fit: 10 epochs on 1,000+ images (goal >= 10x faster,
same validation accuracy).

Both runs go through `finetune()` with the same recipe; only `cache_features` differs.
The whole run is timed (data, model building, training, evaluation, saving), and the
training phase alone from the run's own timings, which shows where the time goes.
"""

from __future__ import annotations

import tempfile

from _common import alternate, ratio_summary, report, run_cli


def main(samples: int = 1250, epochs: int = 10, repeats: int = 2) -> dict:
    from _bench_plugin import plugin, shipped_weights
    from zoo.training.finetune import finetune

    weights = shipped_weights()
    runs = tempfile.mkdtemp()
    results: dict[bool, list] = {True: [], False: []}

    def side(cache: bool):
        def run():
            overrides = {"strategy": "linear-probe", "cache_features": cache, "epochs": epochs, "batch_size": 32,
                         "dropout": 0.0, "options": {"samples": samples}}
            if weights:
                overrides["weights"] = weights
            recipe = plugin.resolve_recipe(overrides=overrides)
            result = finetune(plugin, recipe, runs_dir=runs, verbose=0)
            results[cache].append(result)
            return sum(result.timings.values())
        return run

    naive_t, cached_t = alternate(side(False), side(True), repeats)
    whole = ratio_summary(naive_t, cached_t)
    train = ratio_summary([r.timings["train"] for r in results[False]], [r.timings["train"] for r in results[True]])
    acc_cached = [r.metrics["accuracy"] for r in results[True]]
    acc_naive = [r.metrics["accuracy"] for r in results[False]]
    same = max(abs(a - b) for a, b in zip(acc_cached, acc_naive)) <= 0.02
    train_row = report("linear_probe_cache[train phase]", "naive frozen fit / cached probe (training seconds)", train,
           ">= 10x", train["median"] >= 10)
    whole_row = report("linear_probe_cache", "naive frozen fit / cached probe (whole run seconds)", whole,
                  ">= 10x, same val accuracy", whole["median"] >= 10 and same,
                  {"images": samples, "epochs": epochs, "weights": "imagenet (shipped)" if weights else "random",
                   "val_accuracy_cached": acc_cached, "val_accuracy_naive": acc_naive,
                   "timings_cached": results[True][-1].timings, "timings_naive": results[False][-1].timings,
                   "train_ratio": train})
    return {"rows": [train_row, whole_row]}


if __name__ == "__main__":
    run_cli(main, {'repeats': 1})
