"""Augmentation inside tf.data, and the generated demo data."""

from __future__ import annotations

import numpy as np

from vision_helpers import demo_cache, load, recipe, vision_env  # noqa: F401  (fixtures)

from zoo_vision import plugin
from zoo_vision.augment import ImageAugment


def _batch(n=8, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, size, size, 3)).astype("float32")


def _through_tf_data(augment, images):
    """Apply `augment` the way the engine does: mapped over batches of a tf.data pipeline."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(({"image": images}, np.zeros(len(images), "int32"))).batch(len(images))
    ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return next(iter(ds))[0]["image"].numpy()


def test_basic_and_randaugment_keep_shape_and_range():
    images = _batch()
    augment = ImageAugment(flip="horizontal_and_vertical", rotation=0.1, zoom=0.2, contrast=0.3, randaugment=True,
                           seed=3)
    out = _through_tf_data(augment, images)
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert not np.allclose(out, images)
    assert augment({"image": images}, training=False)["image"] is images


def test_mixup_keeps_each_image_dominant():
    """Label-preserving MixUp: each output is lam * own + (1 - lam) * other with lam >= 0.5."""
    images = np.stack([np.full((16, 16, 3), v, "float32") for v in (0.0, 100.0, 200.0, 250.0)])
    out = _through_tf_data(ImageAugment(flip="none", rotation=0, zoom=0, contrast=0, mixup=1.0, seed=1), images)
    values = images[:, 0, 0, 0]
    for own, got in zip(values, out[:, 0, 0, 0]):
        # got = lam * own + (1 - lam) * partner for some partner in the batch, lam in [0.5, 1]
        lams = [(got - other) / (own - other) for other in values if other != own]
        assert np.isclose(got, own, atol=1e-3) or any(0.5 - 1e-4 <= lam <= 1.0 + 1e-4 for lam in lams)
    assert np.allclose(out, out[:, :1, :1, :])  # uniform images stay uniform


def test_cutmix_pastes_less_than_half():
    images = np.stack([np.full((20, 20, 3), v, "float32") for v in (0.0, 60.0, 120.0, 180.0, 240.0)])
    out = _through_tf_data(ImageAugment(flip="none", rotation=0, zoom=0, contrast=0, cutmix=1.0, seed=2), images)
    for own, got in zip(images, out):
        kept = np.isclose(got[..., 0], own[0, 0, 0]).mean()
        assert kept >= 0.5 - 1e-6


def test_options_build_the_augmentation(tmp_path, vision_env):
    from vision_helpers import class_folder

    root = class_folder(tmp_path / "d", {"a": 3, "b": 3})
    bundle = load(root, recipe(image_size=32, randaugment=True, mixup=0.2, cutmix=0.5))
    described = bundle.metadata["augment"]
    assert described["layers"] == ["RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast", "RandAugment"]
    assert described["mixup"] == 0.2 and described["cutmix"] == 0.5
    assert load(root, recipe(image_size=32, augment=False)).augment is None


def test_demo_is_generated_once_as_png_files_and_deterministic(vision_env, tmp_path, monkeypatch):
    from PIL import Image

    from zoo_vision.demo import CLASSES, VERSION, ensure_demo, render

    r = recipe(image_size=32)
    bundle = plugin.data.demo(r, plugin.options_for(r))
    root = vision_env / VERSION / "60-per-class"
    assert bundle.metadata["source"] == str(root)
    assert bundle.class_names == sorted(CLASSES)
    files = sorted(root.rglob("*.png"))
    assert len(files) == 60 * len(CLASSES)
    with Image.open(files[0]) as image:
        assert image.format == "PNG" and image.mode == "RGB" and 112 <= min(image.size) <= max(image.size) <= 160
    np.testing.assert_array_equal(np.asarray(render(2, 7)), np.asarray(render(2, 7)))
    # another cache folder gets the very same pixels
    monkeypatch.setenv("KERAS_ZOO_CACHE", str(tmp_path / "other"))
    small = ensure_demo(4)
    assert small == tmp_path / "other" / VERSION / "4-per-class"
    for name in CLASSES:
        a = np.asarray(Image.open(small / name / f"{name}_003.png"))
        b = np.asarray(Image.open(root / name / f"{name}_003.png"))
        np.testing.assert_array_equal(a, b)


def test_demo_goes_through_the_folder_loader(vision_env):
    r = recipe(image_size=32, demo_images_per_class=8)
    bundle = plugin.data.demo(r, plugin.options_for(r))
    assert bundle.metadata["layout"] == "demo"
    assert bundle.metadata["counts"]["train"] == {name: 6 for name in bundle.class_names}
    assert bundle.metadata["counts"]["validation"] == {name: 1 for name in bundle.class_names}
