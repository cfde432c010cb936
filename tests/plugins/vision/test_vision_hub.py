"""`--backbone hub:<preset-or-folder>`: keras-hub image backbones, loaded lazily."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vision_helpers import class_folder, load, recipe

from zoo.errors import ConfigError
from zoo_vision import plugin


def test_without_keras_hub_the_error_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_hub", None)  # `import keras_hub` now raises ImportError
    spec = plugin.backbone("hub:resnet_50_imagenet")
    from zoo.api import TensorSpec

    with pytest.raises(ConfigError, match="pip install keras-hub"):
        spec.build("preset", {"image": TensorSpec((64, 64, 3))}, plugin.options_for(recipe(image_size=64)))


def test_plain_names_are_not_hub_names():
    with pytest.raises(ConfigError, match="no backbone 'hubris'"):
        plugin.backbone("hubris")
    with pytest.raises(ConfigError, match="needs a keras-hub preset"):
        plugin.backbone("hub:")


@pytest.fixture(scope="module")
def local_preset(tmp_path_factory):
    """A small keras-hub ResNet written with save_to_preset, with its image converter."""
    keras_hub = pytest.importorskip("keras_hub")
    folder = tmp_path_factory.mktemp("hub_preset")
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 32],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        image_shape=(None, None, 3))
    backbone.save_to_preset(str(folder))
    converter = keras_hub.layers.ResNetImageConverter(image_size=(32, 32), scale=1 / 255.0, offset=-0.5)
    converter.save_to_preset(str(folder))
    return folder, backbone


def test_local_preset_folder_builds_and_assembles(local_preset, tmp_path):
    from zoo.strategies.freeze import resolve_blocks
    from zoo.training.finetune import assemble

    folder, original = local_preset
    name = f"hub:{folder}"
    spec = plugin.backbone(name)
    assert spec is plugin.backbone(name) and spec.default_weights == "preset"
    data = class_folder(tmp_path / "d", {"a": 3, "b": 3})
    r = recipe({"backbone": name}, image_size=32)
    options = plugin.options_for(r)
    bundle = load(data, r)
    model = spec.build("preset", bundle.input_signature, options)
    for a, b in zip(original.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    blocks = resolve_blocks(spec, model)
    assert [block[0].name for block in blocks] == ["conv1_pad", "stack0_block0_1_conv", "stack1_block0_1_pad"]
    prep = spec.preprocessing(bundle.input_signature, options)
    assert prep.mode == "affine" and prep.offset == -0.5
    parts = assemble(plugin, r, bundle)
    x = np.full((1, 32, 32, 3), 255.0, "float32")
    assert parts.model.predict({"image": x}, verbose=0).shape == (1, 2)


def test_unfetchable_preset_is_a_weights_error(local_preset, tmp_path):
    from zoo.api import TensorSpec
    from zoo.errors import WeightsError

    spec = plugin.backbone(f"hub:{tmp_path / 'nowhere'}")
    with pytest.raises((WeightsError, ConfigError)):
        spec.build("preset", {"image": TensorSpec((32, 32, 3))}, plugin.options_for(recipe(image_size=32)))
