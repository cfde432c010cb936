"""Image folders and CSVs: layouts, seeded stratified splits, bad input, predict-time reading."""

from __future__ import annotations

import numpy as np
import pytest

from vision_helpers import class_folder, load, recipe, write_corrupt, write_image

from zoo.errors import DataError
from zoo_vision import plugin

SMALL = {"image_size": 32}


def _labels(ds):
    return sorted(int(y) for _, y in ds.as_numpy_iterator())


def test_class_folders_split_stratified_and_seeded(tmp_path):
    import tensorflow as tf

    root = class_folder(tmp_path / "photos", {"cat": 20, "dog": 20, "owl": 12})
    bundle = load(str(root), recipe({"seed": 7}, **SMALL))
    assert bundle.class_names == ["cat", "dog", "owl"]
    counts = bundle.metadata["counts"]
    assert counts["train"] == {"cat": 14, "dog": 14, "owl": 8}
    assert counts["validation"] == {"cat": 3, "dog": 3, "owl": 2}  # 15% of each class, rounded
    assert counts["test"] == {"cat": 3, "dog": 3, "owl": 2}
    for split in (bundle.train, bundle.validation, bundle.test):
        assert int(split.cardinality()) == sum(1 for _ in split)
    x, y = next(iter(bundle.train))
    assert set(x) == {"image"} and x["image"].shape == (32, 32, 3) and x["image"].dtype == tf.float32
    assert y.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(x["image"])) and float(tf.reduce_max(x["image"])) <= 255.0
    assert bundle.input_signature["image"].shape == (32, 32, 3)

    def images(b):
        return np.stack([x["image"] for x, _ in b.validation.as_numpy_iterator()])

    same = load(str(root), recipe({"seed": 7}, **SMALL))
    other = load(str(root), recipe({"seed": 8}, **SMALL))
    np.testing.assert_array_equal(images(bundle), images(same))
    assert not np.array_equal(images(bundle), images(other))


def test_splits_follow_the_core_rule(tmp_path):
    """`zoo.data.split_indices`: a class of 2 still gives one image to validation (half-up rounding)."""
    from zoo.data import split_indices

    root = class_folder(tmp_path / "d", {"a": 2, "b": 5})
    bundle = load(root, recipe({"seed": 3}, **SMALL))
    counts = bundle.metadata["counts"]
    assert counts["train"] == {"a": 1, "b": 3}
    assert counts["validation"] == {"a": 1, "b": 1}
    assert counts["test"] == {"a": 0, "b": 1}
    _, val, _ = split_indices([0, 0, 1, 1, 1, 1, 1], 0.15, 0.15, seed=3)
    files = sorted(str(p) for p in root.rglob("*.png"))
    expected = np.stack([plugin.data.read_inputs([files[i]], bundle.input_signature, plugin.options_for(recipe()),
                                                 {}).inputs["image"][0] for i in val])
    got = np.stack([x["image"] for x, _ in bundle.validation.as_numpy_iterator()])
    np.testing.assert_array_equal(got, expected)


def test_train_val_test_folders_are_used_as_given(tmp_path):
    class_folder(tmp_path / "d" / "train", {"a": 5, "b": 4})
    class_folder(tmp_path / "d" / "val", {"a": 2, "b": 1}, seed=50)
    class_folder(tmp_path / "d" / "test", {"b": 3}, seed=80)
    bundle = load(str(tmp_path / "d"), recipe(**SMALL))
    assert bundle.metadata["layout"] == "splits"
    assert _labels(bundle.train) == [0] * 5 + [1] * 4
    assert _labels(bundle.validation) == [0, 0, 1]
    assert _labels(bundle.test) == [1, 1, 1]


def test_csv_of_paths_and_labels(tmp_path):
    for i in range(6):
        write_image(tmp_path / "imgs" / f"{i}.png", seed=i)
    rows = ["path,label"] + [f"imgs/{i}.png,{'round' if i % 2 else 'square'}" for i in range(6)]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    bundle = load(str(tmp_path / "labels.csv"), recipe({"val_fraction": 0.34, "test_fraction": 0.0},
                                                                    **SMALL))
    assert bundle.class_names == ["round", "square"]
    assert bundle.test is None
    assert len(_labels(bundle.train)) == 4 and _labels(bundle.validation) == [0, 1]


def test_jpeg_grayscale_only_folder_is_fine(tmp_path):
    for c in ("x", "y"):
        for i in range(4):
            write_image(tmp_path / "g" / c / f"{i}.jpg", seed=i, mode="L", fmt="JPEG")
    bundle = load(str(tmp_path / "g"), recipe(**SMALL))
    x, _ = next(iter(bundle.train))
    assert x["image"].shape == (32, 32, 3)  # one channel repeated into RGB


# --------------------------------------------------------------------------- bad input

def test_corrupt_image_is_named(tmp_path):
    root = class_folder(tmp_path / "d", {"a": 4, "b": 4})
    write_corrupt(root / "b" / "broken.png")
    (root / "a" / "notes.png").write_text("not an image")
    with pytest.raises(DataError) as info:
        load(str(root), recipe(**SMALL))
    message = str(info.value)
    assert "b/broken.png" in message and "a/notes.png" in message and "skip_bad_files" in message
    assert "\n" not in message


def test_skip_bad_files_leaves_them_out_and_counts_them(tmp_path):
    root = class_folder(tmp_path / "d", {"a": 4, "b": 4})
    write_corrupt(root / "b" / "broken.png")
    write_image(root / "a" / "rgba.png", mode="RGBA")
    bundle = load(str(root), recipe(**SMALL, skip_bad_files=True))
    assert bundle.metadata["skipped_files"] == 2
    assert {s["file"] for s in bundle.metadata["skipped"]} == {"b/broken.png", "a/rgba.png"}
    total = sum(sum(c.values()) for c in bundle.metadata["counts"].values())
    assert total == 8


def test_empty_class_folder_is_named(tmp_path):
    root = class_folder(tmp_path / "d", {"a": 3, "b": 3})
    (root / "c").mkdir()
    (root / "c" / "readme.txt").write_text("todo")
    with pytest.raises(DataError, match=r"class folder .*/c has no images \(it holds 1 other file"):
        load(str(root), recipe(**SMALL))
    bundle = load(str(root), recipe(**SMALL, skip_bad_files=True))
    assert bundle.class_names == ["a", "b"] and bundle.metadata["dropped_classes"] == ["c"]


def test_single_class_is_refused(tmp_path):
    root = class_folder(tmp_path / "d", {"only": 6})
    with pytest.raises(DataError, match="single class .*only"):
        load(str(root), recipe(**SMALL))


def test_mixed_channel_counts_name_the_odd_files(tmp_path):
    root = class_folder(tmp_path / "d", {"a": 4, "b": 4})
    write_image(root / "a" / "gray.png", mode="L")
    with pytest.raises(DataError, match=r"mixed channel counts .*a/gray\.png"):
        load(str(root), recipe(**SMALL))


def test_csv_with_a_missing_file_names_it_and_its_line(tmp_path):
    for i in range(4):
        write_image(tmp_path / f"{i}.png", seed=i)
    (tmp_path / "l.csv").write_text("path,label\n0.png,a\n1.png,b\nmissing.png,a\n2.png,a\n3.png,b\n")
    with pytest.raises(DataError, match=r"missing\.png \(line 4\)"):
        load(str(tmp_path / "l.csv"), recipe(**SMALL))


def test_loose_images_without_class_folders(tmp_path):
    write_image(tmp_path / "flat" / "a.png")
    with pytest.raises(DataError, match="no class sub-folders"):
        load(str(tmp_path / "flat"), recipe(**SMALL))


def test_unknown_option_and_bad_values_are_refused_by_the_declared_options():
    from zoo.errors import ConfigError

    with pytest.raises(ConfigError, match="image_sise"):
        recipe(image_sise=64)
    with pytest.raises(ConfigError, match="option image_size must be >= 32, got 8"):
        recipe(image_size=8)
    with pytest.raises(ConfigError, match="option image_size must be <= 1024, got 100000"):
        recipe(image_size=100000)
    with pytest.raises(ConfigError, match="option flip must be one of none, horizontal"):
        recipe(flip="diagonal")
    for key in ("rotation", "zoom", "contrast", "mixup", "cutmix"):
        with pytest.raises(ConfigError, match=f"option {key} must be >= 0"):
            recipe(**{key: -0.1})
    with pytest.raises(ConfigError, match="option zoom must be <= 0.99"):
        recipe(zoom=1.0)  # keras.layers.RandomZoom needs a factor below 1
    with pytest.raises(ConfigError, match="option augment must be true or false"):
        recipe(augment="maybe")
    with pytest.raises(ConfigError, match="option demo_images_per_class must be >= 4"):
        recipe(demo_images_per_class=3)
    # text from `-o KEY=VALUE` is converted to the declared types
    options = plugin.options_for(recipe(image_size="64", mixup="0.2", randaugment="yes"))
    assert (options.image_size, options.mixup, options.randaugment) == (64, 0.2, True)


def test_every_option_is_declared_with_help():
    from zoo.api import Option

    from zoo_vision.data import VisionOptions

    assert set(plugin.options) == {f for f in VisionOptions.__dataclass_fields__}
    for name, spec in plugin.options.items():
        assert isinstance(spec, Option) and spec.help, name
    assert VisionOptions.from_options(plugin.options_for(recipe())).image_size == 128


# --------------------------------------------------------------------------- predict-time reading

def test_read_inputs_decodes_like_training(tmp_path):
    from zoo.api import Rows, TensorSpec

    root = class_folder(tmp_path / "d", {"a": 4, "b": 4})
    r = recipe({"val_fraction": 0.25, "test_fraction": 0.0}, **SMALL)
    options = plugin.options_for(r)
    bundle = load(root, r)
    trained = {tuple(x["image"].reshape(-1)[:16]) for x, _ in bundle.train.as_numpy_iterator()}
    signature = {"image": TensorSpec((32, 32, 3))}
    files = sorted(str(p) for p in root.rglob("*.png"))
    rows = plugin.data.read_inputs(files, signature, options, {})
    assert isinstance(rows, Rows) and rows.sources == files and rows.context is None
    assert rows.inputs["image"].shape == (8, 32, 32, 3) and rows.inputs["image"].dtype == np.float32
    assert len(trained & {tuple(img.reshape(-1)[:16]) for img in rows.inputs["image"]}) == len(trained)
    # a folder expands to its images, one row (and one source) per file; results are named after them
    folder = plugin.data.read_inputs([str(root / "a"), files[-1]], signature, options, {})
    expected = sorted(str(p) for p in (root / "a").glob("*.png")) + [files[-1]]
    assert folder.sources == expected and folder.inputs["image"].shape[0] == 5
    folder.check()
    named = plugin.data.group_predictions(folder, np.arange(10.0).reshape(5, 2), options)
    assert [name for name, _ in named] == expected
    np.testing.assert_array_equal(named[2][1], [4.0, 5.0])
    with pytest.raises(DataError, match="nothing.png"):
        plugin.data.read_inputs([str(tmp_path / "nothing.png")], signature, options, {})
    with pytest.raises(DataError, match="holds no images"):
        (tmp_path / "hollow").mkdir()
        plugin.data.read_inputs([str(tmp_path / "hollow")], signature, options, {})


def test_read_inputs_without_a_fixed_size_uses_the_image_size_option(tmp_path):
    from zoo.api import TensorSpec

    path = write_image(tmp_path / "x.png")
    rows = plugin.data.read_inputs([str(path)], {"image": TensorSpec((None, None, 3))},
                                   plugin.options_for(recipe(image_size=48)), {})
    assert rows.inputs["image"].shape == (1, 48, 48, 3)


def test_write_examples_reads_back_as_one_row_each(tmp_path):
    from PIL import Image

    from zoo.api import TensorSpec
    from zoo_vision.demo import CLASSES

    r = recipe(**SMALL)
    options = plugin.options_for(r)
    paths = plugin.data.write_examples(tmp_path / "examples", r, options)
    assert len(paths) == len(CLASSES)
    formats = set()
    for path in paths:
        with Image.open(path) as image:
            formats.add(image.format)
            assert image.mode == "RGB"
    assert formats == {"PNG", "JPEG"}
    rows = plugin.data.read_inputs(paths, {"image": TensorSpec((32, 32, 3))}, options, {})
    assert rows.sources == paths and rows.inputs["image"].shape == (len(CLASSES), 32, 32, 3)
    # drawn after the demo's own images (indices 0..N-1), so none of them is one the demo trains on
    from zoo_vision.demo import render

    for c, path in enumerate(paths):
        if path.endswith(".png"):
            np.testing.assert_array_equal(np.asarray(Image.open(path)),
                                          np.asarray(render(c, options.demo_images_per_class)))


def test_bmps_tensorflow_decodes_wrongly_are_refused_with_the_file(tmp_path):
    """A 1-bit BMP fails in TensorFlow's decoder; a palette BMP decodes to wrong pixels. Both are named."""
    from PIL import Image

    root = class_folder(tmp_path / "d", {"a": 4, "b": 4})
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 2, (40, 40)).astype(bool)).save(root / "a" / "mono.bmp")
    Image.fromarray(rng.integers(0, 255, (40, 40, 3)).astype("uint8")).convert("P").save(root / "b" / "palette.bmp")
    with pytest.raises(DataError) as info:
        load(str(root), recipe(**SMALL))
    message = str(info.value)
    assert "a/mono.bmp" in message and "b/palette.bmp" in message and "\n" not in message
    bundle = load(str(root), recipe(**SMALL, skip_bad_files=True))
    problems = {s["file"]: s["reason"] for s in bundle.metadata["skipped"]}
    assert "1-bit BMP" in problems["a/mono.bmp"] and "palette" in problems["b/palette.bmp"]
