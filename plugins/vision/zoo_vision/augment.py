"""Training-batch augmentation with Keras preprocessing layers, run inside `tf.data`.

`ImageAugment` is the `DataBundle.augment` callable: the engine maps it over
training batches, `augment({"image": (B, S, S, 3) float32 0..255}, training=True)`.
It applies, as the plugin options ask:

- `flip` (`keras.layers.RandomFlip`), `rotation` (`RandomRotation`, fraction of
  a full turn), `zoom` (`RandomZoom`), `contrast` (`RandomContrast`) when
  `augment` is true;
- `randaugment: true`: `keras.layers.RandAugment` (2 random ops per image);
- `mixup: ALPHA` / `cutmix: ALPHA`: blend in (MixUp) or paste a box from
  (CutMix) another image of the batch. The engine trains multiclass models on
  integer labels, and the augment callable sees no labels, so these are the
  label-preserving variants: the mixing weight is drawn from Beta(alpha,
  alpha) and folded to >= 0.5, so the image keeps its own label and the other
  image covers less than half of it (weight or area). With both set, each
  batch gets one of the two at random.

Example:

```python
aug = ImageAugment(flip="horizontal", rotation=0.05, zoom=0.1, contrast=0.2, seed=1)
batch = aug({"image": images}, training=True)   # same shape, values in 0..255
```

With `--strategy linear-probe` and cached features (the default), the engine
does not augment: the backbone's features are computed once.
"""

from __future__ import annotations

from typing import Any


class ImageAugment:
    """Random image transforms for training batches; identity when `training=False`."""

    def __init__(self, flip: str = "horizontal", rotation: float = 0.05, zoom: float = 0.1, contrast: float = 0.2,
                 randaugment: bool = False, mixup: float = 0.0, cutmix: float = 0.0, seed: int = 42):
        import keras

        self.config = {"flip": flip, "rotation": rotation, "zoom": zoom, "contrast": contrast,
                       "randaugment": randaugment, "mixup": mixup, "cutmix": cutmix, "seed": seed}
        self.seed = int(seed)
        self.layers = []
        if flip and flip != "none":
            self.layers.append(keras.layers.RandomFlip(flip, seed=self.seed))
        if rotation > 0:
            self.layers.append(keras.layers.RandomRotation(rotation, fill_mode="reflect", seed=self.seed + 1))
        if zoom > 0:
            self.layers.append(keras.layers.RandomZoom((-zoom, zoom), fill_mode="reflect", seed=self.seed + 2))
        if contrast > 0:
            self.layers.append(keras.layers.RandomContrast(contrast, value_range=(0, 255), seed=self.seed + 3))
        if randaugment:
            self.layers.append(keras.layers.RandAugment(value_range=(0, 255), num_ops=2, factor=0.5,
                                                        seed=self.seed + 4))
        self.mixup = float(mixup)
        self.cutmix = float(cutmix)

    @classmethod
    def from_options(cls, opts, seed: int) -> "ImageAugment":
        basic = bool(opts.augment)
        return cls(
            flip=opts.flip if basic else "none",
            rotation=opts.rotation if basic else 0.0,
            zoom=opts.zoom if basic else 0.0,
            contrast=opts.contrast if basic else 0.0,
            randaugment=opts.randaugment,
            mixup=opts.mixup,
            cutmix=opts.cutmix,
            seed=seed,
        )

    def describe(self) -> dict[str, Any]:
        return dict(self.config, layers=[type(layer).__name__ for layer in self.layers])

    def __call__(self, inputs: dict, training: bool = True) -> dict:
        if not training:
            return inputs
        import tensorflow as tf

        x = tf.cast(inputs["image"], tf.float32)
        for layer in self.layers:
            x = layer(x, training=True)
        if self.mixup > 0 and self.cutmix > 0:
            pick = tf.random.uniform((), seed=self.seed + 5) < 0.5
            x = tf.cond(pick, lambda: mixup(x, self.mixup, self.seed + 6), lambda: cutmix(x, self.cutmix, self.seed + 7))
        elif self.mixup > 0:
            x = mixup(x, self.mixup, self.seed + 6)
        elif self.cutmix > 0:
            x = cutmix(x, self.cutmix, self.seed + 7)
        x = tf.clip_by_value(x, 0.0, 255.0)
        out = dict(inputs)
        out["image"] = x
        return out


def dominant_weight(n, alpha: float, seed: int):
    """`n` weights from Beta(alpha, alpha), folded to [0.5, 1]."""
    import tensorflow as tf

    a = tf.random.gamma((n,), alpha, seed=seed)
    b = tf.random.gamma((n,), alpha, seed=seed + 1000)
    lam = a / tf.maximum(a + b, 1e-12)
    return tf.maximum(lam, 1.0 - lam)


def mixup(x, alpha: float, seed: int):
    """Blend each image with another of the batch, keeping at least half of its own."""
    import tensorflow as tf

    n = tf.shape(x)[0]
    other = tf.gather(x, tf.random.shuffle(tf.range(n), seed=seed))
    lam = tf.reshape(dominant_weight(n, alpha, seed), (-1, 1, 1, 1))
    return lam * x + (1.0 - lam) * other


def cutmix(x, alpha: float, seed: int):
    """Paste a box from another image of the batch covering at most half of each image."""
    import tensorflow as tf

    shape = tf.shape(x)
    n, h, w = shape[0], shape[1], shape[2]
    other = tf.gather(x, tf.random.shuffle(tf.range(n), seed=seed))
    lam = dominant_weight(n, alpha, seed)
    ratio = tf.sqrt(1.0 - lam)  # box side fraction: area = 1 - lam <= 0.5
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    cut_h = tf.cast(tf.round(ratio * hf), tf.int32)
    cut_w = tf.cast(tf.round(ratio * wf), tf.int32)
    top = tf.cast(tf.random.uniform((n,), seed=seed + 1) * tf.cast(h - cut_h + 1, tf.float32), tf.int32)
    left = tf.cast(tf.random.uniform((n,), seed=seed + 2) * tf.cast(w - cut_w + 1, tf.float32), tf.int32)
    top = tf.minimum(top, h - cut_h)
    left = tf.minimum(left, w - cut_w)
    rows = tf.range(h)[None, :, None]
    cols = tf.range(w)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + cut_h)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + cut_w)[:, None, None]))
    mask = tf.cast(inside, x.dtype)[..., None]
    return x * (1.0 - mask) + other * mask
