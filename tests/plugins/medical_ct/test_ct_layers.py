"""CT windows in the graph: known HU -> known channel values; serialisation; the preprocessing stack."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.api import TensorSpec
from zoo.errors import ConfigError


def hu_batch(values) -> np.ndarray:
    return np.asarray(values, "float32").reshape(1, 1, -1, 1)


@pytest.mark.parametrize("window, hu, expected", [
    # lung W1500/L-600: -1350 -> 0, -600 -> 127.5, 150 -> 255
    ("lung", [-2000, -1350, -600, -225, 150, 1000], [0, 0, 127.5, 191.25, 255, 255]),
    # mediastinum W350/L50: -125 -> 0, 50 -> 127.5, 225 -> 255; 0 HU -> 125/350*255
    ("mediastinum", [-1000, -125, 0, 50, 225, 700], [0, 0, 125 / 350 * 255, 127.5, 255, 255]),
    # bone W2000/L500: -500 -> 0, 500 -> 127.5, 1500 -> 255
    ("bone", [-1000, -500, 0, 500, 1500, 3000], [0, 0, 63.75, 127.5, 255, 255]),
    # brain W80/L40: 0 -> 0, 40 -> 127.5, 80 -> 255; 30 HU -> 30/80*255
    ("brain", [-10, 0, 30, 40, 80, 90], [0, 0, 95.625, 127.5, 255, 255]),
    ({"width": 400, "level": 40}, [-160, 40, 140, 240], [0, 127.5, 191.25, 255]),
])
def test_window_maps_known_hu_to_known_values(window, hu, expected):
    from zoo_medical_ct.layers import CTWindow

    out = np.asarray(CTWindow(windows=[window])(hu_batch(hu)))
    np.testing.assert_allclose(out.reshape(-1), expected, rtol=1e-6, atol=1e-4)


def test_default_windows_make_three_channels_in_order():
    from zoo_medical_ct.layers import CTWindow
    from zoo_medical_ct.windows import window_numpy

    hu = np.random.default_rng(0).uniform(-1200, 1500, (2, 5, 5, 1)).astype("float32")
    out = np.asarray(CTWindow()(hu))
    assert out.shape == (2, 5, 5, 3)
    for channel, (width, level) in enumerate([(1500, -600), (350, 50), (2000, 500)]):
        np.testing.assert_allclose(out[..., channel], window_numpy(hu[..., 0], width, level), atol=1e-3)


def test_adjacent_slices_are_windowed_channel_by_channel():
    from zoo_medical_ct.layers import CTWindow

    hu = np.stack([np.full((1, 2, 2), v, "float32") for v in (-600, 0, 150)], axis=-1)   # (1, 2, 2, 3)
    out = np.asarray(CTWindow(windows=["lung"])(hu))
    np.testing.assert_allclose(out[0, 0, 0], [127.5, 229.5, 255.0])   # (hu + 1350) / 1500 * 255


def test_resizes_to_the_backbone_size():
    from zoo_medical_ct.layers import CTWindow

    out = np.asarray(CTWindow(windows=["lung"], size=8)(np.full((1, 4, 4, 1), -600.0, "float32")))
    assert out.shape == (1, 8, 8, 1)
    np.testing.assert_allclose(out, 127.5)


def test_computes_in_float32_under_mixed_precision():
    import keras

    from zoo_medical_ct.layers import CTWindow

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = CTWindow(windows=["brain"])
        out = np.asarray(layer(hu_batch([33.0, 41.0])))
    finally:
        keras.config.set_dtype_policy("float32")
    # bfloat16 would round 33 and 41 HU to 33 and 41 but their windowed values 70.125, 95.625 to 70, 95.5
    np.testing.assert_allclose(out.reshape(-1), [(33 - 0) / 80 * 255, (41 - 0) / 80 * 255], atol=1e-3)


def test_bad_windows_are_config_errors():
    from zoo_medical_ct.layers import CTWindow

    with pytest.raises(ConfigError, match="unknown CT window 'liver'"):
        CTWindow(windows=["liver"])
    with pytest.raises(ConfigError, match="width must be > 0"):
        CTWindow(windows=[{"width": 0, "level": 40}])


def test_a_model_with_windows_saves_and_loads_in_safe_mode(tmp_path):
    import keras

    from zoo_medical_ct.layers import CTWindow

    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, CTWindow(windows=["lung", {"width": 400, "level": 40}], size=6)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True, compile=False)
    x = np.random.default_rng(1).uniform(-1000, 400, (2, 4, 4, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-5)
    assert loaded.layers[-1].get_config()["windows"][1] == {"name": "W400/L40", "width": 400.0, "level": 40.0}


def test_plugin_preprocessing_is_windows_then_imagenet_scaling():
    from zoo_medical_ct import plugin

    prep = plugin.backbone("mobilenet_v2").preprocessing({"hu": TensorSpec((4, 4, 1))},
                                                          plugin.options_for(plugin.resolve_recipe()))
    assert [layer.__class__.__name__ for layer in prep.layers] == ["CTWindow", "ImageNetPreprocess"]
    # -600 HU: lung 127.5 -> 0.0; mediastinum 0 -> -1.0; bone 0 -> -1.0 (MobileNetV2 scales to -1..1)
    out = np.asarray(prep(np.full((1, 4, 4, 1), -600.0, "float32")))
    np.testing.assert_allclose(out[0, 0, 0], [0.0, -1.0, -1.0], atol=1e-6)
