"""The detection demo: the vision demo's objects placed at known boxes on cluttered backgrounds.

Each scene is 128-192 px, with 1-4 objects of the five vision demo classes (butterfly, fish, flower,
fruit, leaf) at sizes from 18% to 60% of the shorter side, some overlapping (at most 40% of the
smaller box hidden), on the vision demo's backgrounds with foreground strokes. Boxes are the tight
bounds of each object's visible pixels, so they are exact. Scenes are deterministic (scene i is
the same on every machine) and written once as PNG files with a COCO JSON file
(`$KERAS_ZOO_CACHE/vision-detect-demo-v1/N-scenes/annotations.json`), then read back through the
same COCO reader a user's data goes through.

Example: `ensure_demo(8)` -> `Path('~/.cache/keras-zoo/vision-detect-demo-v1/8-scenes')`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from zoo.data import cache_dir, write_once

log = logging.getLogger(__name__)

VERSION = "vision-detect-demo-v1"
SIZE_RANGE = (128, 192)
OBJECTS = (1, 4)
SCALE_RANGE = (0.18, 0.6)
MAX_HIDDEN = 0.4
_MARKER = "COMPLETE"


def classes() -> tuple[str, ...]:
    from zoo_vision.demo import CLASSES

    return CLASSES


def ensure_demo(scenes: int) -> Path:
    """The demo folder (images/*.png and annotations.json) under `zoo.data.cache_dir`, written on first use."""
    target = cache_dir(VERSION) / f"{scenes}-scenes"
    if (target / _MARKER).is_file():
        return target
    write_once(target, lambda folder: write_demo(folder, scenes), _MARKER, f"{VERSION} {scenes} scenes")
    log.info("wrote the detection demo (%d scenes) to %s", scenes, target)
    return target


def write_demo(folder: Path, scenes: int, start: int = 0) -> list[dict]:
    """`folder/images/scene_<i>.png` for `start <= i < start + scenes` and `folder/annotations.json` (COCO)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    names = classes()
    images, annotations = [], []
    for i in range(start, start + scenes):
        image, boxes = render_scene(i)
        file_name = f"scene_{i:04d}.png"
        image.save(folder / "images" / file_name, optimize=False)
        images.append({"id": i, "file_name": file_name, "width": image.width, "height": image.height})
        for x1, y1, x2, y2, c in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": c + 1,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    coco = {"images": images, "annotations": annotations,
            "categories": [{"id": c + 1, "name": name} for c, name in enumerate(names)]}
    (folder / "annotations.json").write_text(json.dumps(coco, indent=1))
    return images


def render_scene(i: int):
    """Scene `i`: `(PIL RGB image, [(x1, y1, x2, y2, class index), ...])`, boxes in pixels, tight."""
    import numpy as np
    from PIL import Image

    from zoo_vision.demo import draw_background, draw_foreground_clutter, draw_object

    names = classes()
    rng = np.random.default_rng([20261204, i])
    w, h = (int(v) for v in rng.integers(SIZE_RANGE[0], SIZE_RANGE[1] + 1, size=2))
    canvas = draw_background(rng, w, h)
    occupancy = np.full((h, w), -1, dtype=np.int32)  # which object owns each visible pixel
    placed: list[tuple[int, np.ndarray]] = []
    for k in range(int(rng.integers(OBJECTS[0], OBJECTS[1] + 1))):
        c = int(rng.integers(0, len(names)))
        obj = draw_object(names[c], rng)
        obj = obj.rotate(float(rng.uniform(-180, 180) if names[c] != "fish" else rng.uniform(-35, 35)),
                         resample=Image.BICUBIC, expand=True)
        side = max(12, int(min(w, h) * rng.uniform(*SCALE_RANGE)))
        obj = obj.resize((side, side), Image.LANCZOS)
        alpha = np.asarray(obj)[..., 3] > 127
        for _attempt in range(20):
            x = int(rng.integers(0, max(1, w - side)))
            y = int(rng.integers(0, max(1, h - side)))
            mask = np.zeros((h, w), bool)
            mask[y:y + side, x:x + side] = alpha[:min(side, h - y), :min(side, w - x)]
            if _keeps_others_visible(occupancy, mask, placed):
                break
        else:
            continue
        layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        layer.paste(obj, (x, y), obj)
        canvas = Image.alpha_composite(canvas, layer)
        occupancy[mask] = k
        placed.append((c, mask))
    draw_foreground_clutter(rng, canvas)
    boxes = []
    for k, (c, _mask) in enumerate(placed):
        ys, xs = np.nonzero(occupancy == k)
        if len(xs):
            boxes.append((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, c))
    arr = np.asarray(canvas.convert("RGB")).astype("float32")
    arr += rng.normal(0, rng.uniform(2, 6), arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype("uint8"), "RGB"), boxes


def _keeps_others_visible(occupancy, mask, placed) -> bool:
    """False when `mask` would hide more than `MAX_HIDDEN` of an object already placed."""
    for k, (_c, _m) in enumerate(placed):
        visible = occupancy == k
        total = int(visible.sum())
        if total and int((visible & mask).sum()) > MAX_HIDDEN * total:
            return False
    return True
