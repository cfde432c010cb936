"""vision-detect data: COCO, VOC and YOLO read to the same boxes; bad boxes named by file and line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from zoo.errors import DataError

BOXES = [(4, 6, 30, 26, 0), (20, 10, 60, 44, 1)]   # pixels of a 64 x 48 image
NAMES = ["cat", "dog"]


def opts(**over):
    from zoo_vision_detect.data import OPTIONS

    return {**{k: v.default for k, v in OPTIONS.items()}, **over}


def _image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3)).astype("uint8")).save(path)


def write_coco(root, boxes=BOXES):
    _image(root / "images" / "a.png")
    anns = [{"id": k + 1, "image_id": 7, "category_id": c + 10, "bbox": [x1, y1, x2 - x1, y2 - y1]}
            for k, (x1, y1, x2, y2, c) in enumerate(boxes)]
    data = {"images": [{"id": 7, "file_name": "a.png", "width": 64, "height": 48}], "annotations": anns,
            "categories": [{"id": 10, "name": "cat"}, {"id": 11, "name": "dog"}]}
    (root / "annotations.json").write_text(json.dumps(data))
    return root / "annotations.json"


def write_voc(root, boxes=BOXES):
    _image(root / "JPEGImages" / "a.png")
    objects = "".join(f"<object><name>{NAMES[c]}</name><bndbox><xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin>"
                      f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>" for x1, y1, x2, y2, c in boxes)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "Annotations" / "a.xml").write_text(f"<annotation><filename>a.png</filename>{objects}</annotation>")
    return root


def write_yolo(root, boxes=BOXES):
    _image(root / "images" / "a.png")
    (root / "labels").mkdir(parents=True, exist_ok=True)
    lines = [f"{c} {(x1 + x2) / 128} {(y1 + y2) / 96} {(x2 - x1) / 64} {(y2 - y1) / 48}" for x1, y1, x2, y2, c in boxes]
    (root / "labels" / "a.txt").write_text("\n".join(lines) + "\n")
    (root / "classes.txt").write_text("cat\ndog\n")
    return root


WRITERS = {"coco": write_coco, "voc": write_voc, "yolo": write_yolo}


@pytest.mark.parametrize("layout", WRITERS)
def test_each_layout_reads_the_same_boxes(tmp_path, layout):
    from zoo_vision_detect.data import label_array, scan_source

    listing = scan_source(WRITERS[layout](tmp_path), opts())
    assert listing.layout == layout and listing.class_names == NAMES
    (item,) = listing.items
    assert (item.width, item.height) == (64, 48)
    np.testing.assert_allclose([b[:4] for b in item.boxes], [b[:4] for b in BOXES], atol=1e-4)
    assert [b[4] for b in item.boxes] == [0, 1]
    label = label_array(item, 4)
    np.testing.assert_allclose(label[0], [4 / 64, 6 / 48, 30 / 64, 26 / 48, 0], atol=1e-6)
    assert (label[2:] == -1).all()


@pytest.mark.parametrize("layout,where", [("coco", "annotations.json, annotation 2"),
                                          ("voc", "object 2"), ("yolo", "labels/a.txt line 2")])
@pytest.mark.parametrize("bad,what", [((20, 10, 90, 44, 1), "outside"), ((20, 10, 21, 44, 1), "degenerate"),
                                      ((20, 10, 60, 44, 5), "is not")])
def test_bad_boxes_name_file_and_line_or_are_skipped_and_counted(tmp_path, layout, where, bad, what):
    from zoo_vision_detect.data import scan_source

    if layout == "voc" and what == "is not":
        pytest.skip("VOC classes are the names the files hold: none is unknown")
    source = WRITERS[layout](tmp_path, [BOXES[0], bad])
    with pytest.raises(DataError, match=rf"{where}.*{what}.*skip_bad_boxes=true"):
        scan_source(source, opts())
    listing = scan_source(source, opts(skip_bad_boxes=True))
    assert len(listing.items[0].boxes) == 1 and len(listing.skipped) == 1 and where in listing.skipped[0]


def test_too_many_boxes_and_unknown_layouts_say_the_fix(tmp_path):
    from zoo_vision_detect.data import scan_source

    source = write_yolo(tmp_path / "y")
    with pytest.raises(DataError, match="more than 1 boxes; raise -o max_boxes=2"):
        scan_source(source, opts(max_boxes=1))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no detection layout found"):
        scan_source(tmp_path / "empty", opts())


def test_flip_and_crop_move_the_boxes_with_the_image():
    """A bright square on black: after augmentation its box is where the bright pixels are."""
    import tensorflow as tf

    from zoo_vision_detect.data import BoxAugment

    images = np.zeros((8, 64, 64, 3), "float32")
    labels = -np.ones((8, 2, 5), "float32")
    for i in range(8):
        x0, y0 = 8 + 3 * i, 12 + 2 * i
        images[i, y0:y0 + 20, x0:x0 + 16] = 255
        labels[i, 0] = [x0 / 64, y0 / 64, (x0 + 16) / 64, (y0 + 20) / 64, 1]
    out, moved = BoxAugment(seed=3)({"image": tf.constant(images)}, tf.constant(labels), training=True)
    out, moved = out["image"].numpy(), moved.numpy()
    assert (moved[:, 1] == -1).all()                      # padding stays padding
    flipped = 0
    for i in range(8):
        ys, xs = np.nonzero(out[i, ..., 0] > 128)
        assert moved[i, 0, 4] == 1
        seen = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]) / 64
        np.testing.assert_allclose(moved[i, 0, :4], seen, atol=2.5 / 64)
        flipped += int(abs((moved[i, 0, 0] + moved[i, 0, 2]) / 2 - (labels[i, 0, 0] + labels[i, 0, 2]) / 2) > 0.15)
    assert flipped >= 1


def test_the_demo_boxes_are_tight_and_deterministic():
    from zoo_vision_detect.demo import render_scene

    image, boxes = render_scene(5)
    again, same = render_scene(5)
    assert boxes == same and np.array_equal(np.asarray(image), np.asarray(again))
    assert 1 <= len(boxes) <= 4
    for x1, y1, x2, y2, c in boxes:
        assert 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height and 0 <= c < 5
