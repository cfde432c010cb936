"""Quantisation-aware epochs: kernels on the int8 grid that LiteRT's int8 weights reproduce exactly."""

import json

import numpy as np
import pytest

from zoo.errors import ConfigError
from zoo.training import int8_grid
from zoo.training.finetune import finetune


def test_snap_rounds_each_output_channel_to_its_own_symmetric_grid():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (3, 3, 4, 6)).astype("float32") * np.arange(1, 7, dtype="float32")
    w[..., 2] = 0.0  # a dead channel stays zero, not NaN
    q = int8_grid.snap(w)
    assert np.array_equal(int8_grid.snap(q), q)  # a rounded kernel is its own rounding
    for c in range(6):
        scale = np.abs(w[..., c]).max() / 127
        if scale == 0:
            assert not q[..., c].any()
            continue
        steps = q[..., c] / scale
        assert np.allclose(steps, np.round(steps), atol=1e-4) and np.abs(steps).max() == pytest.approx(127)
        assert np.abs(q[..., c] - w[..., c]).max() <= scale / 2 + 1e-7
    # a depthwise kernel's channels are its last two axes (channels x multiplier)
    d = rng.normal(0, 1, (3, 3, 4, 2)).astype("float32")
    d[..., 1, 0] *= 100
    per_channel = int8_grid.snap(d, depthwise=True)
    assert np.abs(per_channel[..., 0, 0] - d[..., 0, 0]).max() <= np.abs(d[..., 0, 0]).max() / 254 + 1e-7


def test_straight_through_accumulates_steps_smaller_than_the_grid():
    """Rounding after each step would undo every update below half a grid step; the float copy
    keeps them, so the rounded kernel moves once they add up."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, use_bias=False)])
    model.layers[0].kernel.assign(np.linspace(-1, 1, 8, dtype="float32")[:, None])
    x = np.random.default_rng(1).normal(0, 1, (256, 8)).astype("float32")
    y = x @ np.full((8, 1), 0.5, "float32")
    start = int8_grid.snap(model.layers[0].kernel.numpy())
    model.layers[0].kernel.assign(start)
    model.compile(keras.optimizers.SGD(1e-4), "mse")  # about 1e-4 a step, a grid step is 1/127
    model.fit(x, y, batch_size=32, epochs=20, verbose=0, callbacks=[int8_grid.straight_through(model.layers)])
    end = model.layers[0].kernel.numpy()
    assert int8_grid.on_grid(model.layers[0])
    assert not np.array_equal(end, start)
    assert np.abs(end - 0.5).mean() < np.abs(start - 0.5).mean()


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    import keras

    from zoo_toy import build_backbone

    keras.utils.set_random_seed(7)
    model = build_backbone(None, None)
    path = tmp_path_factory.mktemp("weights") / "toy.weights.h5"
    model.save_weights(path)
    return path


@pytest.mark.parametrize("strategy", ["linear-probe", "partial"])
def test_quantize_aware_run_saves_kernels_that_int8_weights_reproduce(toy_plugin, tmp_path, pretrained, strategy):
    import keras
    import tensorflow as tf

    from zoo_export import tflite
    from zoo_export.runtime import load_artifact

    recipe = toy_plugin.resolve_recipe(overrides={"weights": str(pretrained), "epochs": 1, "max_samples": 128,
                                                  "strategy": strategy, "quantize_aware_epochs": 2})
    result = finetune(toy_plugin, recipe, runs_dir=tmp_path, verbose=0)
    record = json.loads((result.path / "zoo.json").read_text())["quantize_aware"]
    layers = int8_grid.grid_layers(result.model)
    assert record["layers"] == len(layers) >= 4 and record["epochs"] == 2
    assert record["kernels_trained"] == (1 if strategy == "linear-probe" else
                                         sum(layer.trainable for layer in layers))
    assert "accuracy" in record["validation_before"] and "accuracy" in record["test_before"]
    saved = keras.models.load_model(result.path / "model.keras", compile=False)
    assert all(int8_grid.on_grid(layer) for layer in int8_grid.grid_layers(saved))
    # int8 weights, float compute: the rounding LiteRT does is already done, batch norm folded or not
    x = np.random.default_rng(3).uniform(0, 255, (16, *saved.input_shape[1:])).astype("float32")
    float32 = tf.lite.TFLiteConverter.from_keras_model(saved).convert()
    path = tmp_path / "weights.tflite"
    path.write_bytes(tflite.weight_only_int8(float32))
    name = saved.input_names[0] if hasattr(saved, "input_names") else saved.inputs[0].name
    out = load_artifact(path)({name: x})
    ref = saved.predict({name: x}, verbose=0)
    assert np.abs(out - ref).max() < 1e-5  # rounding these kernels afresh moves the outputs about 3e-4


def test_quantize_aware_refuses_lora(toy_plugin):
    with pytest.raises(ConfigError, match="quantize_aware_epochs.*lora"):
        toy_plugin.resolve_recipe(overrides={"strategy": "lora", "quantize_aware_epochs": 1})
