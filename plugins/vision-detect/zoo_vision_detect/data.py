"""Detection data: COCO JSON, Pascal VOC XML and YOLO txt, detected by layout; boxes checked with file and line.

Layouts `DetectData.load(source, recipe, options)` reads:

- **COCO**: a `.json` file (or a folder holding exactly one) with `images`, `annotations` and
  `categories`; image files relative to the JSON's folder or its `images/` sub-folder.
  Problems are named as `annotations.json, annotation 17 (image scene_3.png)`.
- **Pascal VOC**: a folder with `Annotations/*.xml` and `JPEGImages/` (or the images next to the
  XML files); classes are the object names found, sorted. Problems: `Annotations/x.xml, object 2`.
- **YOLO**: a folder with `images/` and `labels/` (one `.txt` per image, lines `class cx cy w h`
  in fractions of the image) and the class names in `classes.txt` (or `obj.names`), one a line.
  Problems: `labels/x.txt line 3`.

A box outside the image (beyond one pixel), smaller than `min_box_pixels` on a side (degenerate),
of an unknown class, or more boxes in an image than `max_boxes`, raises `DataError` naming the
file and line; `-o skip_bad_boxes=true` leaves such boxes out instead and counts them in the run
(`zoo.json` metadata). A box that overruns the image by less than a pixel is clipped. Images
without boxes are kept (negatives) and counted.

Each element is `({"image": float32 (S, S, 3) in 0..255}, float32 (max_boxes, 5))`: the image
resized to S x S (no letterbox; boxes are in fractions of the image, which a resize keeps) and
its boxes `[x1, y1, x2, y2, class]`, rows of class -1 padding.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from zoo.api import DataAdapter, DataBundle, Option, Rows, TensorSpec
from zoo.data import split_indices
from zoo.errors import DataError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
EDGE_TOLERANCE = 1.0  #: pixels a box may overrun the image by and be clipped
MAX_NAMED = 50

OPTIONS: dict[str, Option] = {
    "image_size": Option(128, "square input side in pixels, a multiple of 32 (images are resized to it)", type=int,
                         min=64, max=1024),
    "max_boxes": Option(20, "boxes per image kept in a label (more is an error, or skipped)", type=int, min=1,
                        max=1000),
    "min_box_pixels": Option(2.0, "a box narrower or lower than this many pixels is degenerate", type=float,
                             min=0.0),
    "skip_bad_boxes": Option(False, "leave out bad boxes (outside the image, degenerate, unknown class) and "
                             "count them instead of stopping", type=bool),
    "augment": Option(True, "horizontal flip and scale-jitter crops that move the boxes with the image", type=bool),
    "pyramid_channels": Option(64, "channels of the feature pyramid and its tower", type=int, min=8, max=512),
    "demo_scenes": Option(480, "scenes of the generated demo data", type=int, min=12),
}


@dataclass
class Item:
    """One image and its boxes, in pixels of the image file."""

    path: str
    width: int
    height: int
    boxes: list[tuple[float, float, float, float, int]] = field(default_factory=list)


@dataclass
class Listing:
    items: list[Item]
    class_names: list[str]
    layout: str
    skipped: list[str] = field(default_factory=list)


class _Checker:
    """Checks boxes against their image and the classes; raises, or counts with `skip`."""

    def __init__(self, opts: Mapping[str, Any]):
        self.skip = bool(opts["skip_bad_boxes"])
        self.min_side = float(opts["min_box_pixels"])
        self.max_boxes = int(opts["max_boxes"])
        self.skipped: list[str] = []

    def problem(self, where: str, message: str, fix: str) -> None:
        if not self.skip:
            raise DataError(f"{where}: {message}; {fix}, or pass -o skip_bad_boxes=true to leave such boxes out")
        self.skipped.append(f"{where}: {message}")

    def box(self, where: str, item: Item, x1, y1, x2, y2, cls: int, n_classes: int) -> None:
        if not 0 <= cls < n_classes:
            return self.problem(where, f"class {cls} is not one of the {n_classes} classes", "fix the class id")
        if min(x1, y1) < -EDGE_TOLERANCE or x2 > item.width + EDGE_TOLERANCE or y2 > item.height + EDGE_TOLERANCE:
            return self.problem(where, f"box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside the "
                                f"{item.width}x{item.height} image", "fix the coordinates")
        x1, y1 = max(0.0, x1), max(0.0, y1)
        x2, y2 = min(float(item.width), x2), min(float(item.height), y2)
        if x2 - x1 < self.min_side or y2 - y1 < self.min_side:
            return self.problem(where, f"box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) is degenerate (a side under "
                                f"{self.min_side:g} px)", "remove it or lower -o min_box_pixels")
        if len(item.boxes) >= self.max_boxes:
            return self.problem(where, f"image {Path(item.path).name} has more than {self.max_boxes} boxes",
                                f"raise -o max_boxes={self.max_boxes * 2}")
        item.boxes.append((x1, y1, x2, y2, cls))


def _image_size(path: Path, where: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise DataError(f"{where}: image {path} does not exist; fix the file name or add the image") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"{where}: image {path} cannot be read ({exc}); replace or remove it") from None


# --------------------------------------------------------------------------- COCO

def read_coco(path: Path, opts: Mapping[str, Any]) -> Listing:
    """A COCO JSON file -> `Listing` (category ids mapped to 0.. in the order of `categories`)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not readable COCO JSON ({exc}); fix the file") from None
    missing = [k for k in ("images", "annotations", "categories") if not isinstance(data, dict) or k not in data]
    if missing:
        raise DataError(f"{path}: a COCO file needs {', '.join(missing)}; this one has "
                        f"{sorted(data) if isinstance(data, dict) else type(data).__name__}")
    categories = data["categories"]
    index = {int(c["id"]): i for i, c in enumerate(categories)}
    names = [str(c.get("name", c["id"])) for c in categories]
    check = _Checker(opts)
    items: dict[int, Item] = {}
    for k, image in enumerate(data["images"]):
        where = f"{path.name}, image {k}"
        try:
            file_name, image_id = str(image["file_name"]), int(image["id"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{where}: an image needs 'id' and 'file_name'; fix the entry") from None
        candidates = [path.parent / file_name, path.parent / "images" / file_name]
        found = next((p for p in candidates if p.is_file()), candidates[0])
        w, h = _image_size(found, where)
        items[image_id] = Item(str(found), w, h)
    for k, ann in enumerate(data["annotations"]):
        where = f"{path.name}, annotation {ann.get('id', k) if isinstance(ann, dict) else k}"
        try:
            item = items[int(ann["image_id"])]
            x, y, bw, bh = (float(v) for v in ann["bbox"])
            category = int(ann["category_id"])
        except KeyError as exc:
            raise DataError(f"{where}: {'its image is not in images' if exc.args[0] != 'bbox' else 'no bbox'} "
                            f"({exc}); fix the annotation") from None
        except (TypeError, ValueError):
            raise DataError(f"{where}: bbox must be [x, y, width, height] numbers; fix the annotation") from None
        where += f" (image {Path(item.path).name})"
        if category not in index:
            check.problem(where, f"category_id {category} is not in categories",
                          "add the category or fix the id")
            continue
        check.box(where, item, x, y, x + bw, y + bh, index[category], len(names))
    return Listing(list(items.values()), names, "coco", check.skipped)


# --------------------------------------------------------------------------- Pascal VOC

def read_voc(folder: Path, opts: Mapping[str, Any]) -> Listing:
    """A VOC folder (`Annotations/*.xml`, `JPEGImages/`) -> `Listing`; classes are the names found, sorted."""
    xml_dir = folder / "Annotations" if (folder / "Annotations").is_dir() else folder
    files = sorted(xml_dir.glob("*.xml"))
    parsed = []
    for xml in files:
        try:
            root = ET.parse(xml).getroot()
        except ET.ParseError as exc:
            raise DataError(f"{xml}: not valid XML ({exc}); fix the file") from None
        objects = []
        for k, obj in enumerate(root.findall("object"), 1):
            name, box = obj.findtext("name"), obj.find("bndbox")
            where = f"{xml.relative_to(folder)}, object {k}"
            if name is None or box is None:
                raise DataError(f"{where}: an object needs <name> and <bndbox>; fix the file")
            try:
                coords = [float(box.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax")]
            except (TypeError, ValueError):
                raise DataError(f"{where}: <bndbox> needs numeric xmin, ymin, xmax, ymax; fix the file") from None
            objects.append((where, name.strip(), coords))
        parsed.append((xml, root.findtext("filename"), objects))
    names = sorted({name for _, _, objs in parsed for _, name, _ in objs})
    check = _Checker(opts)
    items = []
    for xml, file_name, objects in parsed:
        image_dirs = [folder / "JPEGImages", folder / "images", xml.parent]
        stem_matches = [p for d in image_dirs for p in ([d / file_name] if file_name else [])
                        + [d / (xml.stem + e) for e in IMAGE_EXTENSIONS]]
        found = next((p for p in stem_matches if p.is_file()), None)
        if found is None:
            raise DataError(f"{xml.relative_to(folder)}: its image {file_name or xml.stem} is in none of "
                            "JPEGImages/, images/ or the XML's folder; add it")
        item = Item(str(found), *_image_size(found, str(xml.relative_to(folder))))
        for where, name, (x1, y1, x2, y2) in objects:
            check.box(where, item, x1 - 1, y1 - 1, x2, y2, names.index(name), len(names))  # VOC is 1-based
        items.append(item)
    return Listing(items, names, "voc", check.skipped)


# --------------------------------------------------------------------------- YOLO

def read_yolo(folder: Path, opts: Mapping[str, Any]) -> Listing:
    """A YOLO folder (`images/`, `labels/`, `classes.txt`) -> `Listing`."""
    names_file = next((folder / n for n in ("classes.txt", "obj.names") if (folder / n).is_file()), None)
    if names_file is None:
        raise DataError(f"{folder}: a YOLO folder needs classes.txt (or obj.names), one class name a line; add it")
    names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    images = sorted(p for p in (folder / "images").rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise DataError(f"{folder / 'images'}: no images ({', '.join(IMAGE_EXTENSIONS)}); add them")
    check = _Checker(opts)
    items = []
    for image in images:
        rel = image.relative_to(folder / "images")
        label = (folder / "labels" / rel).with_suffix(".txt")
        item = Item(str(image), *_image_size(image, str(rel)))
        lines = label.read_text().splitlines() if label.is_file() else []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"labels/{rel.with_suffix('.txt')} line {n}"
            parts = line.split()
            try:
                cls, cx, cy, bw, bh = int(parts[0]), *(float(v) for v in parts[1:5])
                if len(parts) != 5:
                    raise ValueError
            except (ValueError, IndexError):
                raise DataError(f"{where}: {line.strip()!r} is not 'class cx cy w h'; fix the line") from None
            w, h = item.width, item.height
            check.box(where, item, (cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h, cls,
                      len(names))
        items.append(item)
    return Listing(items, names, "yolo", check.skipped)


def scan_source(source: str | Path, opts: Mapping[str, Any]) -> Listing:
    """Detect the layout of `source` and read it."""
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path} does not exist; pass a COCO .json file or a VOC or YOLO folder")
    if path.is_file():
        if path.suffix.lower() != ".json":
            raise DataError(f"{path}: a file source must be COCO JSON (.json); pass a VOC or YOLO folder otherwise")
        return read_coco(path, opts)
    if (path / "Annotations").is_dir() or any(path.glob("*.xml")):
        return read_voc(path, opts)
    if (path / "labels").is_dir() and (path / "images").is_dir():
        return read_yolo(path, opts)
    found = sorted(path.glob("*.json"))
    if len(found) == 1:
        return read_coco(found[0], opts)
    raise DataError(f"{path}: no detection layout found (a COCO .json, Annotations/ of VOC XML, or YOLO images/ "
                    "and labels/); see the plugin's README for the layouts")


# --------------------------------------------------------------------------- tensors

def label_array(item: Item, max_boxes: int):
    """`(max_boxes, 5)` float32: the item's boxes in fractions of its image, then -1 rows."""
    import numpy as np

    out = -np.ones((max_boxes, 5), np.float32)
    for k, (x1, y1, x2, y2, c) in enumerate(item.boxes[:max_boxes]):
        out[k] = [x1 / item.width, y1 / item.height, x2 / item.width, y2 / item.height, c]
    return out


def make_dataset(items: Sequence[Item], size: int, max_boxes: int):
    """Unbatched `({"image"}, boxes)` elements; decoded images cached (uint8) after the first pass."""
    import numpy as np
    import tensorflow as tf

    from zoo_vision.data import decode_resize

    paths = [it.path for it in items]
    labels = np.stack([label_array(it, max_boxes) for it in items]) if items else np.zeros((0, max_boxes, 5), "float32")
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(lambda p, y: (tf.cast(tf.clip_by_value(tf.round(decode_resize(tf.io.read_file(p), size)), 0, 255),
                                      tf.uint8), y), num_parallel_calls=tf.data.AUTOTUNE).cache()
    return ds.map(lambda im, y: ({"image": tf.cast(im, tf.float32)}, y))


class BoxAugment:
    """Flip and scale-jitter crop of training batches that move the boxes with the image (`with_labels`).

    Per image: a horizontal flip with probability 0.5, then a square crop of 70-100% of the side at
    a random place, resized back; boxes follow, are clipped to the crop, and a box left with under
    40% of its area (or a side under 1% of the image) becomes padding.
    """

    with_labels = True

    def __init__(self, seed: int, min_scale: float = 0.7, keep_area: float = 0.4):
        self.seed, self.min_scale, self.keep_area = int(seed), float(min_scale), float(keep_area)
        self._rng = None

    def describe(self) -> dict:
        return {"flip": "horizontal", "crop_scale": [self.min_scale, 1.0], "box_kept_above_area": self.keep_area}

    def __call__(self, inputs, labels, training=True):
        import tensorflow as tf

        if not training:
            return inputs, labels
        if self._rng is None:
            self._rng = tf.random.Generator.from_seed(self.seed)
        images = inputs["image"]
        n = tf.shape(images)[0]
        size = (int(images.shape[1]), int(images.shape[2]))  # static: the detector's grid depends on it
        labels = tf.cast(labels, tf.float32)
        valid = labels[..., 4:5] >= 0
        flip = self._rng.uniform([n]) < 0.5
        images = tf.where(flip[:, None, None, None], images[:, :, ::-1, :], images)
        x1, y1, x2, y2, cls = tf.unstack(labels, axis=-1)
        f = flip[:, None]
        x1, x2 = tf.where(f, 1.0 - x2, x1), tf.where(f, 1.0 - x1, x2)
        scale = self._rng.uniform([n], self.min_scale, 1.0)
        ox = self._rng.uniform([n]) * (1.0 - scale)
        oy = self._rng.uniform([n]) * (1.0 - scale)
        crop = tf.stack([oy, ox, oy + scale, ox + scale], axis=-1)
        images = tf.image.crop_and_resize(images, crop, tf.range(n), size)
        s, ox, oy = scale[:, None], ox[:, None], oy[:, None]
        nx1, ny1, nx2, ny2 = (x1 - ox) / s, (y1 - oy) / s, (x2 - ox) / s, (y2 - oy) / s
        area = tf.maximum(nx2 - nx1, 0.0) * tf.maximum(ny2 - ny1, 0.0)
        cx1, cy1 = tf.clip_by_value(nx1, 0.0, 1.0), tf.clip_by_value(ny1, 0.0, 1.0)
        cx2, cy2 = tf.clip_by_value(nx2, 0.0, 1.0), tf.clip_by_value(ny2, 0.0, 1.0)
        kept = (cx2 - cx1) * (cy2 - cy1)
        keep = (valid[..., 0] & (kept >= self.keep_area * area) & (cx2 - cx1 > 0.01) & (cy2 - cy1 > 0.01))
        moved = tf.stack([cx1, cy1, cx2, cy2, cls], axis=-1)
        moved = tf.where(keep[..., None], moved, -tf.ones_like(moved))
        return {**inputs, "image": tf.cast(images, inputs["image"].dtype)}, tf.cast(moved, labels.dtype)


# --------------------------------------------------------------------------- the adapter

class DetectData(DataAdapter):
    """COCO / VOC / YOLO sources -> `DataBundle`; `demo()` -> the generated scenes (a COCO file)."""

    def load(self, source: str, recipe, options) -> DataBundle:
        return self._bundle(scan_source(source, options), recipe, options, str(source))

    def demo(self, recipe, options) -> DataBundle:
        from zoo_vision_detect.demo import ensure_demo

        root = ensure_demo(int(options["demo_scenes"]))
        listing = read_coco(root / "annotations.json", options)
        listing.layout = "demo"
        return self._bundle(listing, recipe, options, str(root))

    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, TensorSpec], options,
                    deployment: Mapping[str, Any]) -> Rows:
        """Image files (or folders of them) -> `Rows` of float32 (S, S, 3) images, decoded as in training."""
        from zoo_vision.data import expand_inputs, read_images

        spec = input_signature.get("image") if input_signature else None
        size = int(spec.shape[0]) if spec is not None and spec.shape[0] is not None else int(options["image_size"])
        files = expand_inputs(paths)
        return Rows({"image": read_images(files, size)}, sources=files)

    def list_inputs(self, paths: Sequence[str], options) -> list[str]:
        from zoo_vision.data import expand_inputs

        return expand_inputs(paths)

    def write_examples(self, folder, recipe, options) -> list[str]:
        """Three scenes drawn like the demo's, after its own indices (none is a training image)."""
        from zoo_vision_detect.demo import render_scene

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for k in range(3):
            image, _ = render_scene(int(options["demo_scenes"]) + k)
            path = folder / (f"scene_{k}.jpg" if k % 2 else f"scene_{k}.png")
            image.save(path, **({"format": "JPEG", "quality": 95} if k % 2 else {"format": "PNG"}))
            written.append(str(path))
        return written

    def _bundle(self, listing: Listing, recipe, options, source: str) -> DataBundle:
        import numpy as np

        items = listing.items
        if len(items) < 3:
            raise DataError(f"{source}: {len(items)} images; a detection run needs at least 3 (train, validation, "
                            "test)")
        if not any(it.boxes for it in items):
            raise DataError(f"{source}: no image has a box; add annotations")
        first = [it.boxes[0][4] if it.boxes else -1 for it in items]
        train, val, test = split_indices(first, recipe.val_fraction, recipe.test_fraction, recipe.seed)
        if not len(val):
            raise DataError(f"{source}: no validation images; add images or raise val_fraction")
        size, max_boxes = int(options["image_size"]), int(options["max_boxes"])
        split = {"train": [items[i] for i in train], "validation": [items[i] for i in val],
                 "test": [items[i] for i in test]}
        counts = {name: {"images": len(part), "boxes": sum(len(it.boxes) for it in part),
                         "per_class": [int(v) for v in np.bincount([b[4] for it in part for b in it.boxes],
                                                                   minlength=len(listing.class_names))]}
                  for name, part in split.items() if part}
        metadata = {"source": source, "layout": listing.layout, "image_size": size, "max_boxes": max_boxes,
                    "counts": counts, "images_without_boxes": sum(1 for it in items if not it.boxes),
                    "skipped_boxes": len(listing.skipped), "skipped": listing.skipped[:MAX_NAMED]}
        augment = BoxAugment(recipe.seed) if options["augment"] else None
        if augment is not None:
            metadata["augment"] = augment.describe()
        return DataBundle(
            train=make_dataset(split["train"], size, max_boxes),
            validation=make_dataset(split["validation"], size, max_boxes),
            test=make_dataset(split["test"], size, max_boxes) if split["test"] else None,
            class_names=list(listing.class_names),
            input_signature={"image": TensorSpec((size, size, 3), "float32")},
            augment=augment,
            metadata=metadata,
        )
