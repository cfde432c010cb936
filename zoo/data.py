"""Data helpers for plugins (public): seeded splits that keep classes and groups, the cache folder.

`split_indices` is the one way keras-zoo cuts data into training, validation and test:
stratified by label, and, given `groups` (patients, customers, documents), with every
member of a group in the same split, so nothing of a group seen in training is scored
again. Each stratum is shuffled with `seed` and cut with the same rounding (half up): a
stratum of n gives `floor(n * val_fraction + 0.5)` to validation, at least 1 when
`val_fraction > 0` and n >= 2, then the same for test (at least 1 when n >= 3), and
always keeps one for training.

Why not scikit-learn's `StratifiedGroupKFold`: it makes K equal folds, so a 15% / 15%
split is not expressible, and it needs at least K members per class; the rule above is
exact for any fraction and small strata (a CT cohort with 3 positive patients).

Example:

```python
from zoo.data import cache_dir, split_indices
train, val, test = split_indices(labels, 0.15, 0.15, seed=42, groups=patient_ids)
demo_folder = cache_dir("my-plugin-demo-v1")     # $KERAS_ZOO_CACHE/my-plugin-demo-v1, created
```
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from zoo.errors import DataError

__all__ = ["split_indices", "split_counts", "cache_dir", "progress", "thumbnail_png"]


def split_counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """How many of a stratum of `n` go to validation and test (the rounding rule above)."""
    n_val = int(math.floor(n * val_fraction + 0.5)) if val_fraction > 0 else 0
    n_test = int(math.floor(n * test_fraction + 0.5)) if test_fraction > 0 else 0
    if val_fraction > 0 and n_val == 0 and n >= 2:
        n_val = 1
    if test_fraction > 0 and n_test == 0 and n >= 3:
        n_test = 1
    while n_val + n_test > n - 1 and (n_val or n_test):  # keep one of the stratum for training
        if n_test >= n_val and n_test:
            n_test -= 1
        else:
            n_val -= 1
    return n_val, n_test


def split_indices(labels: Sequence, val_fraction: float, test_fraction: float, seed: int,
                  groups: Sequence | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(train, validation, test)` sorted row indices, stratified by `labels`, whole `groups` kept together.

    `labels`: one label per row (any hashable values; a multi-hot row counts as its tuple).
    `groups`: one group id per row, or None (every row its own group). A group's stratum is
    its most frequent label. Deterministic for a given `seed`.
    """
    labels = list(_hashable(labels))
    n = len(labels)
    if groups is None:
        group_of = list(range(n))
    else:
        group_of = list(_hashable(groups))
        if len(group_of) != n:
            raise DataError(f"{len(group_of)} group ids for {n} rows; give one group per row")
    members: dict = {}
    votes: dict = {}
    for i, (g, y) in enumerate(zip(group_of, labels)):
        members.setdefault(g, []).append(i)
        votes.setdefault(g, {}).setdefault(y, 0)
        votes[g][y] += 1
    stratum_of = {g: max(_sorted(v), key=lambda y: v[y]) for g, v in votes.items()}
    rng = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for stratum in _sorted(set(stratum_of.values())):
        names = _sorted(g for g, s in stratum_of.items() if s == stratum)
        names = [names[i] for i in rng.permutation(len(names))]
        n_val, n_test = split_counts(len(names), val_fraction, test_fraction)
        for part, chosen in zip(parts, (names[n_val + n_test:], names[:n_val], names[n_val:n_val + n_test])):
            for g in chosen:
                part.extend(members[g])
    return tuple(np.array(sorted(p), dtype=np.int64) for p in parts)  # type: ignore[return-value]


def _sorted(values) -> list:
    values = list(values)
    try:
        return sorted(values)
    except TypeError:  # mixed types: a stable order all the same
        return sorted(values, key=repr)


def _hashable(values):
    for v in values:
        if isinstance(v, np.ndarray):
            yield tuple(v.tolist())
        elif isinstance(v, (list, tuple)):
            yield tuple(v)
        elif isinstance(v, np.generic):
            yield v.item()
        else:
            yield v


def cache_dir(*parts: str) -> Path:
    """`$KERAS_ZOO_CACHE/<parts...>` (default `~/.cache/keras-zoo`), created if missing."""
    root = Path(os.environ.get("KERAS_ZOO_CACHE") or Path.home() / ".cache" / "keras-zoo")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_once(target: Path, write, marker: str = "COMPLETE", note: str = "") -> Path:
    """`target`, a folder written by `write(folder)` the first time and reused after.

    `write` fills a temporary sibling folder, which is renamed to `target` once a `marker` file is in
    it, so an interrupted write never looks finished and two processes writing at once both end with
    one complete folder. Generated demo data sets use it.

    Example: `write_once(cache_dir("my-demo-v1") / "100-rows", lambda folder: make_rows(folder, 100))`.
    """
    import shutil
    import tempfile

    target = Path(target)
    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        write(tmp)
        (tmp / marker).write_text((note or target.name) + "\n")
        if target.exists() and not (target / marker).is_file():
            shutil.rmtree(target)  # an interrupted earlier attempt
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / marker).is_file():  # not another process that finished first
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def progress(items, label: str, total: int | None = None, unit: str = ""):
    """Yield `items`, counting them on one line redrawn on stderr when it is a terminal.

    Nothing is drawn in logs, pipes or under `--json`, nor for a step under half a second.
    Example: `for path in progress(files, "reading DICOM", unit="files"): ...`
    """
    from zoo_export.progress import track

    return track(items, label, total=total, unit=unit)


def draw_boxes(image_path, boxes, out_path) -> list[list[int]]:
    """Draws predicted boxes with their class and score on the image at `image_path`, writes a PNG.

    `boxes` are `[{"box": [x1, y1, x2, y2], "class", "score"}, ...]` in fractions of the image (as
    `zoo predict` prints a detection); returns each box in pixels of the original image. The PNG is
    written under a temporary name and renamed, so a failed draw leaves no half-written file.
    Example: `draw_boxes("scene.jpg", row["boxes"], "drawn/scene.png")`.
    """
    from PIL import Image, ImageDraw

    palette = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
               (70, 240, 240), (240, 50, 230)]
    with Image.open(image_path) as source:
        picture = source.convert("RGB")
    width, height = picture.size
    draw = ImageDraw.Draw(picture)
    classes: dict[str, int] = {}
    pixels = []
    for row in boxes:
        x1, y1, x2, y2 = (float(v) for v in row["box"])
        box = [int(round(min(max(x1, 0.0), 1.0) * width)), int(round(min(max(y1, 0.0), 1.0) * height)),
               int(round(min(max(x2, 0.0), 1.0) * width)), int(round(min(max(y2, 0.0), 1.0) * height))]
        pixels.append(box)
        color = palette[classes.setdefault(str(row["class"]), len(classes)) % len(palette)]
        draw.rectangle(box, outline=color, width=max(1, round(min(width, height) / 150)))
        label = f"{row['class']} {float(row['score']):.2f}"
        left, top, right, bottom = draw.textbbox((box[0], box[1]), label)
        lift = bottom - top + 2
        draw.rectangle((box[0], box[1] - lift, box[0] + right - left + 3, box[1]), fill=color)
        draw.text((box[0] + 1, box[1] - lift), label, fill=(0, 0, 0))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    picture.save(tmp, format="PNG")
    os.replace(tmp, out_path)
    return pixels


def thumbnail_png(image, value_range: tuple[float, float] = (0.0, 255.0), max_size: int = 96) -> bytes:
    """PNG bytes of an image array (H, W), (H, W, 1) or (H, W, 3), at most `max_size` px across.

    Values are mapped linearly from `value_range` to 0-255 and clipped (a CT window: `(-1350, 150)`).
    What a `Plugin.preview` returns for an image sample. Example: `thumbnail_png(x["image"])`.
    """
    import io

    from PIL import Image

    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise ValueError(f"an image is (H, W), (H, W, 1) or (H, W, 3), got shape {array.shape}")
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    pixels = np.clip(np.round((array - low) / (high - low) * 255.0), 0, 255).astype(np.uint8)
    picture = Image.fromarray(pixels)
    picture.thumbnail((max_size, max_size))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
