"""Image data: folders or CSVs in, seeded stratified splits of decoded images out.

Layouts `VisionData.load(source, recipe, options)` reads:

- a folder with one sub-folder per class: `photos/cat/1.jpg, photos/dog/2.png ...`;
  split into train/validation/test per class (`zoo.data.split_indices`: stratified,
  seeded by `recipe.seed`, sizes from `recipe.val_fraction` / `recipe.test_fraction`);
- a folder with `train/` and `val/` (or `validation/`), and optionally `test/`,
  each with one sub-folder per class: those splits are used as they are;
- a CSV file with a `path,label` header (paths relative to the CSV's folder),
  and an optional `split` column (`train`, `val`, `test`).

Every file is checked before training (PIL opens and decodes it): corrupt or
unreadable images, images in formats TensorFlow cannot decode, mixed channel
counts, empty class folders and a single class raise `DataError` naming the
files, unless the plugin option `skip_bad_files` is true (then they are left
out and counted in `DataBundle.metadata`, which goes into `zoo.json`).

Decoding and resizing run in `tf.data` with AUTOTUNE; the resized images are
cached (as uint8) after the first pass. Each element is
`({"image": float32 (S, S, 3) in 0..255}, int32 label)`.
"""

from __future__ import annotations

import csv
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

from zoo.api import DataAdapter, DataBundle, Option, Rows, TensorSpec
from zoo.data import split_indices
from zoo.errors import DataError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
#: PIL formats `tf.io.decode_image` decodes.
TF_FORMATS = {"PNG", "JPEG", "MPO", "BMP", "GIF", "WEBP"}
SPLIT_NAMES = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
MAX_NAMED = 5  # files named in one error message
FLIPS = ("none", "horizontal", "vertical", "horizontal_and_vertical")

#: the plugin options (`-o KEY=VALUE`), declared as `Plugin.options`; the core converts and checks them.
OPTIONS: dict[str, Option] = {
    # 1024 px bounds the memory a typo can ask for (100000 px ran out of memory after minutes).
    "image_size": Option(128, "square input side in pixels (images are resized to it)", type=int, min=32,
                         max=1024),
    "augment": Option(True, "flip, rotation, zoom and contrast on training batches", type=bool),
    "flip": Option("horizontal", "RandomFlip mode when augment is true", choices=FLIPS),
    "rotation": Option(0.05, "RandomRotation factor, a fraction of a full turn", type=float, min=0.0, max=0.5),
    "zoom": Option(0.1, "RandomZoom factor: zoom in and out by up to this fraction (Keras needs it below 1)",
                   type=float, min=0.0, max=0.99),
    "contrast": Option(0.2, "RandomContrast factor", type=float, min=0.0, max=1.0),
    "randaugment": Option(False, "add keras.layers.RandAugment (2 random ops per image)", type=bool),
    "mixup": Option(0.0, "MixUp Beta(alpha, alpha) alpha, label-preserving; 0 turns it off", type=float, min=0.0),
    "cutmix": Option(0.0, "CutMix Beta(alpha, alpha) alpha, label-preserving; 0 turns it off", type=float,
                     min=0.0),
    "skip_bad_files": Option(False, "leave out unreadable images and empty classes instead of stopping", type=bool),
    "demo_images_per_class": Option(60, "images per class of the generated demo data", type=int, min=4),
}


@dataclass(frozen=True)
class VisionOptions:
    """A typed view of the plugin's `Options` (values already checked by the core).

    Example: `VisionOptions.from_options(plugin.options_for(recipe)).image_size`.
    """

    image_size: int
    augment: bool
    flip: str
    rotation: float
    zoom: float
    contrast: float
    randaugment: bool
    mixup: float
    cutmix: float
    skip_bad_files: bool
    demo_images_per_class: int

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None = None) -> "VisionOptions":
        """The options given (a `zoo.api.Options` or a mapping), declared defaults for the rest."""
        values = {key: spec.default for key, spec in OPTIONS.items()}
        values.update(options or {})
        return cls(**{f.name: values[f.name] for f in fields(cls)})


# --------------------------------------------------------------------------- checking files

@dataclass
class ImageCheck:
    path: str
    channels: int = 0
    problem: str | None = None


def check_image(path: str, size: int = 128) -> ImageCheck:
    """Open and decode `path` with PIL; its channel count, or the reason it cannot be used."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            fmt = image.format
            mode = image.mode
            if fmt not in TF_FORMATS:
                return ImageCheck(path, problem=f"{fmt or 'unknown'} format is not supported (use PNG, JPEG, BMP, GIF or WebP)")
            if mode == "CMYK":
                return ImageCheck(path, problem="CMYK image (convert it to RGB)")
            if fmt == "BMP" and mode in ("1", "P"):
                # TensorFlow's BMP decoder refuses 1-bit files and reads palette ones to wrong pixels.
                kind = "1-bit" if mode == "1" else "palette (8-bit indexed)"
                return ImageCheck(path, problem=f"{kind} BMP, which TensorFlow decodes wrongly; convert it to PNG")
            if mode in ("P", "PA"):
                channels = 4 if ("transparency" in image.info or mode == "PA") else 3
            else:
                channels = len(image.getbands())
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale; still checks the whole file
            image.load()
    except FileNotFoundError:
        return ImageCheck(path, problem="file not found")
    except Image.UnidentifiedImageError:
        return ImageCheck(path, problem="not an image file PIL can identify")
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        return ImageCheck(path, problem=f"cannot decode ({' '.join(str(exc).split())[:120]})")
    return ImageCheck(path, channels=channels)


def check_images(paths: Sequence[str], size: int) -> list[ImageCheck]:
    """`check_image` over many files, in a few threads (PIL decodes without the GIL)."""
    if len(paths) < 32:
        return [check_image(p, size) for p in paths]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return list(pool.map(lambda p: check_image(p, size), paths))


def _name_files(paths: Sequence[str], root: Path | None) -> str:
    shown = [_rel(p, root) for p in paths[:MAX_NAMED]]
    more = f" and {len(paths) - MAX_NAMED} more" if len(paths) > MAX_NAMED else ""
    return ", ".join(shown) + more


def _rel(path: str, root: Path | None) -> str:
    if root is None:
        return str(path)
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- scanning sources

@dataclass
class Listing:
    """What a source holds: class names and, per split (or "all"), (path, class index) pairs."""

    root: Path
    layout: str
    class_names: list[str]
    items: dict[str, list[tuple[str, int]]]
    skipped: list[dict[str, str]] = field(default_factory=list)
    dropped_classes: list[str] = field(default_factory=list)


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _files_of(class_dir: Path) -> tuple[list[str], list[str]]:
    images, others = [], []
    for path in sorted(class_dir.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(class_dir).parts):
            continue
        if _is_image(path):
            images.append(str(path))
        elif path.is_file():
            others.append(path.suffix.lower() or path.name)
    return images, others


def _empty_class_message(class_dir: Path, others: list[str]) -> str:
    note = ""
    if others:
        note = f" (it holds {len(others)} other file(s): {', '.join(sorted(set(others))[:5])})"
    return f"class folder {class_dir} has no images{note}"


def scan_folder(root: Path, skip_bad: bool) -> Listing:
    """List a class-per-sub-folder tree, or a tree with train/ and val/ splits."""
    subdirs = {p.name.lower(): p for p in _class_dirs(root)}
    if "train" in subdirs and ("val" in subdirs or "validation" in subdirs):
        return _scan_split_folder(root, subdirs, skip_bad)
    class_dirs = _class_dirs(root)
    if not class_dirs:
        loose = [p for p in root.iterdir() if _is_image(p)]
        if loose:
            raise DataError(
                f"{root} holds images but no class sub-folders; put each class in its own sub-folder "
                f"({root}/CLASS/image.png) or pass a CSV of path,label")
        raise DataError(f"{root} has no class sub-folders with images; expected {root}/CLASS/image.png")
    loose = [p.name for p in root.iterdir() if _is_image(p)]
    if loose:
        log.warning("%d image(s) directly in %s belong to no class and are ignored", len(loose), root)
    names, items, dropped = [], [], []
    for class_dir in class_dirs:
        images, others = _files_of(class_dir)
        if not images:
            if not skip_bad:
                raise DataError(_empty_class_message(class_dir, others)
                                + "; add images, remove the folder, or pass -o skip_bad_files=true")
            log.warning("%s", _empty_class_message(class_dir, others) + "; the class is left out")
            dropped.append(class_dir.name)
            continue
        names.append(class_dir.name)
        items.extend((path, len(names) - 1) for path in images)
    return Listing(root, "folders", names, {"all": items}, dropped_classes=dropped)


def _scan_split_folder(root: Path, subdirs: dict[str, Path], skip_bad: bool) -> Listing:
    train_dir = subdirs["train"]
    names, dropped = [], []
    items: dict[str, list[tuple[str, int]]] = {"train": []}
    for class_dir in _class_dirs(train_dir):
        images, others = _files_of(class_dir)
        if not images:
            if not skip_bad:
                raise DataError(_empty_class_message(class_dir, others)
                                + "; add images, remove the folder, or pass -o skip_bad_files=true")
            dropped.append(class_dir.name)
            continue
        names.append(class_dir.name)
        items["train"].extend((p, len(names) - 1) for p in images)
    if not names:
        raise DataError(f"{train_dir} has no class sub-folders with images; expected {train_dir}/CLASS/image.png")
    index = {n: i for i, n in enumerate(names)}
    for key in ("val", "validation", "test"):
        if key not in subdirs:
            continue
        split = SPLIT_NAMES[key]
        items.setdefault(split, [])
        for class_dir in _class_dirs(subdirs[key]):
            if class_dir.name not in index:
                if class_dir.name in dropped:
                    continue
                raise DataError(
                    f"{class_dir} is a class that {train_dir} does not have; the classes are {names}")
            images, _ = _files_of(class_dir)
            items[split].extend((p, index[class_dir.name]) for p in images)
    return Listing(root, "splits", names, items, dropped_classes=dropped)


def scan_csv(path: Path, skip_bad: bool) -> Listing:
    """List a CSV of `path,label[,split]` (a header row naming the columns is expected)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    rows = [(i + 1, row) for i, row in enumerate(rows) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path} is empty; expected a header path,label and one row per image")
    header = [cell.strip().lower() for cell in rows[0][1]]
    if "path" in header and "label" in header:
        col_path, col_label = header.index("path"), header.index("label")
        col_split = header.index("split") if "split" in header else None
        rows = rows[1:]
    elif header[:2] in (["file", "label"], ["filename", "label"], ["image", "label"]):
        col_path, col_label, col_split = 0, 1, header.index("split") if "split" in header else None
        rows = rows[1:]
    else:
        col_path, col_label, col_split = 0, 1, None
    base = path.parent
    entries: list[tuple[str, str, str]] = []
    missing: list[str] = []
    for line, row in rows:
        if len(row) <= max(col_path, col_label):
            raise DataError(f"{path} line {line}: expected path,label, got {','.join(row)!r}")
        rel, label = row[col_path].strip(), row[col_label].strip()
        if not rel or not label:
            raise DataError(f"{path} line {line}: empty path or label")
        split = "all"
        if col_split is not None and len(row) > col_split and row[col_split].strip():
            value = row[col_split].strip().lower()
            if value not in SPLIT_NAMES:
                raise DataError(f"{path} line {line}: split {value!r} must be train, val or test")
            split = SPLIT_NAMES[value]
        file = Path(rel).expanduser()
        file = file if file.is_absolute() else base / file
        if not file.is_file():
            missing.append(f"{rel} (line {line})")
            continue
        entries.append((str(file), label, split))
    skipped = []
    if missing:
        if not skip_bad:
            raise DataError(
                f"{path}: {len(missing)} listed file(s) do not exist: {_name_files(missing, None)}; "
                "fix the paths (relative to the CSV's folder) or pass -o skip_bad_files=true")
        skipped = [{"file": m, "reason": "file not found"} for m in missing]
    if not entries:
        raise DataError(f"{path} lists no existing image files")
    names = _sorted_labels({label for _, label, _ in entries})
    index = {n: i for i, n in enumerate(names)}
    splits = {split for _, _, split in entries}
    if splits == {"all"}:
        items = {"all": [(f, index[label]) for f, label, _ in entries]}
        layout = "csv"
    else:
        if "all" in splits or "train" not in splits or "validation" not in splits:
            raise DataError(f"{path}: the split column must give every row train, val or test, "
                            "with at least one train and one val row")
        items = {s: [(f, index[label]) for f, label, split in entries if split == s] for s in sorted(splits)}
        layout = "csv-splits"
    return Listing(path.parent, layout, names, items, skipped=skipped)


def _sorted_labels(labels: set[str]) -> list[str]:
    try:
        return [str(v) for v in sorted(labels, key=lambda s: float(s))]
    except ValueError:
        return sorted(labels)


def scan_source(source: str | Path, skip_bad: bool) -> Listing:
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"--data {source}: no such file or folder")
    if path.is_dir():
        return scan_folder(path, skip_bad)
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return scan_csv(path, skip_bad)
    raise DataError(f"--data {source}: expected a folder of class sub-folders or a CSV of path,label")


def validate_listing(listing: Listing, opts: VisionOptions) -> Listing:
    """Decode every file once with PIL; bad files and mixed channel counts -> DataError or skipped."""
    everything = [path for items in listing.items.values() for path, _ in items]
    checks = {c.path: c for c in check_images(everything, opts.image_size)}
    bad = [c for c in checks.values() if c.problem]
    good = [c for c in checks.values() if not c.problem]
    odd: list[ImageCheck] = []
    if good:
        counts: dict[int, int] = {}
        for c in good:
            counts[c.channels] = counts.get(c.channels, 0) + 1
        majority = max(counts, key=lambda k: (counts[k], -k))
        if len(counts) > 1:
            odd = [c for c in good if c.channels != majority]
            summary = ", ".join(f"{n} with {k} channel(s)" for k, n in sorted(counts.items()))
            odd_message = (f"images have mixed channel counts ({summary}); not {majority} channel(s): "
                           f"{_name_files([c.path for c in odd], listing.root)}")
    if bad and not opts.skip_bad_files:
        reasons = [f"{_rel(c.path, listing.root)} ({c.problem})" for c in bad]
        raise DataError(
            f"{len(bad)} corrupt or unreadable image(s) in {listing.root}: {_name_files(reasons, None)}; "
            "fix or remove them, or pass -o skip_bad_files=true to leave them out")
    if odd and not opts.skip_bad_files:
        raise DataError(
            f"{odd_message}; convert them to the same mode (e.g. RGB) or pass -o skip_bad_files=true to leave them out")
    if not bad and not odd:
        return _check_classes(listing, opts)
    drop = {c.path for c in bad} | {c.path for c in odd}
    listing.skipped.extend({"file": _rel(c.path, listing.root), "reason": c.problem} for c in bad)
    listing.skipped.extend({"file": _rel(c.path, listing.root), "reason": f"{c.channels} channel(s)"} for c in odd)
    log.warning("skipping %d bad image file(s) (skip_bad_files)", len(drop))
    listing.items = {s: [(p, y) for p, y in items if p not in drop] for s, items in listing.items.items()}
    return _check_classes(listing, opts)


def _check_classes(listing: Listing, opts: VisionOptions) -> Listing:
    """After skipping, every class keeps training images (else dropped or DataError); at least 2 classes."""
    train_key = "all" if "all" in listing.items else "train"
    present = {y for _, y in listing.items[train_key]}
    empty = [n for i, n in enumerate(listing.class_names) if i not in present]
    if empty:
        if not opts.skip_bad_files:
            raise DataError(f"class(es) {', '.join(empty)} have no usable training images in {listing.root}")
        keep = [n for n in listing.class_names if n not in empty]
        remap = {listing.class_names.index(n): i for i, n in enumerate(keep)}
        listing.items = {s: [(p, remap[y]) for p, y in items if y in remap] for s, items in listing.items.items()}
        listing.dropped_classes.extend(empty)
        listing.class_names = keep
    if len(listing.class_names) < 2:
        only = listing.class_names[0] if listing.class_names else "none"
        raise DataError(
            f"{listing.root} has a single class ({only}); a classifier needs at least 2 classes, "
            "one sub-folder (or CSV label) per class")
    return listing


# --------------------------------------------------------------------------- splitting

def split_items(items: list[tuple[str, int]], val_fraction: float, test_fraction: float,
                seed: int) -> dict[str, list[tuple[str, int]]]:
    """`(path, label)` pairs cut into train / validation / test by `zoo.data.split_indices` (per class).

    Example: `split_items(listing.items["all"], 0.15, 0.15, seed=42)["validation"]`.
    """
    train, val, test = split_indices([y for _, y in items], val_fraction, test_fraction, seed)
    return {name: [items[i] for i in index] for name, index in (("train", train), ("validation", val),
                                                                  ("test", test))}


# --------------------------------------------------------------------------- tf.data

def decode_resize(data, size: int):
    """Encoded bytes (PNG/JPEG/BMP/GIF/WebP) -> uint8 (size, size, 3), RGB, antialiased resize."""
    import tensorflow as tf

    image = tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    image = tf.image.resize(tf.cast(image, tf.float32), (size, size), method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def make_dataset(items: list[tuple[str, int]], size: int):
    """Unbatched `({"image": float32 (S, S, 3)}, int32 label)`, decoded once and cached."""
    import numpy as np
    import tensorflow as tf

    paths = np.array([p for p, _ in items], dtype=object).astype(str) if items else np.zeros((0,), str)
    labels = np.array([y for _, y in items], dtype="int32")
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(lambda p, y: (decode_resize(tf.io.read_file(p), size), y), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.cache()
    ds = ds.map(lambda img, y: ({"image": tf.cast(img, tf.float32)}, y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.apply(tf.data.experimental.assert_cardinality(len(items)))


def expand_inputs(paths: Sequence[str]) -> list[str]:
    """Files as given; a folder becomes its image files (recursively, sorted)."""
    out = []
    for path in paths:
        p = Path(path).expanduser()
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*") if _is_image(f))
            if not found:
                raise DataError(f"{path}: the folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            out.extend(found)
        else:
            out.append(str(path))
    return out


def read_images(paths: Sequence[str], size: int):
    """Files -> float32 (N, size, size, 3) in 0..255, exactly as training decodes them."""
    import numpy as np
    import tensorflow as tf

    if not paths:
        raise DataError("no input files given")
    images = []
    for path in paths:
        check = check_image(str(path), size)
        if check.problem:
            raise DataError(f"{path}: {check.problem}")
        images.append(decode_resize(tf.io.read_file(str(path)), size).numpy())
    return np.stack(images).astype("float32")


# --------------------------------------------------------------------------- the adapter

class VisionData(DataAdapter):
    """Image folders and CSVs -> `DataBundle`; `demo()` -> generated shapes on clutter.

    Example:

    ```python
    from zoo_vision import plugin

    recipe = plugin.resolve_recipe(overrides={"options": {"image_size": 96}})
    bundle = plugin.data.load("photos/", recipe, plugin.options_for(recipe))  # photos/cat/*.jpg, photos/dog/*.jpg
    bundle.class_names                                                       # ['cat', 'dog']
    ```
    """

    def load(self, source: str, recipe, options) -> DataBundle:
        """The images under `source` (a class-per-folder tree, train/ and val/ folders, or a CSV)."""
        opts = VisionOptions.from_options(options)
        listing = scan_source(source, opts.skip_bad_files)
        return self._bundle(listing, recipe, opts, source=str(source))

    def demo(self, recipe, options) -> DataBundle:
        """The generated demo images (`zoo_vision.demo`), read through the folder loader."""
        from zoo_vision.demo import ensure_demo

        opts = VisionOptions.from_options(options)
        root = ensure_demo(opts.demo_images_per_class)
        listing = scan_folder(root, skip_bad=False)
        listing.layout = "demo"
        return self._bundle(listing, recipe, opts, source=str(root))

    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, TensorSpec], options,
                    deployment: Mapping[str, Any]) -> Rows:
        """Image files (or folders of them) -> `Rows` of float32 (S, S, 3) images, one per file.

        Decoded and resized as in training, to the model's image size (`options.image_size`
        when the signature has none). A folder stands for its image files (recursively,
        sorted); each row's source is its file.

        Example: `plugin.data.read_inputs(["photos/cat"], signature, options, {}).sources`
        -> `['photos/cat/1.jpg', 'photos/cat/2.png']`.
        """
        spec = input_signature.get("image") if input_signature else None
        if spec is not None and spec.shape[0] is not None:
            size = int(spec.shape[0])
        else:
            size = VisionOptions.from_options(options).image_size
        files = expand_inputs(paths)
        return Rows({"image": read_images(files, size)}, sources=files)

    def list_inputs(self, paths: Sequence[str], options) -> list[str]:
        """The image files `zoo predict` reads a chunk at a time: folders expanded (recursively, sorted).

        Example: `plugin.data.list_inputs(["photos/"], options)` -> `['photos/cat/1.jpg', ...]`.
        """
        return expand_inputs(paths)

    def write_examples(self, folder, recipe, options) -> list[str]:
        """One image of each demo class, as a user would pass them to `zoo predict` (PNG and JPEG).

        They are drawn like the demo images but with indices after the demo's own, so no
        example is an image the demo trains on.

        Example: `plugin.data.write_examples("examples/", recipe, options)`
        -> `['examples/butterfly.png', 'examples/fish.jpg', ...]`.
        """
        from zoo_vision.demo import CLASSES, render

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        index = VisionOptions.from_options(options).demo_images_per_class
        written = []
        for c, name in enumerate(CLASSES):
            image = render(c, index)
            if c % 2:
                path = folder / f"{name}.jpg"
                image.save(path, format="JPEG", quality=95)
            else:
                path = folder / f"{name}.png"
                image.save(path, format="PNG")
            written.append(str(path))
        return written

    # ------------------------------------------------------------------
    def _bundle(self, listing: Listing, recipe, opts: VisionOptions, source: str) -> DataBundle:
        listing = validate_listing(listing, opts)
        if "all" in listing.items:
            splits = split_items(listing.items["all"], recipe.val_fraction, recipe.test_fraction, recipe.seed)
        else:
            splits = {"train": listing.items.get("train", []), "validation": listing.items.get("validation", []),
                      "test": listing.items.get("test", [])}
        if not splits["validation"]:
            raise DataError(
                f"{source}: no validation images; add a val/ folder, more images per class, or raise val_fraction")
        size = opts.image_size
        counts = {s: _counts(items, listing.class_names) for s, items in splits.items() if items}
        metadata = {
            "source": source,
            "layout": listing.layout,
            "image_size": size,
            "counts": counts,
            "skipped_files": len(listing.skipped),
            "skipped": listing.skipped[:50],
            "dropped_classes": listing.dropped_classes,
        }
        augment = None
        if opts.augment or opts.randaugment or opts.mixup > 0 or opts.cutmix > 0:
            from zoo_vision.augment import ImageAugment

            augment = ImageAugment.from_options(opts, recipe.seed)
            metadata["augment"] = augment.describe()
        return DataBundle(
            train=make_dataset(splits["train"], size),
            validation=make_dataset(splits["validation"], size),
            test=make_dataset(splits["test"], size) if splits["test"] else None,
            class_names=list(listing.class_names),
            input_signature={"image": TensorSpec((size, size, 3), "float32")},
            augment=augment,
            metadata=metadata,
        )


def _counts(items: list[tuple[str, int]], names: list[str]) -> dict[str, int]:
    out = {name: 0 for name in names}
    for _, y in items:
        out[names[y]] += 1
    return out
