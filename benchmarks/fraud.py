"""Tabular fraud: PR-AUC of the encoders fine-tuned from self-supervised pretraining, from scratch,
and of scikit-learn's HistGradientBoostingClassifier, on the same demo split
(goal: the pretrained model at or above the boosting baseline).

The demo (40,000 generated transactions, 1.5% fraud) keeps the labels of 10% of its training
split (2,800 rows, 42 frauds); the other 25,200 training rows are the unlabelled pool that
`zoo pretrain` trains on. Validation (early stopping, threshold) and test (the numbers
below) are the same 6,000-row splits for every model. PR-AUC is average precision on the test
split; each neural model is trained with the plugin's default recipe, only `--weights` differs;
boosting trains on the same 2,800 labelled rows, with the categorical columns declared
categorical. For reference, boosting on all 28,000 training labels (which the scenario does
not have) is printed too.

```
python benchmarks/fraud.py            # about 5 minutes on 2 CPU cores
python benchmarks/fraud.py --small    # 20,000 rows, ft_transformer only
```
"""

from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def boosting_ap(rows: int, labelled_fraction: float, seed: int = 0) -> tuple[float, float]:
    """Average precision on the demo test split of HistGradientBoosting: (labelled rows, all training rows)."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score

    from zoo_tabular_fraud import schema as sch
    from zoo_tabular_fraud.data import demo_parts

    table, parts = demo_parts(rows, seed, "stratified", labelled_fraction, 0.15, 0.15)
    schema = sch.infer_schema(table, "is_fraud")
    arrays, _ = sch.encode(table, schema, "demo")
    columns, categorical = [], []
    for col in schema.features():
        values = arrays[col.input].astype("float64")
        if col.kind == "categorical":  # codes -> small ordinals, missing (code 0) -> NaN
            _, ordinal = np.unique(values, return_inverse=True)
            values = np.where(values == 0, np.nan, ordinal.astype("float64"))
        columns.append(values)
        categorical.append(col.kind == "categorical")
    x = np.stack(columns, axis=1)
    y = np.asarray(table.column("is_fraud").to_numpy())
    test = parts["test"]
    out = []
    for train in (parts["train"], np.concatenate([parts["train"], parts["unlabelled"]])):
        model = HistGradientBoostingClassifier(categorical_features=categorical, random_state=seed)
        model.fit(x[train], y[train])
        out.append(float(average_precision_score(y[test], model.predict_proba(x[test])[:, 1])))
    return out[0], out[1]


def main(rows: int = 40000, labelled_fraction: float = 0.1, backbones=("ft_transformer", "mlp"),
         pretrain_epochs: int = 15) -> dict:
    from sklearn.metrics import average_precision_score

    from zoo.training.finetune import finetune
    from zoo.training.pretrain import run_pretrain
    from zoo_tabular_fraud import plugin
    from zoo_tabular_fraud.threshold import run_scores

    runs = tempfile.mkdtemp(prefix="fraud-bench-")
    options = {"demo_rows": rows, "labelled_fraction": labelled_fraction}
    results: dict = {"rows": [], "pr_auc": {}, "seconds": {}}
    started = time.time()
    t0 = time.time()
    boost, boost_all = boosting_ap(rows, labelled_fraction)
    results["seconds"]["boosting"] = round(time.time() - t0, 1)
    results["pr_auc"]["hist_gradient_boosting"] = boost

    def recipe(pretraining=False, **overrides):
        return plugin.resolve_recipe(overrides={**overrides, "options": options}, pretraining=pretraining)

    def test_ap(run_path) -> float:
        y, s, _ = run_scores(run_path, "test")
        return float(average_precision_score(y, s))

    for name in backbones:
        t0 = time.time()
        pre_run, _ = run_pretrain(plugin, recipe(True, backbone=name, epochs=pretrain_epochs), None, runs_dir=runs)
        results["seconds"][f"{name} pretrain"] = round(time.time() - t0, 1)
        for label, weights in (("pretrained", str(pre_run)), ("scratch", "none")):
            t0 = time.time()
            result = finetune(plugin, recipe(backbone=name, weights=weights), runs_dir=runs, verbose=0)
            results["pr_auc"][f"{name} {label}"] = test_ap(result.path)
            results["seconds"][f"{name} {label}"] = round(time.time() - t0, 1)
    results["seconds"]["total"] = round(time.time() - started, 1)

    n_test = int(round(rows * 0.15))
    print(f"\nTabular fraud, demo {rows} rows, {labelled_fraction:.0%} of the training split labelled; "
          f"PR-AUC (average precision) on the {n_test}-row test split")
    print(f"{'model':<34} {'PR-AUC':>7} {'seconds':>8}")
    for key, value in results["pr_auc"].items():
        seconds = results["seconds"].get(key.replace("hist_gradient_boosting", "boosting"), "")
        print(f"{key:<34} {value:>7.3f} {seconds!s:>8}")
    print(f"{'(boosting with all training labels)':<34} {boost_all:>7.3f}")
    results["pr_auc_boosting_all_labels"] = boost_all
    best = max(v for k, v in results["pr_auc"].items() if k.endswith("pretrained"))
    passed = best >= boost
    for name in backbones:
        value = results["pr_auc"][f"{name} pretrained"]
        results["rows"].append({
            "benchmark": f"fraud[{name}]",
            "compared": "test PR-AUC: pretrained then fine-tuned / HistGradientBoosting, same labels",
            "ratio": ({"median": value / boost, "min": value / boost, "max": value / boost, "n": 1}
                      if boost else None),
            "goal": ">= 1 (pretrained at or above boosting)",
            "passed": value >= boost,
            "pr_auc": {k: round(v, 4) for k, v in results["pr_auc"].items() if k.startswith(name)},
            "boosting": round(boost, 4),
        })
    results["goal_met"] = passed
    verdict = "met" if passed else "not met"
    print(f"goal (best pretrained >= boosting): {verdict}; total {results['seconds']['total']} s")
    return results


if __name__ == "__main__":
    from _common import run_cli

    run_cli(main, {"rows": 20000, "backbones": ("ft_transformer",)})
