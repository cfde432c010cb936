"""What each strategy trains on the detector: the ImageNet blocks per strategy, the pyramid (the neck) always."""

from __future__ import annotations

import pytest

OPTIONS = {"demo_scenes": 12, "image_size": 64}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import os

    os.environ["KERAS_ZOO_CACHE"] = str(tmp_path_factory.mktemp("detect-cache"))
    from zoo_vision_detect import plugin

    recipe = plugin.resolve_recipe(overrides={"options": OPTIONS, "weights": "none"})
    return plugin, plugin.data.demo(recipe, plugin.options_for(recipe))


def _trainable_layers(parts):
    return {w.path.split("/")[-2] for w in parts.backbone.trainable_weights}


@pytest.mark.parametrize("strategy", ["linear-probe", "partial", "full"])
def test_the_neck_trains_under_every_strategy(setup, strategy):
    from zoo.training.finetune import assemble

    plugin, bundle = setup
    recipe = plugin.resolve_recipe(overrides={"options": OPTIONS, "weights": "none", "strategy": strategy})
    parts = assemble(plugin, recipe, bundle)
    layers = _trainable_layers(parts)
    neck = {layer.name for layer in parts.plan.neck if layer.weights}
    assert neck and neck <= layers and {"fpn_lateral0", "tower_conv1"} <= neck
    imagenet = layers - neck
    if strategy == "linear-probe":
        assert not imagenet
    elif strategy == "partial":
        top = {layer.name for block in parts.blocks[-recipe.trainable_blocks:] for layer in block if layer.weights}
        assert imagenet and imagenet <= top
    else:
        assert "Conv1" in imagenet
    assert parts.head.trainable_weights


def test_l2sp_keeps_the_imagenet_weights_near_their_start_not_the_new_neck(setup):
    from zoo.strategies.regularizers import FinetuneModel
    from zoo.training.finetune import assemble

    plugin, bundle = setup
    recipe = plugin.resolve_recipe(overrides={"options": OPTIONS, "weights": "none", "strategy": "full"})
    parts = assemble(plugin, recipe, bundle)
    trainer = FinetuneModel(parts.dual, parts.backbone.name, "l2sp", 0.01,
                            exclude=[layer.name for layer in parts.plan.neck])
    anchored = {path.split("/")[-2] for path in trainer._anchors.values}
    assert "Conv1" in anchored and not anchored & {layer.name for layer in parts.plan.neck}


def test_lwf_on_a_backbone_with_a_neck_is_refused_before_a_run_is_written(setup, tmp_path):
    """LwF would hold the new pyramid's output to its random start: refused, naming l2sp."""
    from zoo.errors import ConfigError
    from zoo.training.finetune import finetune

    plugin, _ = setup
    recipe = plugin.resolve_recipe(overrides={"options": OPTIONS, "weights": "none", "strategy": "full",
                                              "regularizer": "lwf", "epochs": 1})
    with pytest.raises(ConfigError, match=r"neck: \d+ layers.*--regularizer l2sp"):
        finetune(plugin, recipe, runs_dir=tmp_path / "runs", verbose=0)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
