"""Weights: the shipped MobileNetV2 weights are real ImageNet weights; local files; offline downloads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from zoo.errors import WeightsError
from zoo.runs import sha256_file
from zoo_vision.backbones import SHIPPED_SHA256, build_imagenet_backbone, load_shipped_mobilenet_v2, shipped_weights_path

SIZE = 128


def _features(model, images):
    """L2-normalised average-pooled features of raw uint8 photos, resized to SIZE."""
    import keras

    from zoo_vision.layers import ImageNetPreprocess

    x = np.stack([keras.ops.convert_to_numpy(keras.ops.image.resize(img.astype("float32"), (SIZE, SIZE),
                                                                     antialias=True)) for img in images])
    f = keras.ops.convert_to_numpy(model(ImageNetPreprocess(mode="tf")(x))).mean(axis=(1, 2))
    return f / np.linalg.norm(f, axis=1, keepdims=True)


def _photo_crops():
    """Two overlapping crops of each of three scikit-image sample photos (cat, coffee, astronaut)."""
    from skimage import data

    cat, coffee, astronaut = data.chelsea(), data.coffee(), data.astronaut()
    return [cat[:, 0:300], cat[:, 151:451],
            coffee[0:400, 60:460], coffee[0:400, 180:580],
            astronaut[0:340, 60:400], astronaut[100:440, 120:460]]


def test_shipped_file_is_the_documented_one():
    assert shipped_weights_path().is_file()
    assert sha256_file(shipped_weights_path()) == SHIPPED_SHA256


def test_shipped_weights_see_photos_as_imagenet_features_do():
    """Crops of one photo land close together, crops of different photos far apart.

    Measured (cosine similarity of pooled features): same photo 0.76-0.89, different
    photos <= 0.64 with the shipped weights; random weights give about 0.98 for every pair
    (their pooled features hardly depend on the image). The asserted margins (same >= 0.7,
    different <= 0.7, and every crop's nearest neighbour is the other crop of its photo)
    fail for random weights.
    """
    crops = _photo_crops()
    sims = {}
    for weights in ("imagenet", None):
        f = _features(build_imagenet_backbone("mobilenet_v2", weights, SIZE), crops)
        sims[weights] = f @ f.T
    s = sims["imagenet"]
    photo = np.repeat(np.arange(3), 2)
    same_photo = (photo[:, None] == photo[None, :]) & ~np.eye(6, dtype=bool)
    same, different = s[same_photo], s[photo[:, None] != photo[None, :]]
    assert same.min() >= 0.7, s
    assert different.max() <= 0.7, s
    nearest = np.argsort(-s, axis=1)[:, 1]
    assert (photo[nearest] == photo).all(), s
    # the same measurement with random weights cannot tell the photos apart
    r = sims[None]
    assert r[photo[:, None] != photo[None, :]].min() > 0.9


def test_damaged_shipped_file_is_refused(tmp_path):
    bad = tmp_path / "mobilenet_v2.weights.h5"
    shutil.copy(shipped_weights_path(), bad)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    model = build_imagenet_backbone("mobilenet_v2", None, 32)
    with pytest.raises(WeightsError, match="sha256"):
        load_shipped_mobilenet_v2(model, bad)
    with pytest.raises(WeightsError, match="missing"):
        load_shipped_mobilenet_v2(model, tmp_path / "absent.weights.h5")


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, loading a mismatched file on purpose
def test_local_weights_files(tmp_path):
    import keras

    source = build_imagenet_backbone("mobilenet_v3_small", None, 32)
    source.save_weights(tmp_path / "small.weights.h5")
    loaded = build_imagenet_backbone("mobilenet_v3_small", str(tmp_path / "small.weights.h5"), 32)
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)

    # a .keras file holding a whole fine-tuned model: the backbone inside is found by its weights
    inputs = keras.Input((32, 32, 3))
    whole = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(source(inputs))))
    whole.save(tmp_path / "whole.keras")
    loaded = build_imagenet_backbone("mobilenet_v3_small", str(tmp_path / "whole.keras"), 32)
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)

    with pytest.raises(WeightsError, match="cannot load"):
        build_imagenet_backbone("mobilenet_v2", str(tmp_path / "small.weights.h5"), 32)
    with pytest.raises(WeightsError, match="no model inside"):
        build_imagenet_backbone("mobilenet_v2", str(tmp_path / "whole.keras"), 32)
    with pytest.raises(WeightsError, match="--weights none"):
        build_imagenet_backbone("mobilenet_v2", "imagenet21k", 32)


def test_offline_download_is_one_line_naming_the_ways_out(tmp_path):
    """No network (a proxy that refuses connections) and an empty Keras cache -> WeightsError."""
    code = textwrap.dedent("""
        from zoo.errors import WeightsError
        from zoo_vision.backbones import build_imagenet_backbone
        try:
            build_imagenet_backbone("mobilenet_v3_small", "imagenet", 32)
        except WeightsError as exc:
            print("WEIGHTS_ERROR", exc)
        else:
            print("DOWNLOADED")
    """)
    env = dict(os.environ, KERAS_HOME=str(tmp_path / "keras_home"), https_proxy="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9", no_proxy="", NO_PROXY="")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.startswith(("WEIGHTS_ERROR", "DOWNLOADED"))]
    assert lines and lines[0].startswith("WEIGHTS_ERROR"), out.stdout + out.stderr
    assert "--weights PATH" in lines[0] and "--weights none" in lines[0]
    assert "\n" not in lines[0]
