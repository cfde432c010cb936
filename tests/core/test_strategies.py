"""Each strategy trains exactly what it says, on the toy plugin through the real fit loop."""

import csv

import numpy as np
import pytest

from zoo.errors import ConfigError
from zoo.training.finetune import finetune


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A 'pretrained' toy backbone: weights saved to a file, as a plugin would ship them."""
    import keras

    from zoo_toy import build_backbone, plugin

    keras.utils.set_random_seed(7)
    model = build_backbone(None, None)
    # Give batch norm non-trivial statistics, as a trained network has.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.random.default_rng(1).normal(0, 0.1, layer.moving_mean.shape))
    path = tmp_path_factory.mktemp("weights") / "toy.weights.h5"
    model.save_weights(path)
    return path, weights_by_layer(model)


def weights_by_layer(model):
    """`layer/weight` -> value for every weight of the backbone's layers."""
    return {f"{layer.name}/{w.name}": w.numpy() for layer in model.layers for w in layer.weights}


def run(plugin, tmp_path, pretrained, **overrides):
    values = {"weights": str(pretrained[0]), "epochs": 1, "max_samples": 192, "dropout": 0.0}
    values.update(overrides)
    recipe = plugin.resolve_recipe(overrides=values)
    return finetune(plugin, recipe, runs_dir=tmp_path, verbose=0)


def after(result):
    return weights_by_layer(result.model.get_layer("toy_cnn"))


def changed(result, pretrained):
    """Layer name -> True when any of its weights moved (bitwise)."""
    before, now = pretrained[1], after(result)
    out = {}
    for path, value in now.items():
        layer = path.split("/")[0]
        out[layer] = out.get(layer, False) or not np.array_equal(value, before[path])
    return out


def test_linear_probe_keeps_backbone_bitwise(toy_plugin, tmp_path, pretrained):
    result = run(toy_plugin, tmp_path, pretrained, strategy="linear-probe")
    assert not any(changed(result, pretrained).values())
    head = result.model.get_layer("head")
    assert result.metrics["accuracy"] > 0  # it trained and evaluated


def test_full_with_default_batchnorm_keeps_pretrained_statistics(toy_plugin, tmp_path, pretrained):
    result = run(toy_plugin, tmp_path, pretrained, strategy="full")
    now, before = after(result), pretrained[1]
    assert not np.array_equal(now["conv1/kernel"], before["conv1/kernel"])
    for name in ("bn1/moving_mean", "bn3/moving_variance", "bn2/gamma"):
        assert np.array_equal(now[name], before[name])


def test_full_changes_every_block_and_batch_norm_statistics(toy_plugin, tmp_path, pretrained):
    result = run(toy_plugin, tmp_path, pretrained, strategy="full", batchnorm="train")
    assert all(changed(result, pretrained).values())
    now = after(result)
    assert not np.array_equal(now["bn1/moving_mean"], pretrained[1]["bn1/moving_mean"])


@pytest.mark.parametrize("batchnorm", ["inference", "train"])
def test_partial_trains_only_top_blocks_and_frozen_bn_stats_stay(toy_plugin, tmp_path, pretrained, batchnorm):
    result = run(toy_plugin, tmp_path, pretrained, strategy="partial", trainable_blocks=1, batchnorm=batchnorm)
    moved = changed(result, pretrained)
    # Batch norm of the trainable block learns only with batchnorm="train".
    assert moved == {"conv1": False, "bn1": False, "conv2": False, "bn2": False, "conv3": True,
                     "bn3": batchnorm == "train"}
    now = after(result)
    for name in ("bn1/moving_mean", "bn1/moving_variance", "bn2/moving_mean", "bn2/moving_variance"):
        assert np.array_equal(now[name], pretrained[1][name])


def test_partial_beyond_the_backbone_is_a_config_error(toy_plugin, tmp_path, pretrained):
    with pytest.raises(ConfigError, match="--trainable-blocks 9 is more than the backbone's 3 blocks"):
        run(toy_plugin, tmp_path, pretrained, strategy="partial", trainable_blocks=9)
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("epochs, expected", [
    (1, {"conv1": False, "conv2": False, "conv3": False}),  # epoch 0: head only
    (2, {"conv1": False, "conv2": False, "conv3": True}),   # epoch 1: + top block
    (3, {"conv1": False, "conv2": True, "conv3": True}),    # epoch 2: + second block
])
def test_gradual_unfreezes_one_block_per_epoch_and_really_updates_it(toy_plugin, tmp_path, pretrained, epochs,
                                                                      expected):
    result = run(toy_plugin, tmp_path, pretrained, strategy="gradual", unfreeze_every=1, epochs=epochs)
    moved = changed(result, pretrained)
    assert {k: moved[k] for k in expected} == expected


def test_discriminative_gives_lower_blocks_smaller_updates(toy_plugin, tmp_path, pretrained):
    result = run(toy_plugin, tmp_path, pretrained, strategy="discriminative", lr_decay=0.3, epochs=2)
    now, before = after(result), pretrained[1]
    step = {name: np.abs(now[f"{name}/kernel"] - before[f"{name}/kernel"]).mean() for name in ("conv1", "conv2", "conv3")}
    assert step["conv1"] > 0
    # Adam's step size follows the learning rate: 0.09x, 0.3x, 1x.
    assert step["conv1"] < 0.6 * step["conv2"] < 0.6 * 0.6 * step["conv3"] * 1.0 / 0.6


def test_lora_trains_only_adapters_and_head(toy_plugin, tmp_path, pretrained):
    import keras

    result = run(toy_plugin, tmp_path, pretrained, strategy="lora", lora_rank=2, epochs=2)
    backbone = result.model.get_layer("toy_cnn")
    for layer in backbone.layers:
        for w in layer.weights:
            key = f"{layer.name}/{w.name}"
            if "lora_kernel_b" in w.path:
                assert np.abs(w.numpy()).sum() > 0, "adapter B starts at zero and must have trained"
            elif "lora_kernel" not in w.path:
                assert np.array_equal(w.numpy(), pretrained[1][key]), f"{w.path} moved"
    assert [layer.name for layer in backbone.layers if getattr(layer, "lora_enabled", False)] == ["conv1", "conv2", "conv3"]
    # The saved model loads in safe mode and predicts what the trained one does.
    reloaded = keras.saving.load_model(result.path / "model.keras", safe_mode=True)
    x = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), result.model.predict(x, verbose=0), atol=1e-5)


def _distance(result, pretrained):
    now = after(result)
    return sum(float(np.sum((now[k] - pretrained[1][k]) ** 2)) for k in now if "moving" not in k)


def test_l2sp_keeps_weights_closer_to_pretrained(toy_plugin, tmp_path, pretrained):
    free = run(toy_plugin, tmp_path, pretrained, strategy="full", epochs=2, regularizer="l2sp", reg_weight=0.0)
    held = run(toy_plugin, tmp_path, pretrained, strategy="full", epochs=2, regularizer="l2sp", reg_weight=5.0)
    assert _distance(held, pretrained) < 0.5 * _distance(free, pretrained)
    rows = list(csv.DictReader(open(held.path / "history.csv")))
    assert "l2sp" in rows[0] and float(rows[-1]["l2sp"]) > 0


def test_lwf_term_is_logged_and_the_weight_pulls_features_back(toy_plugin, tmp_path, pretrained):
    free = run(toy_plugin, tmp_path, pretrained, strategy="full", epochs=3, regularizer="lwf", reg_weight=0.0)
    held = run(toy_plugin, tmp_path, pretrained, strategy="full", epochs=3, regularizer="lwf", reg_weight=20.0)
    free_rows = list(csv.DictReader(open(free.path / "history.csv")))
    held_rows = list(csv.DictReader(open(held.path / "history.csv")))
    assert len(held_rows) == 3 and all(float(r["lwf"]) >= 0 for r in held_rows)
    assert float(held_rows[-1]["val_lwf"]) < 0.5 * float(free_rows[-1]["val_lwf"])
    # With the pull on, the distillation distance falls from its peak by the last epoch.
    values = [float(r["lwf"]) for r in held_rows]
    assert values[-1] < max(values) or values[-1] < 0.5 * float(free_rows[-1]["lwf"])


def test_cached_linear_probe_matches_naive_frozen_fit(toy_plugin, tmp_path, pretrained):
    # Full-batch steps make the sample order irrelevant, so both paths must land on one head.
    common = dict(strategy="linear-probe", epochs=5, batch_size=256, max_samples=150)
    cached = run(toy_plugin, tmp_path, pretrained, cache_features=True, **common)
    naive = run(toy_plugin, tmp_path, pretrained, cache_features=False, **common)
    for a, b in zip(cached.model.get_layer("head").weights, naive.model.get_layer("head").weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-5)
