"""The demo data set: generated objects on cluttered backgrounds, written as PNG files.

Five classes (flower, fruit, leaf, fish, butterfly), 60 images each by
default, 112..160 px. Colours, textures, sizes, positions and rotations are
drawn independently of the class, and every background is a smooth colour field
with grain and random strokes and blobs, so neither mean colour nor texture
gives the class away: the class is in the object's shape and parts, which
ImageNet features describe and random ones do not.

The images are deterministic (image i of class c is the same on every
machine) and written once to `$KERAS_ZOO_CACHE/vision-demo-v1/N-per-class/` (`zoo.data.cache_dir`)
(default cache `~/.cache/keras-zoo`), then read back through the same folder
loader a user's photos go through.

Example: `ensure_demo(60)` -> `Path('~/.cache/keras-zoo/vision-demo-v1/60-per-class')`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from zoo.data import cache_dir, write_once

log = logging.getLogger(__name__)

VERSION = "vision-demo-v1"
CLASSES = ("butterfly", "fish", "flower", "fruit", "leaf")
SIZE_RANGE = (112, 160)
_MARKER = "COMPLETE"


def ensure_demo(per_class: int = 60) -> Path:
    """The demo folder (one sub-folder per class) under `zoo.data.cache_dir`, generated on first use.

    Example: `ensure_demo(4)` -> `Path('~/.cache/keras-zoo/vision-demo-v1/4-per-class')`.
    """
    target = cache_dir(VERSION) / f"{per_class}-per-class"
    if (target / _MARKER).is_file():
        return target
    write_once(target, lambda folder: write_demo(folder, per_class), _MARKER, f"{VERSION} {per_class} per class")
    log.info("wrote the vision demo data (%d images) to %s", per_class * len(CLASSES), target)
    return target


def write_demo(folder: Path, per_class: int) -> None:
    """`folder/<class>/<class>_<i>.png` for i < `per_class`, drawn by `render`."""
    for c, name in enumerate(CLASSES):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            render(c, i).save(folder / name / f"{name}_{i:03d}.png", optimize=False)


# --------------------------------------------------------------------------- drawing

def render(class_index: int, i: int):
    """Image `i` of class `class_index` (a PIL RGB image), deterministic."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng([20240611, class_index, i])
    w, h = (int(v) for v in rng.integers(SIZE_RANGE[0], SIZE_RANGE[1] + 1, size=2))
    canvas = _background(rng, w, h)
    obj = _DRAW[CLASSES[class_index]](rng)
    side = int(min(w, h) * rng.uniform(0.75, 1.0))
    obj = obj.rotate(float(rng.uniform(-180, 180) if CLASSES[class_index] != "fish" else rng.uniform(-35, 35)),
                     resample=Image.BICUBIC, expand=True)
    if CLASSES[class_index] == "fish" and rng.random() < 0.5:
        obj = obj.transpose(Image.FLIP_LEFT_RIGHT)
    obj = obj.resize((side, side), Image.LANCZOS)
    x = int(rng.integers(-side // 8, max(1, w - side + side // 8)))
    y = int(rng.integers(-side // 8, max(1, h - side + side // 8)))
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    layer.paste(obj, (x, y), obj)
    canvas = Image.alpha_composite(canvas, layer)
    _foreground_clutter(rng, canvas)
    arr = np.asarray(canvas.convert("RGB")).astype("float32")
    arr += rng.normal(0, rng.uniform(2, 7), arr.shape)  # sensor noise
    return Image.fromarray(np.clip(arr, 0, 255).astype("uint8"), "RGB")


def _colour(rng, sat=(0.35, 0.95), val=(0.35, 1.0)):
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(float(rng.random()), float(rng.uniform(*sat)), float(rng.uniform(*val)))
    return int(r * 255), int(g * 255), int(b * 255)


def _shade(colour, factor):
    return tuple(int(max(0, min(255, c * factor))) for c in colour)


def _background(rng, w, h):
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    coarse = rng.uniform(0, 255, size=(int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3))
    tint = np.array(_colour(rng, sat=(0.1, 0.6), val=(0.3, 0.9)), "float32")
    coarse = 0.55 * coarse + 0.45 * tint
    field = Image.fromarray(coarse.astype("uint8"), "RGB").resize((w, h), Image.BICUBIC)
    grain = rng.normal(0, rng.uniform(4, 18), (h // 2 + 1, w // 2 + 1, 1))
    arr = np.asarray(field).astype("float32") + np.asarray(
        Image.fromarray(np.clip(grain[..., 0] + 128, 0, 255).astype("uint8"), "L").resize((w, h), Image.BILINEAR)
    ).astype("float32")[..., None] - 128
    image = Image.fromarray(np.clip(arr, 0, 255).astype("uint8"), "RGB").convert("RGBA")
    clutter = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(clutter)
    for _ in range(int(rng.integers(6, 16))):
        colour = _colour(rng) + (int(rng.integers(60, 180)),)
        kind = rng.random()
        x0, y0 = (float(v) for v in rng.uniform(-10, max(w, h) + 10, 2))
        if kind < 0.45:  # twigs and grass
            x1, y1 = x0 + rng.normal(0, w / 3), y0 + rng.normal(0, h / 3)
            draw.line([(x0, y0), (x1, y1)], fill=colour, width=int(rng.integers(1, 4)))
        elif kind < 0.8:  # pebbles and blotches
            r = float(rng.uniform(3, 14))
            draw.ellipse([x0 - r, y0 - r * rng.uniform(0.5, 1.5), x0 + r, y0 + r], fill=colour)
        else:  # angular debris
            pts = [(x0 + rng.normal(0, 9), y0 + rng.normal(0, 9)) for _ in range(int(rng.integers(3, 6)))]
            draw.polygon(pts, fill=colour)
    clutter = clutter.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))
    return Image.alpha_composite(image, clutter)


def _foreground_clutter(rng, canvas):
    from PIL import ImageDraw

    draw = ImageDraw.Draw(canvas)
    w, h = canvas.size
    for _ in range(int(rng.integers(0, 4))):
        colour = _colour(rng) + (int(rng.integers(90, 200)),)
        x0, y0 = (float(v) for v in rng.uniform(0, max(w, h), 2))
        draw.line([(x0, y0), (x0 + rng.normal(0, w / 4), y0 + rng.normal(0, h / 4))], fill=colour,
                  width=int(rng.integers(1, 3)))


def _texture(rng, size, colour):
    """An RGBA texture of `colour`: mottled, striped, spotted or plain with grain."""
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:size, 0:size].astype("float32") / size
    kind = rng.integers(0, 4)
    if kind == 0:  # mottled
        coarse = rng.uniform(0.6, 1.25, (6, 6)).astype("float32")
        mod = np.asarray(Image.fromarray((coarse * 100).astype("uint8"), "L").resize((size, size), Image.BICUBIC),
                         "float32") / 100
    elif kind == 1:  # stripes
        angle = rng.uniform(0, math.pi)
        freq = rng.uniform(4, 12)
        mod = 0.85 + 0.25 * np.sin(2 * math.pi * freq * (xx * math.cos(angle) + yy * math.sin(angle)))
    elif kind == 2:  # spots
        mod = np.ones((size, size), "float32")
        for _ in range(int(rng.integers(6, 20))):
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.02, 0.07)
            mod[((xx - cx) ** 2 + (yy - cy) ** 2) < r * r] = rng.uniform(0.45, 1.4)
    else:
        mod = np.ones((size, size), "float32")
    mod = mod + rng.normal(0, 0.05, (size, size)).astype("float32")
    rgb = np.clip(np.array(colour, "float32")[None, None, :] * mod[..., None], 0, 255).astype("uint8")
    return Image.fromarray(rgb, "RGB").convert("RGBA")


def _fill(rng, mask, colour, size):
    """`mask` (L image) filled with a texture of `colour`, as an RGBA image."""
    tex = _texture(rng, size, colour)
    tex.putalpha(mask)
    return tex


def _new_mask(size):
    from PIL import Image, ImageDraw

    mask = Image.new("L", (size, size), 0)
    return mask, ImageDraw.Draw(mask)


_S = 256  # objects are drawn at 256 px, then rotated and scaled down


def _draw_flower(rng):
    from PIL import Image

    size = _S
    c = size / 2
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    petals = int(rng.integers(5, 9))
    length = rng.uniform(0.28, 0.42) * size
    width = length * rng.uniform(0.3, 0.5)
    mask, draw = _new_mask(size)
    for k in range(petals):
        a = 2 * math.pi * k / petals
        px, py = c + math.cos(a) * length * 0.55, c + math.sin(a) * length * 0.55
        pts = []
        for t in range(24):
            u = 2 * math.pi * t / 24
            ex, ey = math.cos(u) * length * 0.5, math.sin(u) * width * 0.5
            pts.append((px + ex * math.cos(a) - ey * math.sin(a), py + ex * math.sin(a) + ey * math.cos(a)))
        draw.polygon(pts, fill=255)
    out = Image.alpha_composite(out, _fill(rng, mask, _colour(rng), size))
    mask, draw = _new_mask(size)
    r = length * rng.uniform(0.22, 0.35)
    draw.ellipse([c - r, c - r, c + r, c + r], fill=255)
    return Image.alpha_composite(out, _fill(rng, mask, _colour(rng), size))


def _draw_fruit(rng):
    import numpy as np
    from PIL import Image, ImageDraw

    size = _S
    c = size / 2
    r = size * rng.uniform(0.3, 0.38)
    squash = rng.uniform(0.85, 1.1)
    mask, draw = _new_mask(size)
    draw.ellipse([c - r, c - r * squash + 12, c + r, c + r * squash + 12], fill=255)
    body = _fill(rng, mask, _colour(rng), size)
    # shading: bright upper-left, dark lower-right, and a specular highlight
    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    d = np.sqrt((xx - (c - r * 0.35)) ** 2 + (yy - (c - r * 0.35 + 12)) ** 2) / (2 * r)
    light = np.clip(1.25 - d, 0.45, 1.25)
    arr = np.asarray(body).astype("float32")
    arr[..., :3] = np.clip(arr[..., :3] * light[..., None], 0, 255)
    spec = np.exp(-(((xx - (c - r * 0.4)) ** 2 + (yy - (c - r * 0.4 + 12)) ** 2) / (2 * (r * 0.12) ** 2)))
    arr[..., :3] = np.clip(arr[..., :3] + 160 * spec[..., None], 0, 255)
    out = Image.fromarray(arr.astype("uint8"), "RGBA")
    draw = ImageDraw.Draw(out)
    top = c - r * squash + 12
    stem = _shade(_colour(rng, sat=(0.4, 0.8), val=(0.2, 0.5)), 1.0) + (255,)
    draw.line([(c, top + 6), (c + rng.uniform(-8, 8), top - r * 0.35)], fill=stem, width=int(rng.integers(5, 10)))
    lx, ly = c + rng.choice([-1, 1]) * r * 0.3, top - r * 0.2
    leaf = _colour(rng) + (255,)
    draw.ellipse([lx - r * 0.28, ly - r * 0.1, lx + r * 0.28, ly + r * 0.1], fill=leaf)
    return out


def _draw_leaf(rng):
    from PIL import Image, ImageDraw

    size = _S
    c = size / 2
    length = size * rng.uniform(0.38, 0.46)
    width = length * rng.uniform(0.3, 0.55)
    pts = []
    for t in range(40):
        u = t / 39
        x = c - length + 2 * length * u
        y = c - width * math.sin(math.pi * u) ** rng.uniform(0.7, 1.0)
        pts.append((x, y))
    for t in range(40):
        u = 1 - t / 39
        x = c - length + 2 * length * u
        y = c + width * math.sin(math.pi * u) ** 0.85
        pts.append((x, y))
    mask, draw = _new_mask(size)
    draw.polygon(pts, fill=255)
    colour = _colour(rng)
    out = _fill(rng, mask, colour, size)
    draw = ImageDraw.Draw(out)
    vein = _shade(colour, rng.uniform(0.4, 0.65)) + (255,)
    draw.line([(c - length - size * 0.08, c), (c + length, c)], fill=vein, width=int(rng.integers(3, 6)))
    for k in range(int(rng.integers(4, 8))):
        u = (k + 1) / 9
        x = c - length + 2 * length * u
        for sign in (-1, 1):
            draw.line([(x, c), (x + length * 0.25, c + sign * width * 0.75 * math.sin(math.pi * u))], fill=vein, width=2)
    # keep veins inside the blade
    alpha = Image.new("L", (size, size), 0)
    ImageDraw.Draw(alpha).polygon(pts, fill=255)
    ImageDraw.Draw(alpha).line([(c - length - size * 0.08, c), (c - length, c)], fill=255, width=5)
    out.putalpha(alpha)
    return out


def _draw_fish(rng):
    from PIL import ImageDraw

    size = _S
    c = size / 2
    length = size * rng.uniform(0.3, 0.38)
    height = length * rng.uniform(0.38, 0.6)
    mask, draw = _new_mask(size)
    draw.ellipse([c - length, c - height, c + length * 0.8, c + height], fill=255)
    tail = length * rng.uniform(0.45, 0.65)
    draw.polygon([(c + length * 0.6, c), (c + length * 0.8 + tail, c - tail * 0.8),
                  (c + length * 0.8 + tail * 0.7, c), (c + length * 0.8 + tail, c + tail * 0.8)], fill=255)
    draw.polygon([(c - length * 0.2, c - height * 0.9), (c + length * 0.15, c - height * 1.55),
                  (c + length * 0.45, c - height * 0.7)], fill=255)  # dorsal fin
    colour = _colour(rng)
    out = _fill(rng, mask, colour, size)
    draw = ImageDraw.Draw(out)
    ex, ey, er = c - length * 0.6, c - height * 0.25, height * 0.16
    draw.ellipse([ex - er, ey - er, ex + er, ey + er], fill=(245, 245, 245, 255))
    draw.ellipse([ex - er * 0.5, ey - er * 0.5, ex + er * 0.5, ey + er * 0.5], fill=(15, 15, 15, 255))
    gill = _shade(colour, 0.5) + (255,)
    draw.arc([c - length * 0.5, c - height * 0.7, c - length * 0.1, c + height * 0.7], 300, 60, fill=gill, width=4)
    return out


def _draw_butterfly(rng):
    from PIL import Image, ImageDraw

    size = _S
    c = size / 2
    span = size * rng.uniform(0.2, 0.26)
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    colour, edge = _colour(rng), _colour(rng)
    for upper in (True, False):
        mask, draw = _new_mask(size)
        sy = -1 if upper else 1
        wl = span * (1.0 if upper else 0.7)
        for sx in (-1, 1):
            cx, cy = c + sx * wl * 0.95, c + sy * wl * 0.7
            draw.ellipse([cx - wl, cy - wl * 0.75, cx + wl, cy + wl * 0.75], fill=255)
        wing = _fill(rng, mask, colour, size)
        draw = ImageDraw.Draw(wing)
        for sx in (-1, 1):  # eye spots
            cx, cy, r = c + sx * wl * 1.2, c + sy * wl * 0.8, wl * 0.22
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=edge + (255,))
        wing.putalpha(mask)
        out = Image.alpha_composite(out, wing)
    draw = ImageDraw.Draw(out)
    body = _shade(_colour(rng), 0.35) + (255,)
    draw.ellipse([c - span * 0.12, c - span * 1.1, c + span * 0.12, c + span * 1.1], fill=body)
    for sx in (-1, 1):
        draw.line([(c, c - span), (c + sx * span * 0.5, c - span * 1.7)], fill=body, width=3)
    return out


_DRAW = {
    "butterfly": _draw_butterfly,
    "fish": _draw_fish,
    "flower": _draw_flower,
    "fruit": _draw_fruit,
    "leaf": _draw_leaf,
}


# --------------------------------------------------------------------------- reuse (the detection demo)

def draw_object(name: str, rng):
    """One object of demo class `name` (RGBA, drawn at 256 px, transparent around it), as `render` draws it.

    Example: `draw_object("fish", numpy.random.default_rng(0)).size == (256, 256)`.
    """
    return _DRAW[name](rng)


def draw_background(rng, width: int, height: int):
    """A cluttered RGBA background (colour field, grain, strokes and blobs), as `render` draws it."""
    return _background(rng, width, height)


def draw_foreground_clutter(rng, canvas) -> None:
    """A few strokes across `canvas` (RGBA, drawn in place), over the objects, as `render` draws them."""
    _foreground_clutter(rng, canvas)
