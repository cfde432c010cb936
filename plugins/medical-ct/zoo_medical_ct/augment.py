"""Training-time augmentation of HU slices (`DataBundle.augment`): never part of the saved model.

Random left-right flips and small shifts (up to `shift` of the slice size,
filled with air), applied to training batches only. The engine skips it for a
cached linear probe (features are computed once).

Example: `CTAugment(shift=0.08, seed=42)({"hu": batch}, training=True)`.
"""

from __future__ import annotations

import keras

from zoo_medical_ct.io import AIR_HU


class CTAugment(keras.layers.Layer):
    """`{"hu": (B, S, S, k)}` -> the same, flipped left-right at random and shifted by up to `shift`."""

    def __init__(self, shift: float = 0.08, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.shift = float(shift)
        self.seed = seed
        self.flip = keras.layers.RandomFlip("horizontal", seed=seed)
        self.move = keras.layers.RandomTranslation(self.shift, self.shift, fill_mode="constant",
                                                   fill_value=AIR_HU, seed=None if seed is None else seed + 1)

    def call(self, inputs, training=True):
        hu = inputs["hu"]
        if training:
            hu = self.move(self.flip(hu, training=True), training=True)
        return {**inputs, "hu": hu}

    def get_config(self):
        config = super().get_config()
        config.update({"shift": self.shift, "seed": self.seed})
        return config
