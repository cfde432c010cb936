"""The vision plugin against the contract; every backbone builds and its stages cover it in order."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from vision_helpers import demo_cache, vision_env  # noqa: F401  (fixtures)

from zoo_vision.backbones import (IMAGENET_BACKBONES, backbone_blocks, build_imagenet_backbone,
                                  preprocess_mode)

# The first layer of each backbone's first and last stage, and its number of stages.
STAGES = {
    "mobilenet_v2": ("Conv1", "Conv_1", 9),
    "mobilenet_v3_small": (None, "conv_1", 7),
    "mobilenet_v3_large": (None, "conv_1", 8),
    "efficientnet_v2_b0": (None, "top_conv", 8),
    # stem, the seven stages of the paper, the fixed head convolution
    "efficientnet_lite0": ("stem_conv", "top_conv", 9),
    "efficientnet_lite1": ("stem_conv", "top_conv", 9),
    "efficientnet_lite2": ("stem_conv", "top_conv", 9),
    "resnet50": ("conv1_pad", "conv5_block1_1_conv", 5),
    "convnext_tiny": ("convnext_tiny_prestem_normalization", None, 6),
}


def test_check_plugin(vision_env, tmp_path):
    from zoo.testing import check_plugin
    from zoo_vision import plugin
    from zoo_vision.demo import CLASSES

    report = check_plugin(plugin, recipe={"options": {"image_size": 32}}, workdir=tmp_path)
    assert report["contract"] == 2 and report["preview"] == "image"
    assert set(report["backbones"]) == set(IMAGENET_BACKBONES)
    assert report["demo_train"] > 100 and report["demo_validation"] >= 25
    # write_examples -> read_inputs -> predict: one prediction per example image
    assert report["predict"]["rows"] == len(CLASSES) == len(report["predict"]["examples"])


def test_registered_through_the_entry_point():
    from zoo import registry

    plugin = registry.get_plugin("vision")
    assert plugin.default_backbone == "mobilenet_v2"
    assert plugin.backbone().default_weights == "imagenet"


def test_written_to_contract_2():
    import warnings

    from zoo import contract
    from zoo.api import ZooDeprecationWarning
    from zoo_vision import plugin

    assert plugin.contract == 2 and plugin.validate() == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZooDeprecationWarning)
        assert contract.version_of(plugin) == 2
    assert contract._v1_markers(plugin) == []  # nothing left in the contract 1 form


def test_backbones_take_the_options():
    from zoo.api import TensorSpec
    from zoo_vision import plugin

    options = plugin.options_for(plugin.resolve_recipe(overrides={"options": {"image_size": 32}}))
    spec = plugin.backbone("mobilenet_v2")
    signature = {"image": TensorSpec((32, 32, 3))}
    model = spec.build(None, signature, options)
    assert model.output_shape == (None, 1, 1, 1280)
    assert spec.preprocessing(signature, options).mode == "tf"


def test_importing_the_plugin_does_not_import_tensorflow():
    code = ("import sys, zoo_vision, zoo_vision.backbones, zoo_vision.data, zoo_vision.hub, zoo_vision.demo, "
            "zoo_vision.augment; print([m for m in ('tensorflow', 'keras') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", list(IMAGENET_BACKBONES))
def test_backbone_builds_and_its_stages_cover_it_in_order(name):
    import keras

    from zoo.strategies.freeze import resolve_blocks
    from zoo_vision import plugin

    model = build_imagenet_backbone(name, None, 32)
    info = IMAGENET_BACKBONES[name]
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape[-1] == info["features"]
    assert model.count_params() == info["parameters"]  # the README's numbers
    blocks = backbone_blocks(name, model)
    resolve_blocks(plugin.backbones[name], model)  # the engine's check: known layers, in order, all weights
    first, last, count = STAGES[name]
    assert len(blocks) == count
    if first:
        assert blocks[0][0] == first
    if last:
        assert blocks[-1][0] == last
    names = [n for block in blocks for n in block]
    layers = [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert names == layers  # every layer, once, in model order


def test_stages_survive_auto_named_layers():
    """Keras numbers unnamed layers per session (re_lu_7, activation_12): building twice changes them."""
    a = backbone_blocks("mobilenet_v3_small", build_imagenet_backbone("mobilenet_v3_small", None, 32))
    b = backbone_blocks("mobilenet_v3_small", build_imagenet_backbone("mobilenet_v3_small", None, 32))
    assert [len(x) for x in a] == [len(x) for x in b]


def test_mobilenet_v2_stages_are_the_papers():
    blocks = backbone_blocks("mobilenet_v2", build_imagenet_backbone("mobilenet_v2", None, 32))
    inverted = [sorted({int(n.split("_")[1]) for n in block if n.startswith("block_")}) for block in blocks[2:-1]]
    assert inverted == [[1, 2], [3, 4, 5], [6, 7, 8, 9], [10, 11, 12], [13, 14, 15], [16]]
    assert all(n.startswith(("Conv1", "bn_Conv1")) for n in blocks[0])
    assert all(n.startswith("expanded_conv") for n in blocks[1])
    assert blocks[-1] == ["Conv_1", "Conv_1_bn", "out_relu"]


def test_unknown_backbone_and_small_size_are_config_errors():
    from zoo.errors import ConfigError
    from zoo_vision import plugin

    with pytest.raises(ConfigError, match="mobilenet_v2"):
        plugin.backbone("vgg16")
    with pytest.raises(ConfigError, match="at least 32"):
        build_imagenet_backbone("mobilenet_v2", None, 16)


@pytest.mark.parametrize("mode,reference", [
    ("tf", "mobilenet_v2"), ("torch", "densenet"), ("caffe", "resnet50")])
def test_preprocess_matches_keras_applications(mode, reference):
    import keras

    from zoo_vision.layers import ImageNetPreprocess

    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    expected = getattr(keras.applications, reference).preprocess_input(x.copy())
    got = keras.ops.convert_to_numpy(ImageNetPreprocess(mode=mode)(x))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_preprocess_modes_of_the_backbones():
    assert preprocess_mode("mobilenet_v2") == "tf"
    assert preprocess_mode("resnet50") == "caffe"
    for name in ("mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_v2_b0", "convnext_tiny"):
        assert preprocess_mode(name) == "none"  # keras.applications preprocess inside these models


def test_preprocess_layer_round_trips_in_safe_mode(tmp_path):
    import keras

    from zoo_vision.layers import ImageNetPreprocess

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, ImageNetPreprocess(mode="affine", scale=[0.5, 1.0, 2.0], offset=-1.0)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = np.full((1, 8, 8, 3), 10.0, "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0)[0, 0, 0], [4.0, 9.0, 19.0])
