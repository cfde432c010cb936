"""Self-supervised pretraining: the run it writes, and that it helps when labels are few."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fraud_helpers import options_of, pretrain_recipe, recipe

#: labels of 3% of the demo's training split: 840 rows, 13 frauds; the other 27,160 rows are the pool
FEW = {"labelled_fraction": 0.03}


def test_corruption_swaps_values_between_rows():
    import tensorflow as tf

    from zoo_tabular_fraud.pretrain import corrupt

    tf.random.set_seed(0)
    x = {"numeric": tf.constant(np.arange(64 * 3 * 4, dtype="float32").reshape(64, 3, 4)),
         "categorical": tf.constant(np.arange(64 * 2, dtype="int32").reshape(64, 2) + 2)}
    corrupted, targets = corrupt(x, 0.3)
    mask = targets["mask"].numpy()
    assert mask.shape == (64, 5) and 0.15 < mask.mean() < 0.45
    changed_cat = corrupted["categorical"].numpy() != x["categorical"].numpy()
    assert np.array_equal(changed_cat, mask[:, 3:] == 1)
    # a replaced value is the same column of another row
    rows, cols = np.nonzero(changed_cat)
    assert np.all(corrupted["categorical"].numpy()[rows, cols] % 2 == x["categorical"].numpy()[0, cols] % 2)
    assert np.array_equal(targets["numeric"].numpy(), x["numeric"].numpy())


def test_pretrain_writes_a_run_finetune_can_start_from(tmp_path):
    """A tiny pretraining (2 epochs, 4000-row demo): weights, preprocessing, schema; fine-tuning reuses them."""
    from zoo.runs import read_run
    from zoo.training.finetune import assemble  # the engine: preprocessing -> backbone -> head
    from zoo.training.pretrain import run_pretrain
    from zoo_tabular_fraud import plugin
    from zoo_tabular_fraud.data import load_preprocessing
    from zoo_tabular_fraud.preprocessing import vocabularies

    small = {"demo_rows": 4000, "labelled_fraction": 0.3}
    run, metrics = run_pretrain(plugin, pretrain_recipe({"backbone": "mlp", "epochs": 2}, **small), None,
                                runs_dir=tmp_path)
    assert read_run(run)["recipe"]["epochs"] == 2 and metrics["epochs"] == 2  # what ran is what is recorded
    meta = read_run(run)
    assert meta["kind"] == "pretrain" and meta["status"] == "complete" and meta["preprocessing"] is True
    assert {"backbone.weights.h5", "preprocessing.keras", "tabular_schema.json"} <= {p.name for p in run.iterdir()}
    assert metrics["rows"] > 1500 and np.isfinite(metrics["val_loss"])
    schema = json.loads((run / "tabular_schema.json").read_text())
    assert "is_fraud" not in {c["name"] for c in schema["columns"]}
    r = recipe({"backbone": "mlp", "weights": str(run), "epochs": 1}, **small)
    bundle = plugin.data.demo(r, options_of(r))
    assert bundle.metadata["pretraining_run"] == str(run)
    # the fitted preprocessing of the pretraining run, loaded in safe mode, not fitted again
    saved = load_preprocessing(run / "preprocessing.keras")
    assert vocabularies(bundle.preprocessing) == vocabularies(saved)
    for a, b in zip(bundle.preprocessing.get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)                 # the pool's statistics, not the labelled rows'
    parts = assemble(plugin, r, bundle)
    from zoo_tabular_fraud.backbones import build_mlp

    pretrained = build_mlp(str(run / "backbone.weights.h5"), bundle.input_signature, options_of(r))
    for a, b in zip(parts.backbone.get_weights(), pretrained.get_weights()):
        np.testing.assert_array_equal(a, b)


def _ap_on(result, tables) -> float:
    """Average precision of a fine-tuning result's model on the rows of several labelled tables together."""
    from zoo_tabular_fraud.data import inputs_from_table
    from zoo.metrics import average_precision

    signature = json.loads((result.path / "zoo.json").read_text())["input_signature"]
    model = result.model
    scores, labels = [], []
    for table in tables:
        x = inputs_from_table(table, {k: ((), v["dtype"]) for k, v in signature.items()}, "eval")
        scores.append(model.predict(x, batch_size=4096, verbose=0).reshape(-1))
        labels.append(np.asarray(table.column("is_fraud").to_numpy()))
    return average_precision(np.concatenate(labels), np.concatenate(scores))


@pytest.mark.slow
@pytest.mark.full  # 9 min alone; benchmarks/fraud.py measures the same comparison at its rows
def test_pretraining_helps_when_labels_are_few(tmp_path):
    """Fine-tuning from the pretrained encoder beats training from scratch on PR-AUC with 13 labelled frauds.

    Same recipe (the plugin's defaults), same labelled rows, same seeds; only `--weights` differs.
    Why the margin is safe from noise:
    - everything is seeded (demo generation, splits, `keras.utils.set_random_seed` in both runs),
      so fine-tuning from scratch repeats exactly on one machine; pretraining does not quite: its
      swap noise is drawn inside a parallel `tf.data` map, so which batch gets which draw varies
      from run to run (seen: pretrained PR-AUC 0.228 vs 0.230 here, 0.332 vs 0.326 in
      benchmarks/fraud.py); the margin covers that and what differs between machines;
    - PR-AUC is measured on 46,000 rows with 690 frauds (the 6,000-row test split plus 40,000 rows
      generated with another seed: other customers), not on a handful of frauds;
    - the gain is averaged over two training seeds and each seed must show a gain. Measured while
      building this (see the report): gains of +0.04 to +0.08 PR-AUC for seed/label-fraction
      combinations, against an asserted mean of 0.02.
    """
    from zoo.training.finetune import finetune
    from zoo.training.pretrain import run_pretrain
    from zoo_tabular_fraud import plugin
    from zoo_tabular_fraud.data import demo_parts
    from zoo_tabular_fraud.demo import generate

    pre_run, metrics = run_pretrain(plugin, pretrain_recipe(**FEW), None, runs_dir=tmp_path)
    assert metrics["epochs"] == 20  # the plugin's pretraining default, not fine-tuning's 40
    assert metrics["val_loss"] < metrics["first_val_loss"]
    table, parts = demo_parts(40000, 0, "stratified", FEW["labelled_fraction"], 0.15, 0.15)
    assert int(np.asarray(table.take(parts["train"]).column("is_fraud").to_numpy()).sum()) == 13
    evaluation = [table.take(parts["test"]), generate(40000, seed=1)]
    gains = []
    for seed in (42, 7):
        ap = {}
        for label, weights in (("pretrained", str(pre_run)), ("scratch", "none")):
            result = finetune(plugin, recipe({"weights": weights, "seed": seed}, **FEW), runs_dir=tmp_path,
                              verbose=0)
            ap[label] = _ap_on(result, evaluation)
        gains.append(ap["pretrained"] - ap["scratch"])
        print(f"seed {seed}: PR-AUC pretrained {ap['pretrained']:.3f}, scratch {ap['scratch']:.3f}")  # noqa: T201
    assert min(gains) > 0, gains
    assert np.mean(gains) >= 0.02, gains
